"""Diagnostics and log uploads, end to end: GetDiagnostics to an FTP server
(passive) and to an HTTP server (PUT, or POST when PUT is refused), GetLog of
the security log, the time window, and a server that is not there. The
servers run on 127.0.0.1 for the test."""
import os
import time

import pytest

from charger import free_port
from fileserver import FileServer
from ftpserver import Server as FtpServer

CP = "cp-diag"
KEY = "SecretKey-0123456789-abc"


def online(ch):
    return ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", 30, "online")


def done(csms, action, timeout=30):
    end = ("Uploaded", "UploadFailed", "UploadFailure", "BadMessage", "PermissionDenied",
           "NotSupportedOperation")
    csms.wait_for(lambda m: [r for r in m if r["action"] == action and r["direction"] == "in"
                             and r["payload"]["status"] in end], timeout)
    return [r["payload"] for r in csms.messages(cp_id=CP, action=action, direction="in")]


@pytest.fixture
def servers(tmp_path):
    ftp_dir = tmp_path / "ftp"
    (ftp_dir / "diag").mkdir(parents=True)
    ftp = FtpServer(str(ftp_dir)).start()
    http = FileServer(str(tmp_path / "http")).start()
    os.makedirs(str(tmp_path / "http"), exist_ok=True)
    yield ftp, http, ftp_dir
    ftp.stop()
    http.stop()


def _check_file(text):
    assert "charge point %s" % CP in text and "firmware 0.2.0" in text
    assert "settings (secrets hidden):" in text and "AuthorizationKey = <hidden>" in text
    assert KEY not in text
    assert "boot: accepted" in text
    assert "transaction message(s) waiting" in text and "connector 1: Available" in text


def test_get_diagnostics_to_ftp_and_http(csms, make_charger, servers):
    ftp, http, ftp_dir = servers
    ch = make_charger(csms.url, CP, sets=["AuthorizationKey=" + KEY]).start()
    online(ch)
    ans = csms.call(CP, "GetDiagnostics", {"location": ftp.url + "/diag", "retries": 0})
    name = ans["fileName"]
    assert name.startswith("diagnostics-%s-" % CP) and name.endswith(".txt")
    got = done(csms, "DiagnosticsStatusNotification")
    assert [p["status"] for p in got] == ["Uploading", "Uploaded"]
    with open(str(ftp_dir / "diag" / name)) as f:
        _check_file(f.read())
    # HTTP: PUT into the location's folder.
    name = csms.call(CP, "GetDiagnostics", {"location": http.url + "/up/"})["fileName"]
    csms.wait_for(lambda m: len(done(csms, "DiagnosticsStatusNotification")) == 4, 30)
    assert ("PUT", "/up/" + name) in http.requests
    _check_file(http.uploads()[name].decode())
    assert csms.call(CP, "TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}
                     )["status"] == "Accepted"
    csms.wait_for(lambda m: done(csms, "DiagnosticsStatusNotification")[-1:] == [
        {"status": "Idle"}], 10)


@pytest.mark.parametrize("runtime", ["micropython"])
def test_get_log_of_the_security_log_by_post(csms, make_charger, servers):
    ftp, http, _d = servers
    http.refuse_put = True
    ch = make_charger(csms.url, CP).start()
    online(ch)
    ans = csms.call(CP, "GetLog", {"logType": "SecurityLog", "requestId": 42,
                                   "log": {"remoteLocation": http.url + "/logs"}})
    assert ans["status"] == "Accepted" and ans["filename"].startswith("securitylog-")
    got = done(csms, "LogStatusNotification")
    assert got == [{"status": "Uploading", "requestId": 42}, {"status": "Uploaded", "requestId": 42}]
    assert [m for m, _p in http.requests] == ["PUT", "POST"]
    text = http.uploads()[ans["filename"]].decode()
    assert "security log:" in text and "StartupOfTheDevice firmware 0.2.0" in text


@pytest.mark.parametrize("runtime", ["micropython"])
def test_time_window_and_a_missing_server(csms, make_charger, servers):
    ftp, http, ftp_dir = servers
    ch = make_charger(csms.url, CP).start()
    online(ch)
    time.sleep(1.5)     # the log on flash has lines with the central system's time
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    name = csms.call(CP, "GetDiagnostics", {"location": http.url + "/w",
                                            "startTime": later})["fileName"]
    done(csms, "DiagnosticsStatusNotification")
    text = http.uploads()[name].decode()
    assert text.split("log from ")[1].count("\n") == 1, text      # the heading alone
    name = csms.call(CP, "GetDiagnostics", {"location": http.url + "/w",
                                            "startTime": "2020-01-01T00:00:00Z"})["fileName"]
    csms.wait_for(lambda m: len(done(csms, "DiagnosticsStatusNotification")) == 4, 30)
    assert "boot: accepted" in http.uploads()[name].decode()
    csms.call(CP, "GetDiagnostics", {"location": "ftp://127.0.0.1:%d/x" % free_port(),
                                     "retries": 1, "retryInterval": 1})
    csms.wait_for(lambda m: done(csms, "DiagnosticsStatusNotification")[-1:] == [
        {"status": "UploadFailed"}], 30)
    assert "upload failed: cannot connect to 127.0.0.1" in ch.log()


def test_security_event_queue(runtime, tmp_path):
    # firmware/ocpp/secevents.py on both runtimes (host_tests/mp/secevents_check.py).
    import mprun
    mprun.must_pass(runtime, os.path.join(mprun.ROOT, "host_tests", "mp", "secevents_check.py"),
                    str(tmp_path), ["first event first", "after a restart the unconfirmed one is "
                                    "next", "undelivered kept", "setup.apply records it"], 10)


@pytest.mark.parametrize("runtime", ["micropython"])
def test_security_events_wait_for_the_central_system(csms, make_charger):
    # Events of a charger that never reached its central system are on flash,
    # through a power cut, and all go once it connects.
    ch = make_charger("ws://127.0.0.1:%d" % free_port(), CP).start()
    time.sleep(2)
    ch.kill()
    ch.csms_url = csms.url
    ch.start()
    online(ch)
    csms.wait_for(lambda m: len([r for r in m if r["action"] == "SecurityEventNotification"
                                 and r["direction"] == "in"]) >= 2, 20)
    got = [r["payload"] for r in csms.messages(cp_id=CP, action="SecurityEventNotification",
                                               direction="in")]
    assert [p["type"] for p in got[:2]] == ["StartupOfTheDevice", "StartupOfTheDevice"]
    assert got[0]["timestamp"] <= got[1]["timestamp"]
