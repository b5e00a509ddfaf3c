# The heap that smart charging holds and churns, measured under MicroPython by
# test_smart.py (and runnable under CPython, which only checks the results).
# argv[1]: an empty directory. Prints "MEM name bytes" lines, PASS/FAIL lines
# and DONE.
import sys
import gc
import json
import log
from compat import parse_iso, MICROPYTHON
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp.smart import Smart

ROOT = sys.argv[1]
log.level = log.ERROR
T0 = parse_iso("2030-01-07T00:00:00Z")
results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def alloc():
    return gc.mem_alloc() if MICROPYTHON else 0


def message(pid, stack):
    # The worst case the keys allow: 24 periods, every field filled in, as the
    # RPC layer hands it over (parsed from the frame text).
    ps = ",".join('{"startPeriod": %d, "limit": %d.5, "numberPhases": 3}' % (i * 3600, 6 + i % 10)
                  for i in range(24))
    return ('{"chargingProfileId": %d, "stackLevel": %d, "chargingProfilePurpose": "TxDefaultProfile", '
            '"chargingProfileKind": "Recurring", "recurrencyKind": "Daily", '
            '"validFrom": "2029-01-01T00:00:00Z", "validTo": "2031-01-01T00:00:00Z", '
            '"chargingSchedule": {"duration": 86400, "startSchedule": "2030-01-01T00:00:00Z", '
            '"chargingRateUnit": "A", "minChargingRate": 6.0, "chargingSchedulePeriod": [%s]}}'
            % (pid, stack, ps))


st = Store(ROOT)
cfg = Config(st)
gc.collect()
a0 = alloc()
sc = Smart(cfg, st, 1)
for i in range(8):
    text = message(i + 1, i)
    expect("install_%d" % i, sc.set(1, json.loads(text), None) == "Accepted")
    text = None
# What stays: the same profiles loaded back from flash by a new Smart (this
# also leaves no parsed message behind to blur the count).
sc = None
gc.collect()
a0 = alloc()
sc = Smart(cfg, st, 1)
gc.collect()
held = alloc() - a0
print("MEM held_8x24 %d" % held)
expect("all_loaded", len(sc.entries) == 8, len(sc.entries))

# One limit() and one composite: garbage only, none of it kept. Counted with the
# collector off so that every byte allocated shows.
gc.collect()
gc.disable()
a1 = alloc()
r = sc.limit(1, T0 + 5 * 3600, None)
lim_alloc = alloc() - a1
gc.enable()
print("MEM limit_call %d" % lim_alloc)
expect("limit_value", r == (11.5, 3600), r)

gc.collect()
gc.disable()
a1 = alloc()
s1 = sc.composite(1, 86400, "A", T0, None)
day_alloc = alloc() - a1
gc.enable()
gc.collect()
gc.disable()
a1 = alloc()
s30 = sc.composite(1, 30 * 86400, "W", T0, None)
month_alloc = alloc() - a1
gc.enable()
print("MEM composite_day %d" % day_alloc)
print("MEM composite_30_days %d" % month_alloc)
expect("composite_day_periods", len(s1["chargingSchedulePeriod"]) == 24 and s1["duration"] == 86400, s1)
expect("composite_month_capped", len(s30["chargingSchedulePeriod"]) == 24
       and s30["duration"] == 86400, (len(s30["chargingSchedulePeriod"]), s30["duration"]))
s1 = s30 = None
gc.collect()
expect("nothing_kept", alloc() - a0 <= held + 64, (alloc() - a0, held))
print("DONE %d" % len(results))
