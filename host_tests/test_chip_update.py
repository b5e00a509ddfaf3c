"""An update over the air on the emulated RP2040 (tools/chip/): the image with
the firmware frozen in, a delta bundle (tools/release.py --base) of a new
version served over HTTP through the chip's network bridge, UpdateFirmware,
the new version's trial boot over the frozen base, Installed. A whole version
from a slot does not fit this heap (README, "Updating chargers in the field");
a delta does. About a minute of wall time: the download and the two boots run
on the emulated core."""
import os
import time

import pytest

import mprun
import release
from charger import Charger
from fileserver import FileServer

CP = "cp-chip-up"
NEW = "0.2.1"
MARK = "fwupdate of the delta loaded"


@pytest.fixture(scope="module")
def delta(tmp_path_factory):
    # The new version: this tree with a new version number and one module of
    # a package changed (it logs when imported), against the frozen base.
    d = str(tmp_path_factory.mktemp("srv"))
    files, arch = release.build_files("rp2040", NEW)
    with open(os.path.join(mprun.ROOT, "firmware", "ocpp", "fwupdate.py")) as f:
        src = f.read() + '\nlog.info("update", "%s")\n' % MARK
    p = os.path.join(d, "fwupdate.py")
    with open(p, "w") as f:
        f.write(src)
    import subprocess
    subprocess.run([release.deploy.default_mpy_cross(), "-march=" + arch, "-o", p[:-3] + ".mpy",
                    "-s", "firmware/ocpp/fwupdate.py", p], check=True, capture_output=True)
    with open(p[:-3] + ".mpy", "rb") as f:
        files["firmware/ocpp/fwupdate.mpy"] = f.read()
    return release.release("rp2040", NEW, arch, out_dir=d, files=files, base=mprun.ROOT)


def statuses(csms):
    return [r["payload"]["status"] for r in
            csms.messages(cp_id=CP, action="FirmwareStatusNotification", direction="in")]


def test_a_delta_update_on_the_chip(tmp_path, csms, delta):
    srv = FileServer(os.path.dirname(delta)).start()
    ch = Charger("rp2040", csms.url, tmp_path / CP, CP)
    ch.probe = True
    try:
        ch.start()
        ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", 90, "online")
        before = ch.ctl("stats", clear=True)
        t0 = time.time()
        assert csms.call(CP, "UpdateFirmware", {"location": srv.url + "/" +
                                                os.path.basename(delta),
                                                "retrieveDate": "2020-01-01T00:00:00Z"}) == {}
        csms.wait_for(lambda m: statuses(csms)[-1:] == ["Installing"], 120)
        during = ch.ctl("stats")
        csms.wait_for(lambda m: statuses(csms)[-1:] in (["Installed"], ["InstallationFailed"]),
                      240)
        took = time.time() - t0
        assert statuses(csms) == ["Downloading", "Downloaded", "Installing", "Installed"], \
            ch.log()[-3000:]
        boots = [r["payload"]["firmwareVersion"] for r in
                 csms.messages(cp_id=CP, action="BootNotification", direction="in")]
        assert boots == ["0.2.0", NEW], boots
        st = ch.status()["firmware"]
        assert st["version"] == NEW and st["slot"] == "a" and not st["trial"], st
        log = ch.log()
        assert "(a delta on 0.2.0)" in log and MARK in log, log[-3000:]
        after = ch.ctl("stats")

        def at(text):
            # The chip's log stamps each line with the emulated seconds since its start.
            return [float(ln.split()[0]) for ln in log.splitlines() if text in ln
                    and ln[:1].isdigit()][-1]
        print("chip delta update, emulated: request to restart %.2f s, the new version's boot "
              "to Installed %.2f s; download %.2f s; checks and switch %.2f s"
              % (at("restarting into") - at("update: firmware from"), at("Installed: 0.2.0"),
                 at("Downloaded:") - at("Downloading:"), at("restarting into") - at("Installing:")))
        print("chip delta update: bundle %d B; wall %.1f s; free heap before %s, least during "
              "the download %s, least after %s; longest stall during the download %s ms; "
              "boot to BootNotification accepted %s ms"
              % (os.path.getsize(delta), took, before.get("mem_free_boot"),
                 during.get("mem_free_min"), after.get("mem_free_min"),
                 during.get("stall_max_ms"), after.get("boot_accepted_ms")))
    finally:
        ch.stop()
        srv.stop()
