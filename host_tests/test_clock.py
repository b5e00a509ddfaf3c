"""Time a central system can trust (issue 14), on MicroPython with the board's
RTC at the embedded ports' epoch at every start (tools/sim.py --clock unset):
what happened before the clock was known reaches the central system with its
real time when the clock becomes known in the same boot, and with the
documented provisional time (the last time kept on flash plus the uptime) when
a power cut came first; time never goes backwards."""
import datetime
import os
import time

import pytest

import schemas
from mprun import must_pass, RUNTIMES
from charger import Charger, free_port
from csms import CentralSystem

HERE = os.path.dirname(os.path.abspath(__file__))
CP = "cp-clock"
SETS = ["AllowOfflineTxForUnknownId=true", "MeterValueSampleInterval=1"]


def parse_iso(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def c1(st):
    return st["connectors"][0]


def calls(srv, action):
    return [m["payload"] for m in srv.messages(cp_id=CP, action=action, direction="in",
                                                message_type="CALL")]


def times(srv):
    """Every time the charger sent about its transactions, in the order sent:
    (action, seconds since 1970)."""
    out = []
    for m in srv.messages(cp_id=CP, direction="in", message_type="CALL"):
        p = m["payload"]
        if m["action"] in ("StartTransaction", "StopTransaction"):
            out.append((m["action"], parse_iso(p["timestamp"])))
        if m["action"] == "MeterValues" and "transactionId" in p:
            for mv in p["meterValue"]:
                out.append(("MeterValues", parse_iso(mv["timestamp"])))
    return out


def charger(tmp_path, port):
    ch = Charger("micropython", "ws://127.0.0.1:%d" % port, tmp_path / CP, CP, sets=SETS)
    ch.clock = "unset"
    return ch


def cut(ch):
    ch.ctl("power_cut")
    ch.proc.wait(10)
    ch.proc = None
    ch._out.close()


def online(ch):
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what="online")


def offline_session(ch, seconds):
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="OFFLINE1")
    ch.wait(lambda s: c1(s)["contactor"], timeout=20, what="charging offline")
    t0 = time.time()
    time.sleep(seconds)
    return t0


def test_offline_transaction_before_the_first_connection_gets_real_times(tmp_path):
    port = free_port()
    ch = charger(tmp_path, port).start()
    srv = None
    try:
        ch.wait(lambda s: c1(s)["status"] == "Available", timeout=30, what="started")
        t0 = offline_session(ch, 4)
        ch.ctl("rfid", tag="OFFLINE1")
        ch.wait(lambda s: c1(s)["transaction_id"] is None and s["queue"] >= 3, timeout=20,
                what="stopped offline")
        t1 = time.time()
        time.sleep(2)
        # The central system appears: BootNotification brings the time.
        srv = CentralSystem(port=port)
        srv.start()
        online(ch)
        ch.wait(lambda s: s["queue"] == 0, timeout=30, what="queue delivered")
        start = calls(srv, "StartTransaction")[0]
        assert abs(parse_iso(start["timestamp"]) - t0) <= 5, (start, t0)
        mvs = [t for a, t in times(srv) if a == "MeterValues"]
        assert len(mvs) >= 3, times(srv)
        for t in mvs:
            assert t0 - 5 <= t <= t1 + 5, (t, t0, t1)
        stop = calls(srv, "StopTransaction")[0]
        assert abs(parse_iso(stop["timestamp"]) - t1) <= 5, (stop, t1)
        seq = [t for _a, t in times(srv)]
        assert seq == sorted(seq), times(srv)
        with open(ch.logfile, "rb") as f:
            assert b"retimed" in f.read()
        schemas.check_all(srv.messages())
    finally:
        ch.stop()
        if srv is not None:
            srv.stop()


def test_power_cut_before_the_clock_is_known(tmp_path):
    port = free_port()
    srv = CentralSystem(port=port)
    srv.start()
    ch = charger(tmp_path, port).start()
    try:
        # Boot 0 learns the time and keeps it on flash with the register.
        online(ch)
        known = time.time()
        srv.stop()
        srv = None
        cut(ch)
        time.sleep(3)
        # Boot 1: RTC at 2000, no central system; a transaction, then another cut.
        ch.start()
        ch.wait(lambda s: c1(s)["status"] == "Available", timeout=30, what="started")
        t0 = offline_session(ch, 3)
        cut(ch)
        time.sleep(1)
        # Boot 2: the central system is back; the transaction of boot 1 ends.
        srv = CentralSystem(port=port)
        srv.start()
        ch.start()
        online(ch)
        ch.wait(lambda s: s["queue"] == 0 and c1(s)["transaction_id"] is None, timeout=30,
                what="queue delivered")
        now = time.time()
        start = parse_iso(calls(srv, "StartTransaction")[0]["timestamp"])
        stop = calls(srv, "StopTransaction")[0]
        # Boot 1's times cannot be known: the last time kept plus boot 1's uptime,
        # behind the real one by the time the power was off (3 s here), never before it.
        assert known - 2 <= start <= t0 + 1, (start, known, t0)
        assert start < t0 - 1, (start, t0)
        assert stop["reason"] == "PowerLoss"
        assert abs(parse_iso(stop["timestamp"]) - now) <= 10, (stop, now)
        seq = [t for _a, t in times(srv)]
        assert seq == sorted(seq) and len(seq) >= 3, times(srv)
        schemas.check_all(srv.messages())
    finally:
        ch.stop()
        if srv is not None:
            srv.stop()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_what_waits_for_the_clock(runtime, tmp_path):
    must_pass(runtime, os.path.join(HERE, "mp", "clock_check.py"), str(tmp_path), [
        "rtc_at_epoch_is_not_known", "reservation_waits_for_the_clock",
        "absolute_periods_wait_lowest", "relative_periods_go_on", "malformed_not_applied",
        "far_behind_floor_not_applied", "retime_this_boot", "earlier_boot_stays",
        "reservation_expires_on_the_known_clock", "jump_forward_applied",
        "far_behind_known_not_applied"], 16)
