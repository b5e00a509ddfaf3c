# MQTT inside one process (firmware/mqtt/, firmware/locallimit.py), run by
# test_mqtt_unit.py under MicroPython and CPython. argv[1]: an empty directory.
# The command topics' checks, the stale-limit arithmetic, the link's packet
# framing over umqtt.simple (split, joined and oversized packets), a limit
# reaching the pilot within one control step of the real tasks, and the
# composite schedule with local limits. Prints PASS/FAIL lines, "SCHED <json>"
# for each composite schedule (schema-checked by the test), then DONE.
import sys
import json
import asyncio
import log
import board as simboard
from compat import ticks_ms, wall, sleep_ms
from firmware.main import App
from firmware.locallimit import LocalLimits
from firmware.mqtt.control import Control
from firmware.mqtt import link as mlink
from firmware.mqtt.telemetry import Telemetry
from firmware.mqtt.discovery import Device, node_id
from firmware.evse import pilot
from rpcfake import expect, done

ROOT = sys.argv[1]
log.level = log.ERROR + 1
_n = [0]


class Cfg:
    def __init__(self, **kw):
        self.v = {"mqtt_limit_timeout_s": 0, "mqtt_fallback_a": 6}
        self.v.update(kw)

    def get(self, k):
        return self.v[k]


def control(cfg=None, switch=False):
    lim = LocalLimits()
    woke = []
    lim.on_change = lambda: woke.append(1)
    c = Control(cfg or Cfg(), lim, 3, switch)
    lim.add(c)
    del woke[:]
    return c, lim, woke


def commands():
    c, lim, woke = control()
    now = ticks_ms()
    expect("no_limit_at_start", c.amps(1, now) == (None, None) and lim.amps(1, now)[0] is None)
    expect("limit_whole", c.command("current_a", b"10", False) and c.amps(1, now)[0] == 10
           and len(woke) == 1, (c.amps(1, now), woke))
    c.command("current_a", b"10", False)
    expect("same_limit_wakes_nothing", len(woke) == 1, woke)
    c.command("current_a", b" 6.57 ", False)
    expect("tenths_rounded_down", c.amps(1, now)[0] == 6.5 and len(woke) == 2, c.amps(1, now))
    for bad in (b"abc", b"-1", b"81", b"1e3", b"nan", b"inf", b"", b".5", b"5.", b"0x10",
                b"1" * 17, b"\xff", b"10 A", "١٠".encode()):
        expect("refused_%r" % bad, not c.command("current_a", bad, False)
               and c.amps(1, now)[0] == 6.5, (bad, c.amps(1, now)))
    expect("retained_refused", not c.command("current_a", b"16", True) and c.limit_a == 6.5)
    expect("unknown_refused", not c.command("volts", b"230", False))
    expect("limit_80_ok", c.command("current_a", b"80", False) and c.limit_a == 80)
    expect("limit_0_is_a_limit", c.command("current_a", b"0", False) and lim.amps(1, now)[0] == 0)
    expect("none_removes", c.command("current_a", b"none", False) and c.limit_a is None)
    # pause: 0 A whatever the limit, and the limit back afterwards
    c.command("current_a", b"12", False)
    expect("pause_true", c.command("pause", b"true", False) and lim.amps(1, ticks_ms())[0] == 0)
    expect("pause_bad", not c.command("pause", b"TRUE", False) and c.paused)
    expect("pause_false", c.command("pause", b"false", False) and lim.amps(1, ticks_ms())[0] == 12)
    # phases: only with a phase contactor, and only 1 or the wired count
    expect("phases_without_switch", not c.command("phases", b"1", False) and c.phases(1) is None)
    s, _l, _w = control(switch=True)
    expect("phases_1", s.command("phases", b"1", False) and s.phases(1) == 1)
    expect("phases_2_refused", not s.command("phases", b"2", False) and s.phases(1) == 1)
    expect("phases_3_is_wired", s.command("phases", b"3", False) and s.phases(1) is None)
    expect("refusals_counted", c.refused >= 17, c.refused)


def stale():
    cfg = Cfg(mqtt_limit_timeout_s=60, mqtt_fallback_a=7)
    c, lim, _w = control(cfg)
    c.command("current_a", b"12", False)
    t = c.limit_t
    a, dt = c.amps(1, t + 1000)
    expect("fresh_limit_says_when_it_expires", a == 12 and dt == 59000, (a, dt))
    expect("stale_falls_back", c.amps(1, t + 60000) == (7, None), c.amps(1, t + 60000))
    a, name, dt = lim.amps(1, t + 30000)
    expect("limits_name_and_wake", (a, name, dt) == (12, "mqtt", 30000), (a, name, dt))
    cfg.v["mqtt_limit_timeout_s"] = 0
    expect("no_timeout_holds", c.amps(1, t + 10 ** 7) == (12, None))


# ---- the link's framing, over umqtt.simple, without a socket
def link():
    got = []
    lk = mlink.Link(lambda t, p, r: got.append((t, p, r)), lambda: None)
    cl = mlink._simple.MQTTClient(b"x", "h")
    cl.sock = lk.pipe
    cl.set_callback(lk._deliver)
    lk._cl = cl
    p = lk.pipe

    def feed(b):
        p.rx[p.end:p.end + len(b)] = b
        p.end += len(b)
        lk._packets()

    def publish(topic, payload, retain=False):
        n = 2 + len(topic) + len(payload)
        head = bytes([0x31 if retain else 0x30])
        while True:
            d = n & 0x7F
            n >>= 7
            head += bytes([d | (0x80 if n else 0)])
            if not n:
                break
        return head + bytes([len(topic) >> 8, len(topic) & 255]) + topic + payload

    one = publish(b"e/set/current_a", b"10")
    feed(one[:3])
    expect("half_a_packet_waits", got == [] and p.end == 3, (got, p.end))
    feed(one[3:])
    expect("whole_packet_delivered", got == [(b"e/set/current_a", b"10", False)], got)
    del got[:]
    feed(publish(b"a", b"1") + publish(b"b", b"2", True) + b"\x20\x02\x00\x00")
    expect("two_packets_and_connack", got == [(b"a", b"1", False), (b"b", b"2", True)]
           and lk._acked == 0 and p.end == 0, (got, lk._acked, p.end))
    del got[:]
    big = publish(b"e/set/current_a", b"7" * 5000)
    i = 0
    while i < len(big):
        k = min(mlink.RX - p.end, len(big) - i, 200)
        feed(big[i:i + k])
        i += k
    feed(publish(b"after", b"ok"))
    expect("oversized_skipped_then_next", got == [(b"after", b"ok", False)]
           and lk.dropped == 1, (got, lk.dropped))
    feed(b"\xd0\x00")
    expect("pingresp_taken", p.end == 0, p.end)
    try:
        feed(b"\x30\xff\xff\xff\xff\x01")
        ok = False
    except ValueError:
        ok = True
    expect("malformed_length_drops_the_link", ok)
    # What umqtt.simple writes lands in the send buffer, whole.
    p.reset()
    cl.publish(b"t/x", b"hello", True)
    expect("publish_written", bytes(p.tx[:p.n]) == b"\x31\x0a\x00\x03t/xhello", bytes(p.tx[:p.n]))
    try:
        p.read(1)
        ok = False
    except mlink._Short:
        ok = True
    expect("read_without_data_is_short", ok)


# ---- a limit from MQTT reaches the pilot within one control step
def pilot_step():
    _n[0] += 1
    b = simboard.Board({"data_dir": "%s/app%d" % (ROOT, _n[0]), "connectors": 1,
                        "ev_request": "C", "rcd_test": False})
    app = App(b, {"free_vend": True}, link_up=False)
    c = Control(app.cfg, app.local, 3, False)
    app.local.add(c)
    ctl = app.ctls[0]
    steps = [0]
    orig = ctl.step

    def counted(now=None):
        steps[0] += 1
        orig(now)
    ctl.step = counted

    async def main():
        tasks = [asyncio.create_task(ctl.run()), asyncio.create_task(app.cp.limiter.run()),
                 asyncio.create_task(app.cp.run())]
        b.plug(1)
        t0 = ticks_ms()
        while not ctl.contactor_closed and ticks_ms() - t0 < 5000:
            await sleep_ms(10)
        charging = ctl.contactor_closed and ctl.offered_a == 16
        await sleep_ms(100)
        lim = app.cp.limiter
        applied = []
        orig_apply = lim.apply

        def apply(now_ms=None):
            applied.append(steps[0])
            return orig_apply(now_ms)
        lim.apply = apply
        c.command("current_a", b"10", False)
        s0 = steps[0]
        while ctl.offered_a != 10 and steps[0] - s0 < 10:
            await sleep_ms(5)
        # Counted from when the limiter took the new limit (a step already
        # due when the message came may run first).
        n = steps[0] - applied[0] if applied else None
        for t in tasks:
            t.cancel()
        return charging, n, b.port(1).duty_pm
    charging, n, duty = asyncio.run(main())
    expect("charging_first", charging)
    expect("limit_on_the_pilot_in_one_step", n == 1 and duty == pilot.duty_pm(10), (n, duty))


# ---- GetCompositeSchedule with local limits
def composite():
    _n[0] += 1
    b = simboard.Board({"data_dir": "%s/comp%d" % (ROOT, _n[0]), "connectors": 1,
                        "phase_switch": True})
    app = App(b, {"mqtt_limit_timeout_s": 120, "mqtt_fallback_a": 6}, link_up=False)
    c = Control(app.cfg, app.local, 3, True)
    app.local.add(c)
    sc = app.cp.smart
    now = wall()

    def sched(dur, unit):
        s = sc.composite(1, dur, unit, now, None)
        if s is not None:
            print("SCHED %s" % json.dumps(s))
        return s and [(p["startPeriod"], p["limit"], p.get("numberPhases"))
                      for p in s["chargingSchedulePeriod"]]
    expect("nothing_local_no_schedule", sc.composite(1, 600, "A", now, None) is None)
    c.command("current_a", b"10", False)
    got = sched(600, "A")
    expect("local_limit_then_fallback", got is not None and len(got) == 2 and got[0] == (0, 10, None)
           and 119 <= got[1][0] <= 121 and got[1][1:] == (6, None), got)
    c.command("pause", b"true", False)
    got = sched(600, "A")
    expect("paused_is_zero", got == [(0, 0, None)], got)
    c.command("pause", b"false", False)
    c.command("phases", b"1", False)
    got = sched(60, "W")
    # 10 A on the one phase asked for: 2300 W.
    expect("phases_in_the_schedule", got == [(0, 2300, 1)], got)
    c.command("current_a", b"none", False)
    got = sched(60, "A")
    expect("max_on_one_phase", got == [(0, 16, 1)], got)


def telemetry():
    c, _lim, _w = control()
    conn = {"id": 1, "status": "Charging", "error": "NoError", "cp": "C", "offered_a": 16,
            "contactor": True, "transaction_id": 7, "fault": None, "phases": 3,
            "power_w": 11040.6, "energy_wh": 1234.9, "session_wh": 100.2}
    st = {"online": True, "boot": "Accepted", "connectors": [conn]}
    tm = Telemetry(lambda: st, c, "0.1.0", 3)

    def sent(items):
        items = list(items)
        for k, v in items:
            tm.sent_ok(k, v)
        return dict(items)
    t = 100000
    first = sent(tm.items(t))
    expect("all_at_first", first.get("1/power_w") == b"11040" and first.get("1/energy_wh") == b"1234"
           and first.get("1/transaction_id") == b"7" and first.get("1/fault") == b"none"
           and first.get("current_a") == b"none" and "heap_free" in first
           and json.loads(first["status"])["connectors"][0]["energy_wh"] == 1234, first)
    expect("nothing_unchanged", sent(tm.items(t + 1000)) == {}, tm.items(t + 1000))
    conn["offered_a"] = 10.5
    expect("a_change_alone", sorted(sent(tm.items(t + 2000))) == ["1/offered_a", "status"])
    again = sent(tm.items(t + 31000))
    expect("all_again_within_30_s_while_charging", len(again) == len(first), sorted(again))
    conn["contactor"] = False
    sent(tm.items(t + 32000))
    idle = sent(tm.items(t + 70000))
    expect("not_again_when_idle", sorted(idle) == ["heap_free"], sorted(idle))


commands()
stale()
telemetry()
link()
pilot_step()
composite()
done()
