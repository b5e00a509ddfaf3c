"""Crash-consistency run: a simulated charger charges while its power is cut at
random moments, and is restarted on the same data directory each time. At the
end the central system's record must show every transaction with one stop
(sent again unchanged only when a cut came between its answer and the record
of that answer on flash, at most once per cut), meter readings that never go back, and billed energy equal to
the simulated energy within the documented bound (firmware/register.py: at most
REGISTER_WH lost per cut during a transaction, plus one meter pulse).

Used by host_tests/test_crash.py (50 cuts) and tools/soak.py (make soak, 1000)."""
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

from charger import Charger  # noqa: E402

REGISTER_WH = 100   # firmware/register.py
CP = "cp-crash"


def _c1(st):
    return st["connectors"][0]


def run(cuts, workdir, runtime="micropython", seed=None, log=print, resume=False, life_s=1.2,
        charge_first=False, sets=()):
    """resume: the charger has resume_after_power_loss on, and an EV plugged in
    at a cut is still plugged in when the power comes back. life_s: the longest
    time between plugging in and the cut; charge_first: the cut comes after
    charging has begun (a chip under load needs longer to get there)."""
    from csms import CentralSystem
    rng = random.Random(seed)
    srv = CentralSystem(port=0)
    srv.heartbeat_interval = 300
    srv.start()
    ch = Charger(runtime, srv.url, os.path.join(workdir, CP), CP,
                 sets=(["resume_after_power_loss=true"] if resume else []) + list(sets))
    sim_wh = 0.0          # energy the simulated EV received, summed over the lives
    lives = 0
    try:
        ch.start()
        ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what="online")
        srv.call(CP, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
        for i in range(cuts):
            ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what="online")
            # Alternate the moments: idle, starting, charging, stopping, unplugging.
            ch.ctl("plug", connector=1)
            ch.ctl("ev", connector=1, state="C")
            tag = "T%d" % rng.randrange(3)
            if rng.random() < 0.9:
                ch.ctl("rfid", tag=tag)
                if charge_first:
                    # A slow charger (an emulated chip under load) gets to charging
                    # first, so that energy flows in each life.
                    try:
                        ch.wait(lambda s: _c1(s)["contactor"], timeout=30, what="charging")
                    except AssertionError:
                        pass
            end = time.time() + rng.uniform(0.0, life_s)
            stopped = False
            while time.time() < end:
                ch.status()
                if not stopped and rng.random() < 0.08:
                    ch.ctl("rfid", tag=tag)
                    stopped = True
                time.sleep(0.02)
            plugged = True
            if rng.random() < 0.15:
                ch.ctl("unplug", connector=1)
                plugged = False
            last = ch.status()
            ch.ev = "C" if resume and plugged else None
            sim_wh += _c1(last)["sim"]["meter_wh"]
            ch.ctl("power_cut")
            ch.proc.wait(10)
            ch.proc = None
            ch._out.close()
            lives += 1
            ch.start()
        # Let the last life finish its transaction and deliver everything.
        ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what="online")
        # Unplug whatever the status says now: a transaction resumed after the
        # cut starts only once the pilot is read again, after "online".
        ch.ctl("unplug", connector=1)
        ch.wait(lambda s: s["queue"] == 0 and _c1(s)["transaction_id"] is None, timeout=60,
                what="queue delivered")
        sim_wh += _c1(ch.status())["sim"]["meter_wh"]
        report = check(srv.messages(cp_id=CP), sim_wh, lives, resume,
                       exact=any(s.startswith("meter_type=sdm") for s in sets))
        with open(ch.logfile, "rb") as f:
            report["resumed"] = f.read().count(b"resumed after the power cut")
        return report
    finally:
        ch.stop()
        srv.stop()


def check(msgs, sim_wh, cuts, resume=False, exact=False):
    """Returns a report dict; raises AssertionError on any violation. With
    resume, a transaction may live through several cuts, each costing up to the
    register's step: the bound counts every cut then. exact: a Modbus meter
    gives the energy, so nothing is lost to a cut but whole-Wh rounding and
    what flowed between the last status and the cut."""
    calls = [m for m in msgs if m["direction"] == "in" and m["message_type"] == "CALL"]
    answers = {m["unique_id"]: m for m in msgs
               if m["direction"] == "out" and m["message_type"] == "CALLRESULT"}
    starts = [m for m in calls if m["action"] == "StartTransaction"]
    stops = [m for m in calls if m["action"] == "StopTransaction"]
    # A Start sent again after a cut (its answer never reached flash) has the
    # same payload; the central system gave it a second id, and only the id the
    # charger kept gets a Stop.
    stops_by_id = {}
    for m in stops:
        stops_by_id.setdefault(m["payload"]["transactionId"], []).append(m["payload"])
    ids = {}
    for m in starts:
        ans = answers.get(m["unique_id"])
        if ans is not None:
            ids[m["seq"]] = ans["payload"]["transactionId"]
    known = set(ids.values())
    for tid in stops_by_id:
        assert tid in known, "StopTransaction for unknown transaction %r" % tid
    groups = {}
    resent = 0
    stops_resent = 0
    for i, m in enumerate(starts):
        p = m["payload"]
        key = (p["connectorId"], p["idTag"], p["meterStart"], p["timestamp"])
        got = stops_by_id.get(ids.get(m["seq"]), ())
        n = len(got)
        # A Stop whose answer came in but whose acknowledgement had not reached
        # the flash when the power went is sent again, unchanged: the charger
        # cannot tell after the restart (on a chip that window is a flash write,
        # tens of milliseconds with an erase). Anything else is a duplicate.
        for other in got[1:]:
            assert other == got[0], "transaction %r has two different StopTransaction: %r" % (
                key, got)
        stops_resent += max(0, n - 1)
        if n == 0:
            later = [x for x in starts[i + 1:] if (x["payload"]["connectorId"], x["payload"]["idTag"],
                     x["payload"]["meterStart"], x["payload"]["timestamp"]) == key]
            assert later, "transaction %r (id %r) has no StopTransaction" % (key, ids.get(m["seq"]))
            resent += 1
            continue
        groups[m["seq"]] = (p, stops_by_id[ids[m["seq"]]][0])
    assert resent + stops_resent <= cuts, "a message was repeated without a power cut"
    # Meter readings never go back, across transactions in the order started.
    billed = 0
    prev = 0
    lost_tx = 0
    for seq in sorted(groups):
        start, stop = groups[seq]
        assert start["meterStart"] >= prev, "meterStart %d < previous meterStop %d" % (
            start["meterStart"], prev)
        assert stop["meterStop"] >= start["meterStart"], (start, stop)
        prev = stop["meterStop"]
        billed += stop["meterStop"] - start["meterStart"]
        if stop["reason"] in ("PowerLoss", "Reboot"):
            lost_tx += 1
    # Periodic readings sit between their transaction's start and stop.
    span = {}
    for seq in groups:
        start, stop = groups[seq]
        span[ids[seq]] = (start["meterStart"], stop["meterStop"])
    readings = 0
    for m in calls:
        if m["action"] != "MeterValues" or "transactionId" not in m["payload"]:
            continue
        lo, hi = span.get(m["payload"]["transactionId"], (None, None))
        assert lo is not None, "MeterValues for unknown transaction %r" % m["payload"]
        for mv in m["payload"]["meterValue"]:
            for sv in mv["sampledValue"]:
                if sv.get("measurand", "Energy.Active.Import.Register") == \
                        "Energy.Active.Import.Register":
                    v = float(sv["value"])
                    assert lo <= v <= hi, "reading %s outside %d..%d" % (v, lo, hi)
                    readings += 1
    bound = (cuts if resume else lost_tx) * (REGISTER_WH + 1) + 1
    if exact:
        bound = len(groups) + cuts + 1
    assert billed <= sim_wh + 1, "billed %d Wh > simulated %.1f Wh" % (billed, sim_wh)
    assert sim_wh - billed <= bound, "billed %d Wh, simulated %.1f Wh, bound %d" % (
        billed, sim_wh, bound)
    return {"cuts": cuts, "transactions": len(groups), "starts_resent": resent,
            "stops_resent": stops_resent,
            "power_loss_stops": lost_tx, "meter_readings": readings, "billed_wh": billed, "simulated_wh": round(sim_wh, 1)}


def run_exact(cuts, workdir, runtime="micropython", seed=None, sets=("meter_type=sdm630",)):
    """Power cuts while charging with a Modbus EV meter: each transaction is
    cut while energy flows, and its PowerLoss StopTransaction must carry the
    simulated meter's register at the cut (kept beside the flash, as a real
    meter keeps it), to the Wh. Returns (pairs of (meterStop, register Wh),
    the check() report)."""
    from csms import CentralSystem
    rng = random.Random(seed)
    srv = CentralSystem(port=0)
    srv.heartbeat_interval = 300
    srv.start()
    data = os.path.join(workdir, CP)
    ch = Charger(runtime, srv.url, data, CP, sets=list(sets))
    sim_wh = 0.0
    at_cut = []
    try:
        ch.start()
        for i in range(cuts):
            # The transaction the cut ended stops at the meter's first reading.
            ch.wait(lambda s: s["online"] and s["boot"] == "Accepted"
                    and _c1(s)["transaction_id"] is None, timeout=30, what="online")
            ch.ctl("plug", connector=1)
            ch.ctl("ev", connector=1, state="C")
            ch.ctl("rfid", tag="T%d" % i)
            ch.wait(lambda s: _c1(s)["contactor"] and _c1(s)["transaction_id"] is not None,
                    timeout=30, what="charging")
            time.sleep(rng.uniform(1.0, 3.0))
            sim_wh += _c1(ch.status())["sim"]["meter_wh"]
            ch.ctl("power_cut")
            ch.proc.wait(10)
            ch.proc = None
            ch._out.close()
            with open(os.path.join(data, "sim_meters.json")) as f:
                at_cut.append(json.load(f)[0] * 1000)
            ch.start()
        ch.wait(lambda s: s["online"] and s["queue"] == 0 and _c1(s)["transaction_id"] is None,
                timeout=60, what="queue delivered")
        msgs = srv.messages(cp_id=CP)
        stops = [m["payload"] for m in msgs if m["direction"] == "in"
                 and m["message_type"] == "CALL" and m["action"] == "StopTransaction"]
        seen = []
        for p in stops:
            if p not in seen:
                seen.append(p)
        pairs = list(zip([p["meterStop"] for p in seen], at_cut))
        return pairs, check(msgs, sim_wh, cuts, exact=True)
    finally:
        ch.stop()
        srv.stop()
