"""Updates over the air, end to end on the simulated charger: a release bundle
(tools/release.py) served over HTTP or FTP on 127.0.0.1, UpdateFirmware from
the central system, the new version booted on trial and confirmed, or rolled
back; what the user keeps across both. The boot code's decision table and the
bundle reader run on both runtimes (host_tests/mp/update_check.py)."""
import os
import subprocess
import time

import pytest

import mprun
import release
from fileserver import FileServer
from ftpserver import Server as FtpServer

CP = "cp-up"
NEW = "0.2.1"
FINAL = ("Installed", "InstallationFailed", "DownloadFailed")


def _compile(src, name, arch, d):
    # One module of a broken version, for the bundle's own CPU.
    if arch == "py":
        return src.encode()
    p = os.path.join(d, name.replace("/", "_"))
    with open(p + ".py", "w") as f:
        f.write(src)
    subprocess.run([release.deploy.default_mpy_cross(), "-march=" + arch, "-o", p + ".mpy",
                    "-s", name + ".py", p + ".py"], check=True, capture_output=True)
    with open(p + ".mpy", "rb") as f:
        return f.read()


def _broken(d, version, arch, replace, base=None):
    files, arch = release.build_files("sim", version, None if arch == "py" else arch,
                                      arch == "py")
    ext = ".py" if arch == "py" else ".mpy"
    for name, src in replace.items():
        files[name + ext] = _compile(src, name, arch, d)
    return release.release("sim", version, arch, out_dir=d, files=files, base=base)


# A delta's changed module inside a package: it says so when it is imported, so
# a test sees that it came from the slot while its package stayed the base's.
MARK = "fwupdate of the delta loaded"


def _marked_fwupdate():
    with open(os.path.join(mprun.ROOT, "firmware", "ocpp", "fwupdate.py")) as f:
        return f.read() + "\nlog.info(\"update\", \"%s\")\n" % MARK


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("srv"))
    out = {}
    for arch in ("mpy", "py"):
        src = arch == "py"
        out[arch] = release.release("sim", NEW, source=src, out_dir=d)
        out[arch + "-old"] = release.release("sim", "0.1.9", source=src, out_dir=d)
        a = "py" if src else release.local_arch()
        out[arch + "-crash"] = _broken(d, "0.2.2", a, {
            "firmware/main": "raise RuntimeError('this version is broken at start')\n"})
        out[arch + "-resets"] = _broken(d, "0.2.3", a, {
            "firmware/main": "import sys\nsys.exit(3)\n"})
        out[arch + "-silent"] = _broken(d, "0.2.4", a, {
            "firmware/ocpp/session": "import asyncio\n\n\nclass Session:\n"
            "    accepted_ms = None\n\n    def __init__(self, *a, **k):\n        pass\n\n"
            "    def set_link(self, up):\n        pass\n\n    async def run(self):\n"
            "        while True:\n            await asyncio.sleep(1)\n"})
        # Deltas against the base the simulator runs (this tree, 0.2.0).
        out[arch + "-delta"] = _broken(d, NEW, a, {"firmware/ocpp/fwupdate": _marked_fwupdate()},
                                       base=mprun.ROOT)
    base = release.release("sim", "0.1.5", out_dir=str(tmp_path_factory.mktemp("base")))
    out["mpy-delta-base"] = release.release("sim", NEW, out_dir=d, base=base)
    out["rp2040"] = release.release("rp2040", NEW, out_dir=d)
    # A flipped byte in a module's body: the manifest's hash no longer matches.
    for name, at in (("mpy", -100), ("mpy-delta", -20)):
        with open(out[name], "rb") as f:
            data = bytearray(f.read())
        data[at] ^= 0x55
        out[name + "-badhash"] = os.path.join(d, name + "-badhash.bundle")
        with open(out[name + "-badhash"], "wb") as f:
            f.write(data)
    out["dir"] = d
    return out


@pytest.fixture
def files(bundles):
    srv = FileServer(bundles["dir"]).start()
    yield srv
    srv.stop()


def kind(runtime):
    return "py" if runtime == "cpython" else "mpy"


def url(srv, path):
    return srv.url + "/" + os.path.basename(path)


def online(ch, timeout=30):
    return ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout, "online")


def update(csms, location, **kw):
    p = {"location": location, "retrieveDate": "2020-01-01T00:00:00Z"}
    p.update(kw)
    assert csms.call(CP, "UpdateFirmware", p) == {}


def statuses(csms, action="FirmwareStatusNotification"):
    return [r["payload"]["status"] for r in csms.messages(cp_id=CP, action=action, direction="in")]


def final(csms, timeout=60, action="FirmwareStatusNotification"):
    csms.wait_for(lambda m: [r for r in m if r["action"] == action and r["direction"] == "in"
                             and r["payload"]["status"] in FINAL], timeout)
    return statuses(csms, action)


def versions(csms):
    return [r["payload"]["firmwareVersion"] for r in
            csms.messages(cp_id=CP, action="BootNotification", direction="in")]


def test_decision_table_and_bundle_reader(runtime, bundles, tmp_path):
    passed, failed, out = mprun.cases(runtime, os.path.join(mprun.ROOT, "host_tests", "mp",
                                                             "update_check.py"),
                                      str(tmp_path), bundles[kind(runtime)])
    assert not failed, "\n".join(failed)
    assert len(passed) >= 29, out


def test_a_good_update_end_to_end_keeps_the_data(csms, make_charger, files, bundles, runtime):
    ch = make_charger(csms.url, CP, sets=["free_vend=true"]).start()
    online(ch)
    assert ch.status()["firmware"] == {"version": "0.2.0", "slot": "", "trial": False,
                                       "update": "Idle"}
    assert csms.call(CP, "ChangeConfiguration", {"key": "MeterValueSampleInterval",
                                                 "value": "17"})["status"] == "Accepted"
    assert csms.call(CP, "SendLocalList", {"listVersion": 5, "updateType": "Full",
                                           "localAuthorizationList": [
                                               {"idTag": "KEEPME", "idTagInfo": {
                                                   "status": "Accepted"}}]})["status"] == "Accepted"
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: s["connectors"][0]["energy_wh"] >= 1, 30, "energy")
    ch.ctl("unplug", connector=1)
    stop = csms.wait_message(cp_id=CP, action="StopTransaction", timeout=20)["payload"]
    t0 = time.time()
    update(csms, url(files, bundles[kind(runtime)]))
    assert final(csms) == ["Downloading", "Downloaded", "Installing", "Installed"]
    took = time.time() - t0
    assert versions(csms)[-1] == NEW and versions(csms)[0] == "0.2.0"
    fw = ch.status()["firmware"]
    assert fw["version"] == NEW and fw["slot"] == "a" and not fw["trial"], fw
    ev = [r["payload"] for r in csms.messages(cp_id=CP, action="SecurityEventNotification",
                                              direction="in")]
    assert {"type": "FirmwareUpdated", "techInfo": "0.2.0 -> " + NEW} in \
        [{"type": e["type"], "techInfo": e.get("techInfo")} for e in ev]
    assert "Installed: 0.2.0 -> %s" % NEW in ch.log()
    # What the user set, the local list and the energy register went along.
    conf = csms.call(CP, "GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf["configurationKey"][0]["value"] == "17"
    assert csms.call(CP, "GetLocalListVersion", {})["listVersion"] == 5
    assert csms.call(CP, "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}
                     )["status"] == "Accepted"
    csms.wait_for(lambda m: statuses(csms)[-1:] == ["Idle"], 10)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: s["connectors"][0]["transaction_id"] is not None, 20, "second session")
    start = csms.messages(cp_id=CP, action="StartTransaction", direction="in")[-1]["payload"]
    assert start["meterStart"] >= stop["meterStop"], (start, stop)
    print("update end to end on %s: %.1f s" % (runtime, took))


def test_a_delta_update_end_to_end(csms, make_charger, files, bundles, runtime):
    # Only the modules that differ from the base: the new version runs them
    # with the base's others, and stays after a restart.
    meta = release.read_bundle(bundles[kind(runtime) + "-delta"])[0]
    assert meta["base"] == "0.2.0"
    assert sorted(e[0] for e in meta["files"]) == [
        "firmware/ocpp/fwupdate" + (".py" if runtime == "cpython" else ".mpy"),
        "firmware/version" + (".py" if runtime == "cpython" else ".mpy")]
    ch = make_charger(csms.url, CP).start()
    online(ch)
    t0 = time.time()
    update(csms, url(files, bundles[kind(runtime) + "-delta"]))
    assert final(csms) == ["Downloading", "Downloaded", "Installing", "Installed"]
    took = time.time() - t0
    assert versions(csms) == ["0.2.0", NEW]
    fw = ch.status()["firmware"]
    assert fw["version"] == NEW and fw["slot"] == "a" and not fw["trial"], fw
    log = ch.log()
    assert "slot a on trial, boot 1 of 3 (a delta on 0.2.0)" in log
    assert log.count(MARK) == 1 and "Installed: 0.2.0 -> %s" % NEW in log
    ch.kill()
    ch.start()
    online(ch)
    assert versions(csms) == ["0.2.0", NEW, NEW]
    assert ch.log().count(MARK) == 2
    print("delta update end to end on %s: %.1f s" % (runtime, took))


def test_ftp_location(csms, make_charger, bundles, tmp_path):
    srv = FtpServer(bundles["dir"]).start()
    try:
        ch = make_charger(csms.url, CP).start()
        online(ch)
        update(csms, srv.url + "/" + os.path.basename(bundles[kind(ch.runtime)]))
        assert final(csms)[-1] == "Installed"
        assert versions(csms)[-1] == NEW
    finally:
        srv.stop()


@pytest.mark.parametrize("runtime", ["micropython"])
def test_a_version_that_fails_at_start_rolls_back(csms, make_charger, files, bundles):
    ch = make_charger(csms.url, CP).start()
    online(ch)
    update(csms, url(files, bundles["mpy-crash"]))
    assert final(csms) == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert versions(csms) == ["0.2.0", "0.2.0"]
    log = ch.log()
    assert "this version is broken at start" in log
    assert "rolled back (slot a: the firmware stopped at start); 0.2.0 runs again" in log
    assert ch.status()["firmware"]["slot"] == ""


@pytest.mark.parametrize("runtime", ["micropython"])
def test_a_version_that_resets_again_and_again_rolls_back(csms, make_charger, files, bundles):
    ch = make_charger(csms.url, CP).start()
    online(ch)
    update(csms, url(files, bundles["mpy-resets"]))
    assert final(csms)[-1] == "InstallationFailed"
    assert ch.log().count("on trial, boot") == 3
    assert "reset 3 times on trial" in ch.log()
    assert versions(csms) == ["0.2.0", "0.2.0"]


@pytest.mark.parametrize("runtime", ["micropython"])
def test_a_version_that_never_reaches_the_central_system_rolls_back(csms, make_charger, files,
                                                                     bundles):
    ch = make_charger(csms.url, CP, sets=["update_trial_s=10"]).start()
    online(ch)
    update(csms, url(files, bundles["mpy-silent"]))
    assert final(csms, 60)[-1] == "InstallationFailed"
    assert "not confirmed within 10 s" in ch.log()
    assert versions(csms) == ["0.2.0", "0.2.0"]


@pytest.mark.parametrize("runtime", ["micropython"])
def test_an_update_requested_while_charging_waits_for_the_end(csms, make_charger, files, bundles):
    ch = make_charger(csms.url, CP, sets=["free_vend=true"]).start()
    online(ch)
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: s["connectors"][0]["contactor"], 20, "charging")
    update(csms, url(files, bundles["mpy"]))
    csms.wait_for(lambda m: statuses(csms)[-1:] == ["Downloaded"], 30)
    time.sleep(3)
    st = ch.status()
    assert statuses(csms) == ["Downloading", "Downloaded"]
    assert st["connectors"][0]["contactor"] and st["firmware"]["update"] == "Downloaded"
    ch.ctl("unplug", connector=1)
    assert final(csms)[-1] == "Installed"
    stop = csms.messages(cp_id=CP, action="StopTransaction", direction="in")
    assert [s["payload"]["reason"] for s in stop] == ["EVDisconnected"]


@pytest.mark.parametrize("runtime", ["micropython"])
@pytest.mark.parametrize("case", ["badhash", "rp2040", "old", "scheme", "404", "truncated",
                                  "gone", "delta-base", "delta-badhash"])
def test_bad_bundles_and_locations_fail_with_a_reason(csms, make_charger, files, bundles, case):
    ch = make_charger(csms.url, CP).start()
    online(ch)
    loc = {"badhash": url(files, bundles["mpy-badhash"]), "rp2040": url(files, bundles["rp2040"]),
           "old": url(files, bundles["mpy-old"]), "scheme": "gopher://127.0.0.1/x.bundle",
           "delta-base": url(files, bundles["mpy-delta-base"]),
           "delta-badhash": url(files, bundles["mpy-delta-badhash"]),
           "404": files.url + "/missing.bundle"}.get(case, url(files, bundles["mpy"]))
    if case == "truncated":
        files.cut_after = 20000
    if case == "gone":
        # Half the bundle, then the server is gone for the retry.
        files.cut_after = 50000
    update(csms, loc, retries=1, retryInterval=4 if case == "gone" else 1)
    if case == "gone":
        end = time.time() + 30
        while "download failed (try 1 of 2)" not in ch.log() and time.time() < end:
            time.sleep(0.05)
        files.stop()
    got = final(csms)
    want = {"badhash": "InstallationFailed", "rp2040": "InstallationFailed",
            "old": "InstallationFailed", "delta-base": "InstallationFailed",
            "delta-badhash": "InstallationFailed"}.get(case, "DownloadFailed")
    assert got[-1] == want, got
    why = {"badhash": "does not match its SHA-256 in the manifest",
           "rp2040": "the bundle is for the rp2040 board, this charger is sim",
           "old": "version 0.1.9 is older than the running 0.2.0",
           "scheme": "unsupported location 'gopher://",
           "404": "answered HTTP 404 (not found)",
           "truncated": "closed the connection",
           "gone": "cannot connect to 127.0.0.1",
           "delta-base": "the bundle is a delta for firmware 0.1.5, the firmware frozen into "
                         "this charger is 0.2.0: send the full bundle",
           "delta-badhash": "firmware/version.mpy does not match its SHA-256"}[case]
    assert why in ch.log(), ch.log()[-3000:]
    # Nothing half-installed: the charger runs its version, no slot is ready.
    assert versions(csms) == ["0.2.0"]
    assert ch.status()["firmware"] == {"version": "0.2.0", "slot": "", "trial": False,
                                       "update": "Idle"}
    assert not os.path.exists(os.path.join(ch.data_dir, "fwa", "ok"))


def _cut(ch):
    # From outside (SIGKILL): a cut may fall while the firmware restarts itself.
    ch.kill()
    ch.start()


@pytest.mark.parametrize("runtime", ["micropython"])
@pytest.mark.parametrize("bundle", ["mpy", "mpy-delta"])
def test_random_power_cuts_during_an_update_always_boot_a_whole_version(csms, make_charger,
                                                                         files, bundles, bundle):
    # Cuts at random moments of the download, the checks, the switch and the
    # trial boots (each cut ends the process at once, flushing nothing): every
    # boot runs one whole version, and the update ends either installed or
    # rolled back, with the settings and the local list still there.
    import random
    rng = random.Random(int(os.environ.get("UPDATE_CUT_SEED", "1515")))
    ch = make_charger(csms.url, CP, sets=["update_trial_s=30"]).start()
    online(ch)
    csms.call(CP, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "17"})
    assert csms.call(CP, "SendLocalList", {"listVersion": 7, "updateType": "Full",
                                           "localAuthorizationList": [{"idTag": "KEEPME", "idTagInfo": {"status": "Accepted"}}]}
                     )["status"] == "Accepted"
    update(csms, url(files, bundles[bundle]), retries=20, retryInterval=1)
    seen = set()
    # A delta downloads in a fraction of the time: cuts follow each other
    # faster, to fall in its download, checks and switch too.
    span = 0.15 if bundle == "mpy-delta" else 0.5
    for _ in range(int(os.environ.get("UPDATE_CUTS", "12"))):
        time.sleep(rng.uniform(0.0, span))
        _cut(ch)
        st = online(ch)
        fw = st["firmware"]
        # One whole version: the new one only from its slot, the old one only
        # from the base.
        assert (fw["version"], fw["slot"]) in (("0.2.0", ""), (NEW, "a")), fw
        seen.add((fw["version"], fw["trial"], fw["update"]))
    got = final(csms, 90)
    fw = ch.wait(lambda s: s["firmware"]["update"] == "Idle", 30, "update over")["firmware"]
    if got[-1] == "Installed":
        assert fw["version"] == NEW and fw["slot"] == "a" and not fw["trial"], fw
    else:
        assert got[-1] == "InstallationFailed" and fw["version"] == "0.2.0", (got, fw)
        assert "rolled back" in ch.log()
    conf = csms.call(CP, "GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf["configurationKey"][0]["value"] == "17"
    assert csms.call(CP, "GetLocalListVersion", {})["listVersion"] == 7
    print("cuts: states seen %s; outcome %s" % (sorted(seen), got[-1]))
