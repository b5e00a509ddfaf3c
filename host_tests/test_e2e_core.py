"""End to end, on MicroPython and CPython: charging sessions of the OCPP Core
profile against the development central system."""
import time

CP = "cp-test"


def calls(csms, action):
    return [m["payload"] for m in csms.messages(cp_id=CP, action=action, direction="in",
                                                message_type="CALL")]


def conn1(st):
    return st["connectors"][0]


def online(csms, make_charger, **cfg):
    ch = make_charger(csms.url).start()
    csms.wait_message(cp_id=CP, action="StatusNotification")
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", what="online")
    for k, v in cfg.items():
        assert csms.call(CP, "ChangeConfiguration", {"key": k, "value": str(v)})["status"] == "Accepted"
    return ch


def charging(ch):
    return ch.wait(lambda s: conn1(s)["status"] == "Charging" and conn1(s)["contactor"]
                   and conn1(s)["transaction_id"] is not None, what="charging")


def test_tag_first_session_with_meter_values_and_stop_by_tag(csms, make_charger):
    ch = online(csms, make_charger, MeterValueSampleInterval=1,
                MeterValuesSampledData="Energy.Active.Import.Register,Power.Active.Import")
    assert ch.ctl("rfid", tag="TAG1")["ok"]
    ch.wait(lambda s: conn1(s)["status"] == "Preparing", what="Preparing after the tag")
    assert calls(csms, "Authorize")[-1] == {"idTag": "TAG1"}
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    st = charging(ch)
    tid = conn1(st)["transaction_id"]
    time.sleep(3.5)
    ch.ctl("rfid", tag="TAG1")
    ch.wait(lambda s: conn1(s)["transaction_id"] is None and not conn1(s)["contactor"],
            what="stopped")
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    start = calls(csms, "StartTransaction")[-1]
    assert start["idTag"] == "TAG1" and start["connectorId"] == 1
    assert stop["transactionId"] == tid and stop["reason"] == "Local" and stop["idTag"] == "TAG1"
    sim_wh = ch.status()["connectors"][0]["sim"]["meter_wh"]
    billed = stop["meterStop"] - start["meterStart"]
    assert billed > 0
    # The registers are whole Wh (up to 1 Wh each way), and the simulated meter
    # still counts while the contactor opens after the stop: at 11 kW, 0.3 s of
    # a loaded machine is another 0.9 Wh.
    assert -1.0 <= sim_wh - billed <= 2.0, (billed, sim_wh)
    mv = [p for p in calls(csms, "MeterValues") if p.get("transactionId") == tid]
    assert len(mv) >= 2, mv
    ctxs = {sv.get("context") for p in mv for v in p["meterValue"] for sv in v["sampledValue"]}
    assert "Sample.Periodic" in ctxs
    ch.wait(lambda s: conn1(s)["status"] == "Finishing", what="Finishing while plugged")
    ch.ctl("unplug", connector=1)
    ch.wait(lambda s: conn1(s)["status"] == "Available", what="Available after unplug")
    seen = [p["status"] for p in calls(csms, "StatusNotification") if p["connectorId"] == 1]
    for want in ("Preparing", "Charging", "Finishing", "Available"):
        assert want in seen, seen


def test_plug_first_and_stop_by_ev_disconnect(csms, make_charger):
    ch = online(csms, make_charger)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: conn1(s)["status"] == "Preparing", what="Preparing after plug")
    ch.ctl("rfid", tag="TAG2")
    charging(ch)
    ch.ctl("unplug", connector=1)
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    assert stop["reason"] == "EVDisconnected"
    ch.wait(lambda s: conn1(s)["status"] == "Available" and not conn1(s)["contactor"],
            what="Available")


def test_remote_start_and_remote_stop(csms, make_charger):
    ch = online(csms, make_charger)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ans = csms.call(CP, "RemoteStartTransaction", {"idTag": "REMOTE1", "connectorId": 1})
    assert ans["status"] == "Accepted"
    st = charging(ch)
    tid = conn1(st)["transaction_id"]
    assert csms.call(CP, "RemoteStopTransaction", {"transactionId": tid + 1000})["status"] == "Rejected"
    assert csms.call(CP, "RemoteStopTransaction", {"transactionId": tid})["status"] == "Accepted"
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    assert stop["reason"] == "Remote" and stop["transactionId"] == tid


def test_blocked_and_expired_tags_are_refused(csms, make_charger):
    csms.tags = {"BLOCK": "Blocked", "OLD": "Expired"}
    ch = online(csms, make_charger)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    for tag in ("BLOCK", "OLD"):
        ch.ctl("rfid", tag=tag)
        csms.wait_for(lambda m: any(r["direction"] == "out" and r["message_type"] == "CALLRESULT"
                                    and r["action"] == "Authorize" and r["cp_id"] == CP
                                    for r in m if r.get("payload", {}).get("idTagInfo", {})
                                    .get("status") == ("Blocked" if tag == "BLOCK" else "Expired")))
    time.sleep(1)
    st = ch.status()
    assert conn1(st)["transaction_id"] is None and not conn1(st)["contactor"]
    assert conn1(st)["status"] == "Preparing"
    assert calls(csms, "StartTransaction") == []


def test_reset_during_transaction_stops_it_and_restarts(csms, make_charger):
    ch = online(csms, make_charger)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="TAG3")
    charging(ch)
    assert csms.call(CP, "Reset", {"type": "Soft"})["status"] == "Accepted"
    stop = csms.wait_message(cp_id=CP, action="StopTransaction", timeout=15)["payload"]
    assert stop["reason"] == "SoftReset"
    csms.wait_for(lambda m: len(calls(csms, "BootNotification")) >= 2, timeout=20)
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", what="back after the reset")
    assert "sim: firmware reset" in ch.log()
    assert len(calls(csms, "StopTransaction")) == 1


def test_change_availability_scheduled_during_transaction(csms, make_charger):
    ch = online(csms, make_charger)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="TAG4")
    charging(ch)
    ans = csms.call(CP, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert ans["status"] == "Scheduled"
    assert conn1(ch.status())["status"] == "Charging"
    ch.ctl("rfid", tag="TAG4")
    ch.wait(lambda s: conn1(s)["status"] == "Unavailable", what="Unavailable after the stop")
    ch.ctl("unplug", connector=1)
    # Availability survives a reboot.
    ch.ctl("power_cut")
    ch.proc.wait(5)
    ch.proc = None
    ch._out.close()
    ch.start()
    ch.wait(lambda s: s["online"] and conn1(s)["status"] == "Unavailable", what="still Unavailable")
    ch.ctl("rfid", tag="TAG4")
    ch.ctl("plug", connector=1)
    time.sleep(1)
    assert conn1(ch.status())["transaction_id"] is None
    assert csms.call(CP, "ChangeAvailability", {"connectorId": 0, "type": "Operative"})["status"] \
        == "Accepted"
    ch.wait(lambda s: conn1(s)["status"] in ("Preparing", "Available"), what="operative again")


def test_get_and_change_configuration_over_every_key_kind(csms, make_charger):
    online(csms, make_charger)
    allkeys = csms.call(CP, "GetConfiguration", {})
    names = {k["key"] for k in allkeys["configurationKey"]}
    for core in ("HeartbeatInterval", "MeterValueSampleInterval", "NumberOfConnectors",
                 "SupportedFeatureProfiles", "MessageTimeout", "StopTransactionMaxMeterValues"):
        assert core in names
    some = csms.call(CP, "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]})
    assert some["unknownKey"] == ["NoSuchKey"]
    assert [k["key"] for k in some["configurationKey"]] == ["HeartbeatInterval"]
    cases = [("HeartbeatInterval", "120", "Accepted"),
             ("HeartbeatInterval", "-5", "Rejected"),
             ("HeartbeatInterval", "abc", "Rejected"),
             ("LocalPreAuthorize", "true", "Accepted"),
             ("LocalPreAuthorize", "maybe", "Rejected"),
             ("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage", "Accepted"),
             ("MeterValuesSampledData", "Temperature", "Rejected"),
             ("NumberOfConnectors", "2", "Rejected"),
             ("WebSocketPingInterval", "-1", "Rejected"),
             ("NoSuchKey", "1", "NotSupported")]
    for key, value, want in cases:
        got = csms.call(CP, "ChangeConfiguration", {"key": key, "value": value})["status"]
        assert got == want, (key, value, got)
    got = csms.call(CP, "GetConfiguration", {"key": ["HeartbeatInterval", "LocalPreAuthorize",
                                                     "MeterValuesSampledData"]})
    vals = {k["key"]: k["value"] for k in got["configurationKey"]}
    assert vals == {"HeartbeatInterval": "120", "LocalPreAuthorize": "true",
                    "MeterValuesSampledData": "Energy.Active.Import.Register,Voltage"}


def test_unlock_connector_stops_the_transaction_and_unlocks(csms, make_charger):
    ch = online(csms, make_charger)
    assert csms.call(CP, "UnlockConnector", {"connectorId": 1})["status"] == "Unlocked"
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="TAG5")
    st = charging(ch)
    assert conn1(st)["sim"]["locked"] is True
    assert csms.call(CP, "UnlockConnector", {"connectorId": 1})["status"] == "Unlocked"
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    assert stop["reason"] == "UnlockCommand"
    st = ch.wait(lambda s: not conn1(s)["contactor"], what="contactor open")
    assert conn1(st)["sim"]["locked"] is False
