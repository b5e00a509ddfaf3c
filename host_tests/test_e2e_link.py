"""End to end, on MicroPython and CPython: the simulated charger against the
development central system over a real WebSocket on 127.0.0.1."""
import json
import threading
import time

import pytest

CP = "cp-test"


def boots(csms):
    return csms.messages(cp_id=CP, action="BootNotification", direction="in", message_type="CALL")


def calls_in(csms):
    return csms.messages(cp_id=CP, direction="in", message_type="CALL")


def test_boot_accepted_then_status_and_heartbeats(csms, make_charger):
    csms.heartbeat_interval = 2
    ch = make_charger(csms.url).start()
    csms.wait_for(lambda m: len(csms.messages(cp_id=CP, action="Heartbeat", direction="in",
                                              message_type="CALL")) >= 3, timeout=20)
    first = calls_in(csms)
    assert first[0]["action"] == "BootNotification"
    boot = first[0]["payload"]
    assert boot["chargePointVendor"] and boot["chargePointModel"] and boot["firmwareVersion"]
    status = [m["payload"] for m in first if m["action"] == "StatusNotification"]
    assert sorted(p["connectorId"] for p in status[:2]) == [0, 1]
    assert all(p["status"] == "Available" and p["errorCode"] == "NoError" for p in status[:2])
    hb = [m["timestamp"] for m in first if m["action"] == "Heartbeat"]
    gaps = [b - a for a, b in zip(hb, hb[1:])]
    assert all(1.5 <= g <= 3.0 for g in gaps), gaps
    st = ch.status()
    assert st["online"] is True and st["boot"] == "Accepted"
    assert st["connectors"][0]["id"] == 1 and st["connectors"][0]["status"] == "Available"


def test_boot_pending_then_accepted(csms, make_charger):
    csms.boot_answers = [{"status": "Pending", "interval": 2}]
    make_charger(csms.url).start()
    csms.wait_for(lambda m: len(boots(csms)) >= 2, timeout=20)
    csms.wait_message(cp_id=CP, action="StatusNotification")
    msgs = calls_in(csms)
    b = boots(csms)
    assert 1.8 <= b[1]["timestamp"] - b[0]["timestamp"] <= 4, "retry must wait the interval"
    # Nothing but BootNotification before the Accepted one (spec 4.2).
    before = [m for m in msgs if m["seq"] < b[1]["seq"]]
    assert {m["action"] for m in before} == {"BootNotification"}


def test_boot_rejected_then_retried_after_interval(csms, make_charger):
    csms.boot_answers = [("Rejected", 3)]
    make_charger(csms.url).start()
    csms.wait_message(cp_id=CP, action="BootNotification", direction="out",
                      message_type="CALLRESULT")
    time.sleep(0.3)
    # While Rejected the charger does not answer the central system.
    with pytest.raises(Exception):
        csms.call(CP, "DataTransfer", {"vendorId": "x"}, timeout=1)
    csms.wait_for(lambda m: len(boots(csms)) >= 2, timeout=20)
    b = boots(csms)
    assert 2.8 <= b[1]["timestamp"] - b[0]["timestamp"] <= 5
    csms.wait_message(cp_id=CP, action="StatusNotification")
    assert csms.call(CP, "DataTransfer", {"vendorId": "x"})["status"] == "UnknownVendorId"


def test_central_system_restart_reconnects_and_boots_again(csms, make_charger):
    ch = make_charger(csms.url).start()
    ch.wait(lambda s: s["boot"] == "Accepted" and s["online"], what="boot accepted")
    csms.wait_message(cp_id=CP, action="StatusNotification")
    csms.stop(abort=True)
    ch.wait(lambda s: not s["online"], what="link lost")
    time.sleep(0.5)
    csms.start()
    csms.wait_for(lambda m: len(boots(csms)) >= 2, timeout=20)
    mark = boots(csms)[1]["seq"]
    csms.wait_message(cp_id=CP, action="StatusNotification", after=mark)
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", what="online again")
    assert "Traceback" not in ch.log()


def test_too_large_message_gets_callerror_and_link_stays(csms, make_charger):
    make_charger(csms.url).start()
    csms.wait_message(cp_id=CP, action="StatusNotification")
    big = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "x", "data": "y" * 20000}])
    sent = csms.send_raw(CP, big)
    reply = csms.wait_raw_reply(sent)
    assert reply["message_type"] == "CALLERROR"
    assert reply["unique_id"] == "big-1"
    assert reply["error_code"] == "FormationViolation"
    assert "too large" in reply["error_description"] and "8192" in reply["error_description"]
    assert csms.call(CP, "DataTransfer", {"vendorId": "x"})["status"] == "UnknownVendorId"
    assert csms.connect_count(CP) == 1


def test_bad_frames_get_the_named_callerror(csms, make_charger):
    make_charger(csms.url).start()
    csms.wait_message(cp_id=CP, action="StatusNotification")
    cases = [
        ('[2,"e1","NoSuchAction",{}]', "NotImplemented"),
        ('[2,"e3","DataTransfer",{}]', "OccurenceConstraintViolation"),
        ('[2,"e4","DataTransfer",{"vendorId":1}]', "TypeConstraintViolation"),
        ('[2,"e5","DataTransfer",{"vendorId":"x","bogus":1}]', "FormationViolation"),
        ('[2,"e6","DataTransfer",{"vendorId":', "FormationViolation"),
        ('[9,"e7",{}]', "ProtocolError"),
    ]
    for text, code in cases:
        reply = csms.wait_raw_reply(csms.send_raw(CP, text))
        assert (reply["message_type"], reply["error_code"]) == ("CALLERROR", code), text
    assert csms.call(CP, "DataTransfer", {"vendorId": "x"})["status"] == "UnknownVendorId"


def test_unreachable_central_system_logs_one_line_per_attempt(make_charger):
    from charger import free_port
    ch = make_charger("ws://127.0.0.1:%d" % free_port()).start()
    time.sleep(4)
    log = ch.log()
    attempts = [l for l in log.splitlines() if "connect to ws://127.0.0.1" in l]
    assert len(attempts) >= 2, log
    assert all("retry in" in l for l in attempts)
    assert "Traceback" not in log
    assert ch.running()


def test_unauthorized_is_named_and_retried(csms, make_charger):
    csms.passwords = {CP: "0123456789abcdef0123"}
    ch = make_charger(csms.url).start()
    time.sleep(3)
    log = ch.log()
    lines = [l for l in log.splitlines() if "connect to" in l]
    assert lines and all("401" in l and "retry in" in l for l in lines), log
    assert "Traceback" not in log


def test_subprotocol_refused_is_named_and_retried(make_charger):
    from websockets.sync.server import serve
    server = serve(lambda ws: ws.close(), "127.0.0.1", 0)
    port = server.socket.getsockname()[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        ch = make_charger("ws://127.0.0.1:%d" % port).start()
        time.sleep(3)
        log = ch.log()
        lines = [l for l in log.splitlines() if "connect to" in l]
        assert lines and all("ocpp1.6" in l and "retry in" in l for l in lines), log
        assert "Traceback" not in log
    finally:
        server.shutdown()


def test_net_down_and_up(csms, make_charger):
    ch = make_charger(csms.url).start()
    ch.wait(lambda s: s["online"], what="online")
    assert ch.ctl("net", up=False)["ok"]
    ch.wait(lambda s: not s["online"], what="offline")
    time.sleep(1.5)
    assert not ch.status()["online"], "must stay down while the link is forbidden"
    assert ch.ctl("net", up=True)["ok"]
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", what="back online")


def test_power_cut_ends_the_process_and_reboot_keeps_data(csms, make_charger):
    ch = make_charger(csms.url).start()
    ch.wait(lambda s: s["online"], what="online")
    ch.ctl("power_cut")
    ch.proc.wait(5)
    assert ch.proc.returncode == 137
    ch.proc = None
    ch._out.close()
    ch.start()
    ch.wait(lambda s: s["online"], what="online after the power cut")
    assert len(boots(csms)) == 2
    assert ch.ctl("nonsense")["ok"] is False
