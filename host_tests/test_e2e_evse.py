"""End to end through the control channel, on both runtimes: the EVSE controller
charges a free-vend EV, measures the energy from S0 pulses, opens the contactor
when the EV leaves C, and reports a residual-current trip to the central system."""
import time

CP = "cp-test"


def c1(st):
    return st["connectors"][0]


def test_free_vend_charge_energy_rate_and_safety(csms, make_charger):
    ch = make_charger(csms.url, sets=["free_vend=true"]).start()
    st = ch.wait(lambda s: s["online"] and s["boot"] == "Accepted" and c1(s)["cp"] == "A",
                 what="online, pilot in A")
    assert c1(st)["cp"] == "A" and c1(st)["contactor"] is False and c1(st)["offered_a"] == 0
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    st = ch.wait(lambda s: c1(s)["contactor"], what="contactor closed")
    assert c1(st)["cp"] == "C" and c1(st)["offered_a"] == 16
    start = csms.wait_message(cp_id=CP, action="StartTransaction")["payload"]
    assert start["idTag"] == "FreeVend"
    # 16 A x 230 V x 3 phases: 11.04 kW, 1000 pulses per kWh.
    e0, t0 = c1(st)["energy_wh"], time.time()
    time.sleep(3)
    st = ch.status()
    e1, t1 = c1(st)["energy_wh"], time.time()
    rate_w = (e1 - e0) * 3600 / (t1 - t0)
    assert 9500 < rate_w < 12500, rate_w
    assert abs(c1(st)["power_w"] - 11040) < 1500, c1(st)["power_w"]
    # The EV stops asking (C -> B): the contactor opens at once.
    ch.ctl("ev", connector=1, state="B")
    st = ch.wait(lambda s: not c1(s)["contactor"], timeout=2, what="contactor open after C->B")
    stats = ch.ctl("stats")
    # The bound itself (at most 5 controller steps, 100 ms) is checked step by
    # step in test_evse_sim_e2e.py and reported by the benchmark. Measured on
    # the wall clock of a shared test machine it also carries the machine's
    # scheduling delay (a bare asyncio loop was seen up to 83 ms late): here
    # only a gross failure counts.
    assert stats["reactions_ms"][0] and max(stats["reactions_ms"][0]) < 250, stats
    # Ready again, then a residual current: open and reported as GroundFailure.
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: c1(s)["contactor"], what="closed again")
    ch.ctl("fault", connector=1, kind="rcd", on=True)
    st = ch.wait(lambda s: not c1(s)["contactor"], timeout=2, what="open on rcd")
    assert c1(st)["fault"] == "GroundFailure"
    sn = csms.wait_for(lambda m: [r for r in m if r["action"] == "StatusNotification"
                                  and r["direction"] == "in"
                                  and r["payload"].get("errorCode") == "GroundFailure"])
    assert sn[0]["payload"]["status"] == "Faulted" and sn[0]["payload"]["connectorId"] == 1
    # Latched while plugged, even when the monitor clears.
    ch.ctl("fault", connector=1, kind="rcd", on=False)
    time.sleep(0.5)
    st = ch.status()
    assert c1(st)["fault"] == "GroundFailure" and not c1(st)["contactor"]
    ch.ctl("unplug", connector=1)
    ch.wait(lambda s: c1(s)["fault"] is None and c1(s)["status"] == "Available", what="cleared")
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    assert stop["reason"] == "EVDisconnected"
    assert stop["meterStop"] - start["meterStart"] >= int(e1 - e0)


def test_pilot_faults_are_reported(csms, make_charger):
    ch = make_charger(csms.url, sets=["free_vend=true"]).start()
    ch.wait(lambda s: s["online"], what="online")
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: c1(s)["contactor"], what="charging")
    ch.ctl("fault", connector=1, kind="diode", on=True)
    st = ch.wait(lambda s: not c1(s)["contactor"] and c1(s)["fault"], timeout=2,
                 what="diode fault")
    assert c1(st)["fault"] == "EVCommunicationError"
    csms.wait_for(lambda m: [r for r in m if r["action"] == "StatusNotification"
                             and r["direction"] == "in"
                             and r["payload"].get("errorCode") == "EVCommunicationError"])
    bad = ch.ctl("fault", connector=1, kind="nonsense", on=True)
    assert bad["ok"] is False and "rcd" in bad["error"]
