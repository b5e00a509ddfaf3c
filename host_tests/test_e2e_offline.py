"""End to end: transactions survive power cuts and a link that is down or
flapping; every transaction reaches the central system exactly once, in order."""
import os
import time

import pytest

from mprun import RUNTIMES, cases

CP = "cp-test"


def calls(csms, action):
    return [m["payload"] for m in csms.messages(cp_id=CP, action=action, direction="in",
                                                message_type="CALL")]


def conn1(st):
    return st["connectors"][0]


def online(ch, csms):
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=20, what="online")


def reboot(ch):
    ch.ctl("power_cut")
    ch.proc.wait(5)
    ch.proc = None
    ch._out.close()
    ch.start()


def charge(ch, tag):
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag=tag)
    return ch.wait(lambda s: conn1(s)["contactor"], what="charging")


def test_power_cut_during_a_transaction_ends_it_with_power_loss(csms, make_charger):
    ch = make_charger(csms.url).start()
    online(ch, csms)
    charge(ch, "TAGP")
    csms.wait_message(cp_id=CP, action="StartTransaction")
    ch.wait(lambda s: conn1(s)["transaction_id"] is not None, what="transaction id")
    time.sleep(1)
    reboot(ch)
    online(ch, csms)
    stop = csms.wait_message(cp_id=CP, action="StopTransaction", timeout=15)["payload"]
    start = calls(csms, "StartTransaction")[0]
    assert stop["reason"] == "PowerLoss"
    assert stop["transactionId"] == 1
    assert stop["meterStop"] >= start["meterStart"]
    assert len(calls(csms, "StartTransaction")) == 1
    # The register never goes backwards: a new session starts where the last ended.
    charge(ch, "TAGP")
    start2 = csms.wait_message(cp_id=CP, action="StartTransaction",
                               after=csms.messages(cp_id=CP, action="StopTransaction")[0]["seq"])
    assert start2["payload"]["meterStart"] >= stop["meterStop"]


def test_offline_transactions_delivered_in_order_with_real_ids(csms, make_charger, runtime):
    n = 30 if runtime == "micropython" else 10
    csms.heartbeat_interval = 300
    ch = make_charger(csms.url).start()
    online(ch, csms)
    # Tags from the local list, and one the cache learns online.
    lst = [{"idTag": "LIST%d" % i, "idTagInfo": {"status": "Accepted"}} for i in range(5)]
    assert csms.call(CP, "SendLocalList", {"listVersion": 1, "updateType": "Full",
                                           "localAuthorizationList": lst})["status"] == "Accepted"
    assert csms.call(CP, "GetLocalListVersion", {})["listVersion"] == 1
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="CACHED")
    csms.wait_message(cp_id=CP, action="Authorize")
    charging = ch.wait(lambda s: conn1(s)["contactor"], what="charging online")
    ch.ctl("rfid", tag="CACHED")
    ch.wait(lambda s: conn1(s)["transaction_id"] is None, what="stopped online")
    ch.ctl("unplug", connector=1)
    csms.wait_message(cp_id=CP, action="StopTransaction")
    ch.wait(lambda s: s["queue"] == 0, what="online session delivered")
    del charging
    mark = csms.mark()
    ch.ctl("net", up=False)
    ch.wait(lambda s: not s["online"], what="offline")
    for i in range(n):
        tag = "CACHED" if i % 3 == 0 else "LIST%d" % (i % 5)
        ch.ctl("plug", connector=1)
        ch.ctl("ev", connector=1, state="C")
        ch.ctl("rfid", tag=tag)
        ch.wait(lambda s: conn1(s)["contactor"], what="charging offline %d (%s)" % (i, tag))
        time.sleep(0.15)
        ch.ctl("rfid", tag=tag)
        ch.wait(lambda s: conn1(s)["transaction_id"] is None and not conn1(s)["contactor"],
                what="stopped offline %d" % i)
        ch.ctl("unplug", connector=1)
        ch.wait(lambda s: conn1(s)["status"] == "Available", what="available %d" % i)
    assert ch.status()["queue"] >= 2 * n
    ch.ctl("net", up=True)
    csms.wait_for(lambda m: len([r for r in m if r["seq"] > mark and r["action"] == "StopTransaction"
                                 and r["direction"] == "in" and r["message_type"] == "CALL"]) == n,
                  timeout=60)
    txs = [m for m in csms.messages(cp_id=CP, direction="in", message_type="CALL")
           if m["seq"] > mark and m["action"] in ("StartTransaction", "StopTransaction")]
    assert [m["action"] for m in txs] == ["StartTransaction", "StopTransaction"] * n
    given = [r["payload"]["transactionId"] for r in csms.messages(
        cp_id=CP, direction="out", message_type="CALLRESULT")
        if r["action"] == "StartTransaction" and r["seq"] > mark]
    stops = [m["payload"] for m in txs if m["action"] == "StopTransaction"]
    assert [s["transactionId"] for s in stops] == given
    assert all(s["reason"] == "Local" for s in stops)
    starts = [m["payload"] for m in txs if m["action"] == "StartTransaction"]
    assert [s["meterStart"] for s in starts] == sorted(s["meterStart"] for s in starts)
    ch.wait(lambda s: s["queue"] == 0, what="queue drained")


def test_flapping_link_loses_nothing(csms, make_charger):
    ch = make_charger(csms.url).start()
    online(ch, csms)
    assert csms.call(CP, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
    charge(ch, "FLAP")
    for _ in range(4):
        time.sleep(0.7)
        ch.ctl("net", up=False)
        time.sleep(0.7)
        ch.ctl("net", up=True)
    ch.wait(lambda s: s["online"], what="online")
    ch.ctl("rfid", tag="FLAP")
    ch.wait(lambda s: conn1(s)["transaction_id"] is None, what="stopped")
    csms.wait_message(cp_id=CP, action="StopTransaction", timeout=20)
    ch.wait(lambda s: s["online"] and s["queue"] == 0, timeout=20, what="queue drained")
    # A Start is sent twice only if the link broke between it and its answer;
    # the id the charger kept is the one of the answer it received.
    assert 1 <= len(calls(csms, "StartTransaction")) <= 2
    tid = conn_tid = [r["payload"]["transactionId"] for r in csms.messages(
        cp_id=CP, direction="out", message_type="CALLRESULT") if r["action"] == "StartTransaction"][-1]
    stops = calls(csms, "StopTransaction")
    assert len(stops) == 1 and stops[0]["transactionId"] == conn_tid
    mv = [p for p in calls(csms, "MeterValues") if "transactionId" in p]
    assert mv and all(p["transactionId"] == tid for p in mv)
    stamps = [p["meterValue"][0]["timestamp"] for p in mv]
    assert stamps == sorted(stamps), "meter values must arrive in order"


def status0(csms, after):
    """The first StatusNotification for connector 0 after record `after`."""
    return csms.wait_for(lambda recs: next(
        (r["payload"] for r in recs if r["seq"] > after and r["cp_id"] == CP
         and r["action"] == "StatusNotification" and r["direction"] == "in"
         and r["message_type"] == "CALL" and r["payload"]["connectorId"] == 0), None))


def test_answer_contradicting_the_local_list_is_reported(csms, make_charger):
    # Spec 3.5.2: connector 0 reports LocalListConflict; the next list the
    # central system sends clears it.
    ch = make_charger(csms.url).start()
    online(ch, csms)
    lst = [{"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]
    assert csms.call(CP, "SendLocalList", {"listVersion": 1, "updateType": "Full",
                                           "localAuthorizationList": lst})["status"] == "Accepted"
    csms.tags["LISTED"] = "Blocked"
    mark = csms.mark()
    ch.ctl("plug", connector=1)
    ch.ctl("rfid", tag="LISTED")
    csms.wait_message(cp_id=CP, action="Authorize", after=mark)
    sn = status0(csms, mark)
    assert (sn["errorCode"], sn["status"]) == ("LocalListConflict", "Available")
    time.sleep(0.5)
    assert ch.status()["connectors"][0]["transaction_id"] is None, "Blocked by the central system"
    mark = csms.mark()
    lst[0]["idTagInfo"]["status"] = "Blocked"
    assert csms.call(CP, "SendLocalList", {"listVersion": 2, "updateType": "Full",
                                           "localAuthorizationList": lst})["status"] == "Accepted"
    sn = status0(csms, mark)
    assert (sn["errorCode"], sn["status"]) == ("NoError", "Available")
    # List and central system agree now: nothing more to report.
    mark = csms.mark()
    ch.ctl("rfid", tag="LISTED")
    csms.wait_message(cp_id=CP, action="Authorize", after=mark)
    time.sleep(0.5)
    assert not [m for m in csms.messages(cp_id=CP, action="StatusNotification", direction="in")
                if m["seq"] > mark and m["payload"]["connectorId"] == 0]


def test_resume_after_power_loss_while_the_ev_stays_connected(csms, make_charger):
    # resume_after_power_loss: the EV still plugged in after the cut carries on
    # with the same transaction; an EV that left ends it with PowerLoss.
    ch = make_charger(csms.url, sets=["resume_after_power_loss=true"]).start()
    online(ch, csms)
    charge(ch, "TAGR")
    start = csms.wait_message(cp_id=CP, action="StartTransaction")["payload"]
    ch.wait(lambda s: conn1(s)["transaction_id"] == 1, what="transaction id")
    time.sleep(1)
    ch.ev = "C"
    reboot(ch)
    online(ch, csms)
    mark = csms.mark()
    ch.wait(lambda s: conn1(s)["contactor"] and conn1(s)["transaction_id"] == 1
            and conn1(s)["status"] == "Charging", what="resumed")
    time.sleep(1.5)
    assert not calls(csms, "StopTransaction") and len(calls(csms, "StartTransaction")) == 1
    ch.ctl("rfid", tag="TAGR")
    stop = csms.wait_message(cp_id=CP, action="StopTransaction", after=mark)["payload"]
    assert (stop["transactionId"], stop["reason"]) == (1, "Local")
    assert stop["meterStop"] >= start["meterStart"]
    ch.ctl("unplug", connector=1)
    ch.wait(lambda s: conn1(s)["status"] == "Available", what="available")
    # The EV is gone when the power comes back: PowerLoss, as without the key.
    charge(ch, "TAGR")
    ch.wait(lambda s: conn1(s)["transaction_id"] == 2, what="second transaction id")
    ch.ev = None
    mark = csms.mark()
    reboot(ch)
    online(ch, csms)
    csms.wait_message(cp_id=CP, action="StopTransaction", after=mark, timeout=15)
    stops = calls(csms, "StopTransaction")
    assert [(s["transactionId"], s["reason"]) for s in stops] == [(1, "Local"), (2, "PowerLoss")]


def test_resumed_transaction_of_a_refused_tag_stays_without_energy(csms, make_charger):
    # StopTransactionOnInvalidId false: a tag the StartTransaction.conf refused
    # gets no energy (spec 3.5.4), before the power cut and after the resume.
    csms.responses["StartTransaction"] = lambda cp_id, p: {
        "transactionId": 9, "idTagInfo": {"status": "Invalid"}}
    ch = make_charger(csms.url, sets=["resume_after_power_loss=true",
                                      "StopTransactionOnInvalidId=false"]).start()
    online(ch, csms)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="REFUSED")
    ch.wait(lambda s: conn1(s)["transaction_id"] == 9 and not conn1(s)["contactor"]
            and conn1(s)["status"] == "SuspendedEVSE", what="refused, no energy")
    ch.ev = "C"
    reboot(ch)
    online(ch, csms)
    ch.wait(lambda s: conn1(s)["transaction_id"] == 9 and conn1(s)["status"] == "SuspendedEVSE",
            what="resumed without energy")
    time.sleep(1.5)
    st = ch.status()
    assert not conn1(st)["contactor"] and conn1(st)["transaction_id"] == 9
    assert not calls(csms, "StopTransaction")
    assert "resumed after the power cut" in ch.log()


@pytest.mark.parametrize("rt", RUNTIMES)
def test_stop_while_waiting_to_resume(rt, tmp_path):
    passed, failed, out = cases(rt, os.path.join(os.path.dirname(__file__), "mp", "resume_check.py"),
                                str(tmp_path))
    assert not failed, "\n".join(failed)
    assert {"waits_for_the_pilot", "stop_ends_the_wait", "late_pilot_reading_harmless",
            "one_stop_queued"} <= set(passed), out


def test_scheduled_availability_survives_the_power_cut_that_ends_its_transaction(
        csms, make_charger):
    # Spec 5.2: Scheduled means the change happens when the transaction ends;
    # a power cut ending it must not make the charger forget the change.
    ch = make_charger(csms.url).start()
    online(ch, csms)
    charge(ch, "TAGS")
    ch.wait(lambda s: conn1(s)["transaction_id"] == 1, what="transaction id")
    assert csms.call(CP, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})[
        "status"] == "Scheduled"
    reboot(ch)
    online(ch, csms)
    stop = csms.wait_message(cp_id=CP, action="StopTransaction", timeout=15)["payload"]
    assert stop["reason"] == "PowerLoss"
    ch.wait(lambda s: conn1(s)["status"] == "Unavailable", what="Unavailable after the cut")
    # Made Operative again, it stays so across the next restart.
    assert csms.call(CP, "ChangeAvailability", {"connectorId": 1, "type": "Operative"})[
        "status"] == "Accepted"
    reboot(ch)
    online(ch, csms)
    ch.wait(lambda s: conn1(s)["status"] in ("Available", "Preparing"), what="operative again")
