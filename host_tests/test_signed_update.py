"""Signed updates (security whitepaper L01, M03-M05), end to end on the
simulated charger under MicroPython: a manufacturer root and a firmware signing
certificate made here with openssl, the root installed over OCPP, the
signature checked on the charger; a bad signature, a certificate of another
root, and signed updates required for UpdateFirmware."""
import base64
import os

import pytest

import release
from crypto_pki import Pki, need_openssl, openssl
from fileserver import FileServer

CP = "cp-sig"
NEW = "0.2.1"
MF = "ManufacturerRootCertificate"
FINAL = ("Installed", "InstallationFailed", "DownloadFailed", "InvalidSignature",
         "InstallVerificationFailed")


FW_EXT = "keyUsage=critical,digitalSignature\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    need_openssl()
    d = str(tmp_path_factory.mktemp("pki"))
    k = Pki(d)
    k.root("root", "/CN=Maker Root", "rsa")
    k.issue("fw", "/CN=Maker Firmware", "root", "ec", FW_EXT)
    k.issue("fwrsa", "/CN=Maker Firmware RSA", "root", "rsa", FW_EXT)
    k.root("other", "/CN=Other Root")
    k.issue("otherfw", "/CN=Other Firmware", "other", "ec", FW_EXT)
    out = {"dir": d, "root": k.path("root.pem"), "key": k.path("fw.key"),
           "cert": k.path("fw.pem"), "rsa_key": k.path("fwrsa.key"),
           "rsa_cert": k.path("fwrsa.pem"), "other_cert": k.path("otherfw.pem")}
    srv = os.path.join(d, "srv")
    os.makedirs(srv)
    out["signed"] = release.release("sim", NEW, key=out["key"], cert=out["cert"], out_dir=srv)
    out["rsa"] = release.release("sim", "0.2.2", key=out["rsa_key"], cert=out["rsa_cert"],
                                 out_dir=srv)
    out["plain"] = release.release("sim", "0.2.3", out_dir=srv)
    # A delta against the base the simulator runs: signed as a full bundle is.
    out["delta"] = release.release("sim", "0.2.4", key=out["key"], cert=out["cert"], out_dir=srv,
                                   base=release.ROOT)
    with open(out["delta"], "rb") as f:
        data = f.read()
    # Its manifest changed after signing (another version): the signature no
    # longer matches.
    out["delta-forged"] = os.path.join(srv, "forged.bundle")
    with open(out["delta-forged"], "wb") as f:
        f.write(data.replace(b'"version":"0.2.4"', b'"version":"0.2.5"', 1))
    out["srv"] = srv
    return out


@pytest.fixture
def files(pki):
    s = FileServer(pki["srv"]).start()
    yield s
    s.stop()


def _text(p):
    with open(p) as f:
        return f.read()


def online(ch):
    return ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", 30, "online")


def install_root(csms, pki):
    assert csms.call(CP, "InstallCertificate", {"certificateType": MF,
                                                "certificate": _text(pki["root"])}
                     ) == {"status": "Accepted"}


def signed_request(files, bundle, cert, sig, rid=7):
    return {"requestId": rid, "retries": 0, "firmware": {
        "location": files.url + "/" + os.path.basename(bundle),
        "retrieveDateTime": "2020-01-01T00:00:00Z", "signingCertificate": _text(cert),
        "signature": sig}}


def final(csms, action="SignedFirmwareStatusNotification", timeout=90):
    csms.wait_for(lambda m: [r for r in m if r["action"] == action and r["direction"] == "in"
                             and r["payload"]["status"] in FINAL], timeout)
    return [r["payload"] for r in csms.messages(cp_id=CP, action=action, direction="in")]


def events(csms):
    return [r["payload"]["type"] for r in csms.messages(cp_id=CP, direction="in",
                                                         action="SecurityEventNotification")]


@pytest.mark.parametrize("runtime", ["micropython"])
@pytest.mark.parametrize("kind", ["ec", "rsa", "delta"])
def test_signed_update_installs_and_the_root_is_managed(csms, make_charger, files, pki, kind):
    ch = make_charger(csms.url, CP).start()
    online(ch)
    assert csms.call(CP, "GetInstalledCertificateIds", {"certificateType": MF}) == \
        {"status": "NotFound"}
    install_root(csms, pki)
    ids = csms.call(CP, "GetInstalledCertificateIds", {"certificateType": MF})
    assert ids["status"] == "Accepted" and len(ids["certificateHashData"]) == 1
    bundle = {"ec": pki["signed"], "rsa": pki["rsa"], "delta": pki["delta"]}[kind]
    cert = pki["rsa_cert"] if kind == "rsa" else pki["cert"]
    ans = csms.call(CP, "SignedUpdateFirmware", signed_request(files, bundle, cert,
                                                               _text(bundle + ".sig").strip()))
    assert ans == {"status": "Accepted"}
    got = final(csms)
    assert [p["status"] for p in got] == ["DownloadScheduled", "Downloading", "Downloaded",
                                          "SignatureVerified", "Installing", "InstallRebooting",
                                          "Installed"]
    assert all(p["requestId"] == 7 for p in got)
    assert "FirmwareUpdated" in events(csms)
    assert ch.status()["firmware"]["version"] == {"ec": NEW, "rsa": "0.2.2", "delta": "0.2.4"}[kind]
    # The root goes, as the central system asks.
    h = ids["certificateHashData"][0]
    assert csms.call(CP, "DeleteCertificate", {"certificateHashData": h}) == {"status": "Accepted"}
    assert csms.call(CP, "DeleteCertificate", {"certificateHashData": h}) == {"status": "NotFound"}
    assert csms.call(CP, "GetInstalledCertificateIds", {"certificateType": MF}) == \
        {"status": "NotFound"}


@pytest.mark.parametrize("runtime", ["micropython"])
def test_bad_signature_and_foreign_certificate_are_refused_and_reported(csms, make_charger,
                                                                        files, pki):
    ch = make_charger(csms.url, CP).start()
    online(ch)
    install_root(csms, pki)
    # A certificate that does not chain to the installed root: refused at once.
    ans = csms.call(CP, "SignedUpdateFirmware", signed_request(
        files, pki["signed"], pki["other_cert"], _text(pki["signed"] + ".sig").strip()))
    assert ans == {"status": "InvalidCertificate"}
    # The right certificate, the signature of another file.
    wrong = _text(pki["rsa"] + ".sig").strip()
    ans = csms.call(CP, "SignedUpdateFirmware", signed_request(files, pki["signed"], pki["cert"],
                                                               wrong, 8))
    assert ans == {"status": "Accepted"}
    got = final(csms)
    assert got[-1] == {"status": "InvalidSignature", "requestId": 8}
    csms.wait_for(lambda m: "InvalidFirmwareSignature" in events(csms), 20)
    assert events(csms).count("InvalidFirmwareSigningCertificate") == 1
    assert "the signature does not match the firmware" in ch.log()
    assert ch.status()["firmware"]["version"] == "0.2.0"


@pytest.mark.parametrize("runtime", ["micropython"])
def test_signed_updates_required_for_update_firmware(csms, make_charger, files, pki):
    ch = make_charger(csms.url, CP, sets=["update_signed_only=true"]).start()
    online(ch)
    install_root(csms, pki)
    csms.call(CP, "UpdateFirmware", {"location": files.url + "/" + os.path.basename(pki["plain"]),
                                     "retrieveDate": "2020-01-01T00:00:00Z", "retries": 0})
    got = final(csms, "FirmwareStatusNotification")
    assert got[-1] == {"status": "InstallationFailed"}
    assert "the bundle is not signed and update_signed_only is on" in ch.log()
    assert "InvalidFirmwareSignature" in events(csms) or \
        csms.wait_for(lambda m: "InvalidFirmwareSignature" in events(csms), 20)
    # The same update, signed by the maker: installed.
    csms.call(CP, "UpdateFirmware", {"location": files.url + "/" + os.path.basename(pki["signed"]),
                                     "retrieveDate": "2020-01-01T00:00:00Z", "retries": 0})
    csms.wait_for(lambda m: final(csms, "FirmwareStatusNotification")[-1] ==
                  {"status": "Installed"}, 60)
    assert ch.status()["firmware"]["version"] == NEW


@pytest.mark.parametrize("runtime", ["micropython"])
def test_a_signed_delta_for_update_firmware_and_a_forged_one(csms, make_charger, files, pki):
    ch = make_charger(csms.url, CP, sets=["update_signed_only=true"]).start()
    online(ch)
    install_root(csms, pki)
    csms.call(CP, "UpdateFirmware", {"location": files.url + "/" + os.path.basename(
        pki["delta-forged"]), "retrieveDate": "2020-01-01T00:00:00Z", "retries": 0})
    got = final(csms, "FirmwareStatusNotification")
    assert got[-1] == {"status": "InstallationFailed"}
    assert "the signature does not match" in ch.log(), ch.log()[-2000:]
    csms.wait_for(lambda m: "InvalidFirmwareSignature" in events(csms), 20)
    assert not os.path.exists(os.path.join(ch.data_dir, "fwa", "ok"))
    csms.call(CP, "UpdateFirmware", {"location": files.url + "/" + os.path.basename(pki["delta"]),
                                     "retrieveDate": "2020-01-01T00:00:00Z", "retries": 0})
    csms.wait_for(lambda m: final(csms, "FirmwareStatusNotification")[-1] ==
                  {"status": "Installed"}, 60)
    assert ch.status()["firmware"] == {"version": "0.2.4", "slot": "a", "trial": False,
                                       "update": "Idle"}
    assert "(a delta on 0.2.0)" in ch.log()


def test_bundle_signature_is_over_the_manifest(pki):
    # What make release writes: the embedded signature verifies with openssl
    # over the manifest's bytes, the .sig over the whole file.
    with open(pki["signed"], "rb") as f:
        data = f.read()
    n = int(data[18:26], 16)
    manifest = data[27:27 + n]
    import json
    blk = json.loads(data[27 + n + 9:27 + n + 9 + int(data[27 + n:27 + n + 8], 16)])
    sig = os.path.join(pki["dir"], "m.sig")
    with open(sig, "wb") as f:
        f.write(base64.b64decode(blk["sig"]))
    pub = os.path.join(pki["dir"], "pub.pem")
    openssl("x509", "-in", pki["cert"], "-pubkey", "-noout", "-out", pub)
    for payload, s in ((manifest, sig), (data, None)):
        if s is None:
            s = os.path.join(pki["dir"], "w.sig")
            with open(s, "wb") as f:
                f.write(base64.b64decode(_text(pki["signed"] + ".sig")))
        src = os.path.join(pki["dir"], "payload")
        with open(src, "wb") as f:
            f.write(payload)
        openssl("dgst", "-sha256", "-verify", pub, "-signature", s, src)
