# The clock before and after it is known (lib/compat.py, issue 14), and what
# waits for it: reservation expiry, charging-profile periods at absolute
# times, a central system's currentTime that is malformed or far behind. Run
# under MicroPython and CPython by test_clock.py. argv[1]: an empty directory.
import sys
import log
import compat
from compat import parse_iso, iso, wall, wall_known, set_wall, set_floor, retime, EPOCH_2020
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp.outbox import Outbox
from firmware.ocpp.reservation import Reservations, NAME
from firmware.ocpp.smart import Smart
from rpcfake import expect, results

ROOT = sys.argv[1]
lines = []
log.add_sink(lambda lvl, line: lines.append(line))
E = parse_iso("2026-03-01T12:00:00Z")       # a reservation's expiry

# A board that lost its power: the RTC at the embedded ports' epoch.
compat.set_rtc(946684800)
w = wall()
expect("rtc_at_epoch_is_not_known", not wall_known() and 946684800 <= w <= 946684800 + 5, w)
# The last time kept on flash is after the expiry: the provisional clock starts
# there, so it is past the expiry too, but nothing expires on it.
set_floor(E + 1000)
w = wall()
expect("provisional_after_the_floor", E + 1001 <= w <= E + 1006, w - E)
st = Store(ROOT + "/r")
st.save(NAME, [[7, 1, E - EPOCH_2020, "RTAG", None]])
gone = []
rs = Reservations(st, [None] * 2, None, gone.append)
rs.expire()
expect("reservation_waits_for_the_clock", len(rs) == 1 and not gone, len(rs))

# Charging profiles: an Absolute schedule from 12:00, 16 A then 6 A from 13:00.
sc = Smart(Config(Store(ROOT + "/s"), None), Store(ROOT + "/s"), 1, 230, 3)
prof = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "startSchedule": iso(E), "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 16}, {"startPeriod": 3600, "limit": 6}]}}
rel = {"chargingProfileId": 2, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
       "chargingProfileKind": "Relative", "chargingSchedule": {
           "chargingRateUnit": "A", "chargingSchedulePeriod": [
               {"startPeriod": 0, "limit": 10}, {"startPeriod": 60, "limit": 20}]}}
expect("profile_installed", sc.set(0, prof, None) == "Accepted")
sc.clock_known = False
expect("absolute_periods_wait_lowest", sc.limit(1, E + 10, None)[0] == 6, sc.limit(1, E + 10, None))
sc.clock_known = True
expect("absolute_periods_on_the_clock", sc.limit(1, E + 10, None)[0] == 16, sc.limit(1, E + 10, None))
expect("relative_installed", sc.set(0, rel, None) == "Accepted")
sc.clock_known = False
expect("relative_periods_go_on", sc.limit(1, E + 10, E - 30)[0] == 10
       and sc.limit(1, E + 40, E - 30)[0] == 20, sc.limit(1, E + 40, E - 30))

# The central system's time. Malformed: logged, not applied.
class Fake:
    on_time = None
    security = None


out = Fake()
Outbox.clock(out, {"currentTime": "yesterday"})
expect("malformed_not_applied", not wall_known()
       and any("not understood" in l for l in lines), lines[-1:])
# Far behind the time kept on flash: logged, not applied.
Outbox.clock(out, {"currentTime": iso(E)})
expect("far_behind_floor_not_applied", not wall_known()
       and any("behind the clock" in l for l in lines), lines[-1:])
p = wall()
Outbox.clock(out, {"currentTime": iso(E + 5000)})
expect("applied", wall_known() and E + 5000 <= wall() <= E + 5002, wall() - E)
# What was stamped before, in this boot, becomes the real time of that instant;
# a time of an earlier boot stays.
expect("retime_this_boot", abs(retime(p) - (E + 5000)) <= 1, (retime(p), E + 5000))
expect("earlier_boot_stays", retime(E + 900) == E + 900)
rs.expire()
expect("reservation_expires_on_the_known_clock", len(rs) == 0 and gone == [1], gone)
# A jump forward (a corrected central-system clock) is applied, later times follow.
Outbox.clock(out, {"currentTime": iso(E + 90000)})
expect("jump_forward_applied", E + 90000 <= wall() <= E + 90002, wall() - E)
Outbox.clock(out, {"currentTime": iso(E + 89000)})
expect("far_behind_known_not_applied", wall() >= E + 90000, wall() - E)
Outbox.clock(out, {"currentTime": iso(E + 89990)})
expect("a_few_seconds_back_applied", E + 89990 <= wall() <= E + 89992, wall() - E)
print("DONE %d" % len(results))
