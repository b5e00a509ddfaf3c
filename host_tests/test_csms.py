"""The development central system (tools/csms.py) and the schema checker (schemas.py),
driven by a bare OCPP-J client made with `websockets`: raw frames in, raw frames out."""
import base64
import datetime
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, os.path.join(ROOT, "tools")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import schemas  # noqa: E402
from csms import NO_REPLY, CallErrorReply, CentralSystem, InvalidPayload  # noqa: E402
from ocpp.exceptions import SecurityError  # noqa: E402

BOOT = {"chargePointVendor": "DIY", "chargePointModel": "Wallbox"}


@pytest.fixture
def srv():
    s = CentralSystem(port=0).start()
    try:
        yield s
    finally:
        s.stop()


def cp(srv, cp_id="CP1", **kw):
    kw.setdefault("subprotocols", ["ocpp1.6"])
    return connect(srv.url + "/" + cp_id, open_timeout=5, close_timeout=1, **kw)


def rpc(ws, action, payload, uid=None):
    """Send a CALL, return the decoded answer frame."""
    uid = uid or "id-%s" % time.monotonic_ns()
    ws.send(json.dumps([2, uid, action, payload]))
    ans = json.loads(ws.recv(timeout=5))
    assert ans[1] == uid, ans
    return ans


def result(ws, action, payload):
    ans = rpc(ws, action, payload)
    assert ans[0] == 3, ans
    schemas.validate(action, ans[2], response=True)
    return ans[2]


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Answerer:
    """A charge point that answers central-system CALLs from a table, in a thread."""

    def __init__(self, ws, table):
        self.ws, self.table, self.got = ws, table, []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            while True:
                msg = json.loads(self.ws.recv())
                self.got.append(msg)
                ans = self.table.get(msg[2])
                if ans is not None:
                    self.ws.send(json.dumps(ans(msg) if callable(ans) else [3, msg[1], ans]))
        except (ConnectionClosed, OSError, RuntimeError):
            pass


# ---- answers to the charge point ----

def test_boot_accepted_with_time_and_interval(srv):
    with cp(srv) as ws:
        assert ws.subprotocol == "ocpp1.6"
        before = time.time()
        ans = result(ws, "BootNotification", BOOT)
    assert ans["status"] == "Accepted" and ans["interval"] == 300
    assert before - 2 < parse_time(ans["currentTime"]) < time.time() + 2
    assert srv.registration["CP1"] == "Accepted"


def test_boot_answers_queue_then_accepted(srv):
    srv.heartbeat_interval = 60
    srv.boot_answers = [("Pending", 2), {"status": "Rejected", "interval": 7}, "Pending"]
    with cp(srv) as ws:
        got = [result(ws, "BootNotification", BOOT) for _ in range(5)]
    assert [(a["status"], a["interval"]) for a in got] == [
        ("Pending", 2), ("Rejected", 7), ("Pending", 60), ("Accepted", 60), ("Accepted", 60)]
    assert srv.boot_answers == []


def test_core_answers_follow_configuration(srv):
    srv.tags = {"BLOCK": "Blocked", "OLD": {"status": "Expired", "expiryDate": "2020-01-01T00:00:00Z"}}
    srv.data_transfer = {"acme": {"status": "Accepted", "data": "pong"},
                         "echo": lambda cp_id, p: {"status": "Accepted", "data": cp_id + ":" + p["data"]}}
    with cp(srv) as ws:
        assert result(ws, "Authorize", {"idTag": "ANY"}) == {"idTagInfo": {"status": "Accepted"}}
        assert result(ws, "Authorize", {"idTag": "BLOCK"})["idTagInfo"]["status"] == "Blocked"
        assert result(ws, "Authorize", {"idTag": "OLD"}) == {
            "idTagInfo": {"status": "Expired", "expiryDate": "2020-01-01T00:00:00Z"}}
        srv.default_tag_status = "Invalid"
        assert result(ws, "Authorize", {"idTag": "ANY"})["idTagInfo"]["status"] == "Invalid"
        srv.default_tag_status = "Accepted"
        start = {"connectorId": 1, "idTag": "ANY", "meterStart": 100, "timestamp": "2024-05-01T10:00:00Z"}
        first = result(ws, "StartTransaction", start)
        second = result(ws, "StartTransaction", dict(start, idTag="BLOCK", connectorId=2))
        assert (first["transactionId"], second["transactionId"]) == (1, 2)
        assert first["idTagInfo"]["status"] == "Accepted" and second["idTagInfo"]["status"] == "Blocked"
        stop = {"transactionId": 1, "meterStop": 900, "timestamp": "2024-05-01T11:00:00Z"}
        assert result(ws, "StopTransaction", stop) == {}
        assert result(ws, "StopTransaction", dict(stop, transactionId=2, idTag="OLD", reason="Remote")) \
            == {"idTagInfo": {"status": "Expired", "expiryDate": "2020-01-01T00:00:00Z"}}
        assert abs(parse_time(result(ws, "Heartbeat", {})["currentTime"]) - time.time()) < 2
        assert result(ws, "StatusNotification", {"connectorId": 2, "errorCode": "NoError",
                                                 "status": "Charging"}) == {}
        mv = {"connectorId": 1, "transactionId": 1, "meterValue": [
            {"timestamp": "2024-05-01T10:30:00Z", "sampledValue": [{"value": "500"}]}]}
        assert result(ws, "MeterValues", mv) == {}
        assert result(ws, "DataTransfer", {"vendorId": "other"}) == {"status": "UnknownVendorId"}
        assert result(ws, "DataTransfer", {"vendorId": "acme"}) == {"status": "Accepted", "data": "pong"}
        assert result(ws, "DataTransfer", {"vendorId": "echo", "data": "x"})["data"] == "CP1:x"
        assert result(ws, "DiagnosticsStatusNotification", {"status": "Idle"}) == {}
        assert result(ws, "FirmwareStatusNotification", {"status": "Installed"}) == {}
        assert result(ws, "SecurityEventNotification",
                      {"type": "StartupOfTheDevice", "timestamp": "2024-05-01T10:00:00Z"}) == {}
    assert srv.transactions[1]["meterStop"] == 900 and srv.transactions[1]["reason"] == "Local"
    assert srv.transactions[2]["reason"] == "Remote" and srv.transactions[2]["connectorId"] == 2
    assert srv.connector_status[("CP1", 2)] == "Charging"
    assert srv.next_transaction_id == 3


def test_bad_frames_get_errors_or_silence_never_a_crash(srv):
    with cp(srv) as ws:
        for junk in ["garbage", b"\x00\x01binary", "[]", "[2]", '[2,"a","Heartbeat"]',
                     '[5,"a",{}]', '{"a":1}', '[2,"b",7,{}]', '[true,"c",{}]', '[[2],"d"]',
                     "[" * 100000]:
            ws.send(junk)
        assert rpc(ws, "NoSuchAction", {}, "u1")[2] == "NotSupported"
        assert rpc(ws, "Reset", {"type": "Soft"}, "u2")[2] == "NotImplemented"
        assert rpc(ws, "Heartbeat", {"extra": 1}, "u3")[2] == "FormatViolation"
        assert rpc(ws, "StatusNotification", {"connectorId": 1}, "u4")[0] == 4
        assert rpc(ws, "Heartbeat", {}, "u5")[0] == 3   # still serving, and nothing else came back
    bad = srv.messages(cp_id="CP1", direction="in", message_type="INVALID")
    assert len(bad) == 11
    assert bad[0]["raw"] == "garbage" and bad[0]["problem"].startswith("not JSON")
    assert bad[1]["binary"] is True
    assert srv.messages(action="NoSuchAction", direction="out")[0]["error_code"] == "NotSupported"


def test_responses_override_no_reply_custom_and_callerror(srv):
    def refuse(cp_id, payload):
        raise SecurityError(description="not you")
    srv.responses = {"Heartbeat": [NO_REPLY, {"currentTime": "2020-01-01T00:00:00Z"}],
                     "Authorize": refuse}
    with cp(srv) as ws:
        ws.send(json.dumps([2, "h1", "Heartbeat", {}]))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        assert rpc(ws, "Heartbeat", {}, "h2")[2] == {"currentTime": "2020-01-01T00:00:00Z"}
        assert rpc(ws, "Heartbeat", {}, "h3")[2]["currentTime"].startswith(str(time.gmtime().tm_year))
        err = rpc(ws, "Authorize", {"idTag": "X"}, "a1")
        assert err[:4] == [4, "a1", "SecurityError", "not you"]
        assert rpc(ws, "Authorize", {}, "a2")[2] == "ProtocolError"  # requests still validated
    assert [m["unique_id"] for m in srv.messages(action="Heartbeat", direction="out")] == ["h2", "h3"]


# ---- connections ----

def test_id_is_last_path_segment_decoded_and_subprotocol_required(srv):
    with connect(srv.url + "/ocpp/RDAM%20123", subprotocols=["ocpp1.5", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        srv.wait_connected("RDAM 123", timeout=5)
        assert srv.charge_points() == ["RDAM 123"]
    with connect(srv.url + "/CP9") as ws:
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=5)
        assert e.value.rcvd.code == 1002
    assert not srv.connected("CP9")
    with pytest.raises(InvalidStatus) as e:
        connect(srv.url + "/", subprotocols=["ocpp1.6"])
    assert e.value.response.status_code == 404
    srv.known_ids = {"CP1"}
    with pytest.raises(InvalidStatus) as e:
        cp(srv, "CP2")
    assert e.value.response.status_code == 404
    with cp(srv, "CP1"):
        srv.wait_connected("CP1", timeout=5)


def test_basic_auth(srv):
    srv.passwords = {"CP1": "0123456789abcdef"}
    with pytest.raises(InvalidStatus) as e:
        cp(srv)
    assert e.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        cp(srv, additional_headers={"Authorization": "Basic " + base64.b64encode(b"CP1:wrong").decode()})
    good = "Basic " + base64.b64encode(b"CP1:0123456789abcdef").decode()
    with cp(srv, additional_headers={"Authorization": good}) as ws:
        assert result(ws, "Heartbeat", {})
    assert [e["status"] for e in srv.events if e["event"] == "rejected"] == [401, 401]


def test_new_connection_replaces_old(srv):
    with cp(srv) as old, cp(srv) as new:
        with pytest.raises(ConnectionClosed):
            old.recv(timeout=5)
        assert result(new, "Heartbeat", {})
        a = Answerer(new, {"ClearCache": {"status": "Accepted"}})
        assert srv.call("CP1", "ClearCache") == {"status": "Accepted"}
        assert a.got[0][2] == "ClearCache"
    assert srv.connect_count("CP1") == 2


def test_restart_keeps_port_and_is_quick(srv):
    port, url = srv.port, srv.url
    assert port != 0 and url == "ws://127.0.0.1:%d" % port
    with cp(srv) as ws:
        result(ws, "BootNotification", BOOT)
        mark = srv.mark()
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 1
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=5)
        assert e.value.rcvd.code == 1001
    with pytest.raises(OSError):
        cp(srv)
    t0 = time.monotonic()
    srv.start()
    assert time.monotonic() - t0 < 1 and srv.port == port and srv.url == url
    with cp(srv) as ws:
        ws.send(json.dumps([2, "again", "BootNotification", BOOT]))
        rec = srv.wait_message("CP1", "BootNotification", after=mark, timeout=5)
        assert rec["unique_id"] == "again"
        ws.recv(timeout=5)
        srv.stop(abort=True)   # like a crash: no close frame
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=5)
        assert e.value.rcvd is None
    assert srv.connect_count("CP1") == 2
    assert len(srv.messages(action="BootNotification")) == 4   # recording survives restarts


def test_many_restarts_leak_no_thread_socket_or_port():
    threads, fds = threading.active_count(), len(os.listdir("/proc/self/fd"))
    srv = CentralSystem(port=0)
    t0 = time.monotonic()
    for i in range(15):
        srv.start()
        with cp(srv) as ws:
            result(ws, "Heartbeat", {})  # runs the executor the ocpp package validates in
            if i % 3 == 0:
                srv.stop(abort=bool(i % 2))
                continue
        srv.stop()
    assert time.monotonic() - t0 < 10
    assert threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) <= fds + 2
    # Nothing listens on the port any more: a new listener can take it.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", srv.port))
    s.listen()
    s.close()
    srv.stop()  # stopping twice is harmless


def test_start_on_busy_port_raises():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        with pytest.raises(OSError):
            CentralSystem(port=s.getsockname()[1]).start()
    finally:
        s.close()


# ---- recording and central-system calls ----

def test_recording_in_order_with_raw_frames(srv):
    with cp(srv) as ws:
        sent = json.dumps([2, "b1", "BootNotification", BOOT])
        ws.send(sent)
        got = ws.recv(timeout=5)
        result(ws, "Heartbeat", {})
    recs = srv.messages(cp_id="CP1")
    assert [(r["direction"], r["message_type"], r["action"]) for r in recs] == [
        ("in", "CALL", "BootNotification"), ("out", "CALLRESULT", "BootNotification"),
        ("in", "CALL", "Heartbeat"), ("out", "CALLRESULT", "Heartbeat")]
    assert recs[0]["raw"] == sent and recs[1]["raw"] == got
    assert recs[0]["payload"] == BOOT and recs[1]["unique_id"] == "b1"
    assert [r["seq"] for r in recs] == sorted(r["seq"] for r in recs)
    assert all(a["timestamp"] <= b["timestamp"] for a, b in zip(recs, recs[1:]))
    assert srv.messages(action="Heartbeat", direction="in")[0]["payload"] == {}
    assert srv.messages(cp_id="other") == []
    assert srv.wait_for(lambda ms: len(ms) == 4, timeout=1)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as e:
        srv.wait_for(lambda ms: len(ms) > 4, timeout=0.3)
    assert time.monotonic() - t0 < 1 and "Heartbeat" in str(e.value)
    srv.clear()
    assert srv.messages() == []


def test_call_round_trip_errors_and_timeouts(srv):
    with cp(srv) as ws:
        a = Answerer(ws, {
            "GetConfiguration": {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False,
                                                       "value": "300"}], "unknownKey": ["Nope"]},
            "Reset": lambda m: [4, m[1], "InternalError", "busy", {"why": "charging"}],
            "ChangeAvailability": {"status": "Bogus"},
        })
        got = srv.call("CP1", "GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
        assert got["unknownKey"] == ["Nope"] and got["configurationKey"][0]["value"] == "300"
        assert a.got[0][2:] == ["GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}]
        with pytest.raises(CallErrorReply) as e:
            srv.call("CP1", "Reset", {"type": "Hard"})
        assert (e.value.code, e.value.description, e.value.details) == ("InternalError", "busy",
                                                                        {"why": "charging"})
        with pytest.raises(InvalidPayload):
            srv.call("CP1", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
        assert srv.call("CP1", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"},
                        validate=False) == {"status": "Bogus"}
        n = len(a.got)
        with pytest.raises(InvalidPayload):
            srv.call("CP1", "Reset", {"type": "Sideways"})
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            srv.call("CP1", "UnlockConnector", {"connectorId": 1}, timeout=0.3)
        assert time.monotonic() - t0 < 2
        assert len(a.got) == n + 1   # the invalid Reset never left
        with pytest.raises(ConnectionError):
            srv.call("CP2", "ClearCache")
    recs = srv.messages(cp_id="CP1", action="GetConfiguration")
    assert [(r["direction"], r["message_type"]) for r in recs] == [("out", "CALL"), ("in", "CALLRESULT")]
    assert recs[0]["unique_id"] == recs[1]["unique_id"]


def test_call_fails_fast_when_the_charge_point_drops(srv):
    with cp(srv) as ws:
        srv.wait_connected("CP1", timeout=5)
        threading.Timer(0.2, ws.close).start()
        t0 = time.monotonic()
        with pytest.raises(ConnectionError):
            srv.call("CP1", "ClearCache", timeout=5)
        assert time.monotonic() - t0 < 2
    srv.wait_for(lambda _: not srv.connected("CP1"), timeout=2)


def test_send_raw_and_wait_raw_reply(srv):
    with cp(srv) as ws:
        srv.wait_connected("CP1", timeout=5)
        text = '[2,"r1","Reset",{"type":"Soft"}]'
        sent = srv.send_raw("CP1", text)
        assert ws.recv(timeout=5) == text and sent["action"] == "Reset"
        ws.send(json.dumps([2, "mine", "Heartbeat", {}]))   # the charge point's own CALL between
        assert json.loads(ws.recv(timeout=5))[:2] == [3, "mine"]
        ws.send('[3,"other",{}]')
        ws.send('[4,"r1","FormationViolation","bad",{}]')
        reply = srv.wait_raw_reply(sent, timeout=5)
        assert reply["message_type"] == "CALLERROR" and reply["action"] == "Reset"
        assert reply["error_code"] == "FormationViolation"
        junk = srv.send_raw("CP1", "[2,")
        assert junk["message_type"] == "INVALID" and ws.recv(timeout=5) == "[2,"
        ws.send('[4,"-1","ProtocolError","unparsable",{}]')
        assert srv.wait_raw_reply(junk, timeout=5)["unique_id"] == "-1"
        srv.send_raw("CP1", b"\x01\x02")
        assert ws.recv(timeout=5) == b"\x01\x02"
        srv.disconnect("CP1")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert not srv.connected("CP1")


# ---- schema checks ----

def test_validator_accepts_good_and_rejects_bad_payloads():
    schemas.validate("BootNotification", BOOT)
    schemas.validate("BootNotification", {"status": "Accepted", "interval": 300,
                                                       "currentTime": "2024-01-01T00:00:00.123Z"},
                     response=True)
    for t in ["2024-01-01T00:00:00Z", "2024-02-29T23:59:59.123456+05:30", "2024-01-01t00:00:00z",
              "2024-12-31T23:59:60-00:00"]:
        schemas.validate("Heartbeat", {"currentTime": t}, response=True)
    profile = {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}]}}}
    schemas.validate("SetChargingProfile", profile)   # a float 21.4 is a multiple of 0.1
    schemas.validate("LogStatusNotification", {"status": "Idle", "requestId": 1.0})  # draft-06
    bad = [
        ("BootNotification", {"chargePointVendor": "DIY"}, "chargePointModel"),
        ("BootNotification", dict(BOOT, chargePointVendor="V" * 21), "too long"),
        ("BootNotification", dict(BOOT, extra=1), "extra"),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}, "Sleeping"),
        ("StatusNotification", {"connectorId": 1.0, "errorCode": "NoError", "status": "Charging"},
         "integer"),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                "timestamp": "2024-01-01T00:00:00"}, "date-time"),
        ("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0,
                              "timestamp": "2023-02-29T00:00:00Z"}, "date-time"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "meterValue"),
        ("LogStatusNotification", {"status": "Idle", "requestId": 1.5}, "integer"),
        ("Heartbeat", {"currentTime": "2024-01-01T24:00:00Z"}, "date-time"),
        ("Authorize", {"idTag": float("nan")}, "not JSON"),
        ("NoSuchAction", {}, "no OCPP 1.6 schema"),
        ("../BootNotification", BOOT, "not an OCPP action"),
    ]
    for action, payload, words in bad:
        with pytest.raises(AssertionError) as e:
            schemas.validate(action, payload, response=action == "Heartbeat")
        assert words in str(e.value), (action, str(e.value))
    profile["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 21.45
    with pytest.raises(AssertionError, match="multiple of 0.1"):
        schemas.validate("SetChargingProfile", profile)


def test_check_all_over_a_recording(srv):
    with cp(srv) as ws:
        result(ws, "BootNotification", BOOT)
        a = Answerer(ws, {"GetConfiguration": {"configurationKey": []},
                          "ClearCache": {"status": "Maybe"}})
        srv.call("CP1", "GetConfiguration")
        assert schemas.check_all(srv.messages()) == 2   # the CP's CALL and its CALLRESULT
        srv.call("CP1", "ClearCache", validate=False)
        a.table["X"] = None
        ws.send(json.dumps([2, "s1", "StatusNotification", {"connectorId": 1, "status": "Charging"}]))
        ws.send('[3,"nobody-asked",{}]')
        ws.send('[4,"e1","Oops","d",{}]')
        ws.send("not json")
        srv.wait_for(lambda ms: sum(m["direction"] == "in" for m in ms) == 7, timeout=5)
    with pytest.raises(AssertionError) as e:
        schemas.check_all(srv.messages())
    text = str(e.value)
    assert "5 of 7" in text
    for words in ("ClearCacheResponse", "StatusNotification at (top)", "errorCode", "answers no CALL",
                  "'Oops'", "not an OCPP-J message"):
        assert words in text, (words, text)


# ---- as a script ----

def _lines(pipe, q):
    for line in pipe:
        q.put(line.rstrip("\n"))


def _next(q, timeout=5):
    return q.get(timeout=timeout)


def test_script_serves_answers_commands_and_exits_cleanly_on_sigterm():
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "csms.py"), "--port", "0",
                          "--heartbeat", "42", "--tag", "BAD=Blocked"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, bufsize=1)
    try:
        out = queue.Queue()
        threading.Thread(target=_lines, args=(p.stdout, out), daemon=True).start()
        first = _next(out)
        assert first.startswith("listening on ws://127.0.0.1:"), first
        url = first.split()[-1]
        with connect(url + "/CP7", subprotocols=["ocpp1.6"], open_timeout=5) as ws:
            ws.send(json.dumps([2, "1", "BootNotification", BOOT]))
            assert json.loads(ws.recv(timeout=5))[2]["interval"] == 42
            ws.send(json.dumps([2, "2", "Authorize", {"idTag": "BAD"}]))
            assert json.loads(ws.recv(timeout=5))[2]["idTagInfo"]["status"] == "Blocked"
            Answerer(ws, {"GetConfiguration": {"unknownKey": ["K"]},
                          "Reset": lambda m: [4, m[1], "NotSupported", "no", {}]})
            p.stdin.write("list\ncall CP7 GetConfiguration {\"key\": [\"K\"]}\ncall CP7 Reset {\"type\": \"Soft\"}\n"
                          "raw CP7 [2,\"x\",\"GetConfiguration\",{}]\nbogus\ncall CP8 ClearCache\n")
            p.stdin.flush()
            assert _next(out) == "connected: CP7"
            assert _next(out) == 'CALLRESULT {"unknownKey": ["K"]}'
            assert _next(out).startswith('CALLERROR NotSupported "no"')
            assert _next(out) == 'reply [3, "x", {"unknownKey": ["K"]}]'
            assert _next(out).startswith("unknown command 'bogus'")
            assert _next(out) == "error: CP8 is not connected"
            p.send_signal(signal.SIGTERM)
            assert p.wait(5) == 0
        err = p.stderr.read()
        assert "Traceback" not in err
        assert "[CP7] cp->cs CALL BootNotification" in err and "cs->cp CALLRESULT" in err
    finally:
        p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()


def test_script_without_stdin_serves_until_interrupted():
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "csms.py"), "--port", "0"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        url = p.stdout.readline().split()[-1]
        with connect(url + "/CP1", subprotocols=["ocpp1.6"], open_timeout=5) as ws:
            ws.send(json.dumps([2, "1", "Heartbeat", {}]))
            assert json.loads(ws.recv(timeout=5))[0] == 3
            p.send_signal(signal.SIGINT)
            assert p.wait(5) == 0
        assert "Traceback" not in p.stderr.read()
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
