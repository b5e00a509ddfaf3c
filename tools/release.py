#!/usr/bin/env python3
"""Make a release bundle: the firmware for one board as one versioned file that
a charger installs over the air (UpdateFirmware / SignedUpdateFirmware).

    python tools/release.py --board rp2040|esp32|sim [--version X.Y.Z] [--arch ARCH]
                            [--source] [--key KEY.pem --cert CERT.pem] [--out DIR]
                            [--base REV|DIR|BUNDLE]

(`make release BOARD=rp2040`.) The bundle holds every module a USB deploy
copies (tools/deploy.py: firmware/, lib/, the board driver and the setup
module), compiled with mpy-cross for the board's CPU, except the boot code
(main.py, lib/fwslot.py, the simulator's start.py), which an update never
replaces. firmware/version.py is written with the bundle's version. The format
is firmware/bundle.py's docstring (and README, "Updating chargers in the
field").

--base makes a delta: only the modules whose compiled bytes differ from the
base's, the version frozen into the chargers' image, given as a git revision
of this repository, a source tree (a checkout) or that version's full bundle.
Its manifest names the base's version ("base"); a charger installs it only
over that base (firmware/install.py), and runs it with the base's frozen
modules for the rest (lib/fwslot.py). A new or changed package (__init__.py)
needs the full bundle. For boards whose heap cannot load a whole version from
.mpy files (the Pico W, an ESP32 without PSRAM).

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
import shutil
import subprocess
import sys
import tarfile
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


def current_version(root=ROOT):
    with open(os.path.join(root, "firmware", "version.py")) as f:
        m = re.search(r'^VERSION = "([^"]+)"', f.read(), re.M)
    return m.group(1)


def local_arch(micropython=None):
    """-march of the MicroPython unix port that runs the simulator here."""
    exe = micropython or os.path.join(os.path.dirname(sys.executable), "micropython")
    out = subprocess.run([exe, "-c", "import sys; print(sys.implementation._mpy)"],
                         capture_output=True, text=True, timeout=30).stdout
    return deploy.board_arch(int(out.strip()))


def build_files(board, version, arch=None, source=False, mpy_cross=None, build_dir=None,
                root=ROOT):
    """{bundle path: bytes} of every module of the release, and the arch; root:
    the source tree (a delta's base is built from another)."""
    mpy_cross = mpy_cross or deploy.default_mpy_cross()
    if source:
        arch = "py"
    elif arch is None:
        arch = deploy.ARCH.get(board) or local_arch()
    build_dir = build_dir or tempfile.mkdtemp(prefix="release-")
    files = deploy.build(board, build_dir, mpy_cross, source, False,
                         None if source else arch, root)
    out = {}
    for dest in sorted(files):
        if dest in BOOT:
            continue
        with open(files[dest], "rb") as f:
            out[dest] = f.read()
    # The version this bundle says it is, in the code too.
    src = os.path.join(build_dir, "_version.py")
    with open(os.path.join(root, "firmware", "version.py")) as f:
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


def read_bundle(path):
    """(manifest, {path: bytes}) of a bundle file, every file's hash checked."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not a bundle")
        i = len(MAGIC)
        n = int(data[i:i + 8], 16)
        meta = json.loads(data[i + 9:i + 9 + n])
        i += 9 + n
        i += 9 + int(data[i:i + 8], 16)
        files = {}
        for p, size, h in meta["files"]:
            files[p] = data[i:i + size]
            i += size
            if hashlib.sha256(files[p]).hexdigest() != h:
                raise ValueError("%s does not match its hash" % p)
    except (ValueError, KeyError, TypeError) as e:
        raise ReleaseError("%s is not a whole release bundle: %s" % (path, e))
    return meta, files


def _git_tree(rev):
    """A folder holding this repository's tree at git revision rev."""
    p = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", rev], capture_output=True)
    if p.returncode != 0:
        raise ReleaseError("base %r is no bundle, no source tree and no git revision here: %s"
                           % (rev, p.stderr.decode().strip().splitlines()[-1:]))
    d = tempfile.mkdtemp(prefix="release-base-")
    tar = os.path.join(d, "tree.tar")
    with open(tar, "wb") as f:
        f.write(p.stdout)
    with tarfile.open(tar) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall(os.path.join(d, "tree"), filter="data")
        else:
            t.extractall(os.path.join(d, "tree"))
    os.remove(tar)
    return d


def base_files(base, board, arch, source, mpy_cross):
    """(version, {bundle path: bytes}) of a delta's base: a full bundle of it,
    a source tree, or a git revision, built as this release is."""
    if os.path.isfile(base):
        meta, files = read_bundle(base)
        if meta.get("base"):
            raise ReleaseError("%s is a delta itself: a base is a full version" % base)
        if (meta["board"], meta["arch"]) != (board, arch):
            raise ReleaseError("the base bundle is for %s/%s, this release for %s/%s"
                               % (meta["board"], meta["arch"], board, arch))
        return meta["version"], files
    tmp = None if os.path.isdir(base) else _git_tree(base)
    root = os.path.join(tmp, "tree") if tmp else base
    try:
        if not os.path.exists(os.path.join(root, "firmware", "version.py")):
            raise ReleaseError("%s holds no firmware/version.py: not a source tree of the "
                               "firmware" % base)
        version = current_version(root)
        files, _arch = build_files(board, version, arch, source, mpy_cross, root=root)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return version, files


def delta(files, base, base_version, version):
    """The modules of files that differ from the base's."""
    if base_version == version:
        raise ReleaseError("the base is version %s too: a delta needs a new version" % version)
    out = {}
    for p in files:
        if base.get(p) != files[p]:
            if "/__init__." in p:
                raise ReleaseError("%s differs from the base's: a package's own module "
                                   "needs the full bundle" % p)
            out[p] = files[p]
    return out


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
            files=None, base=None):
    """Write the bundle (and its .sig when signed); returns its path. files: the
    modules to pack instead of a build (tests make broken versions this way).
    base: make a delta against it (base_files())."""
    if bool(key) != bool(cert):
        raise ReleaseError("signing needs both --key and --cert")
    version = version or current_version()
    mpy_cross = deploy.default_mpy_cross()
    mpy = "%d.%d" % deploy.mpy_cross_info(mpy_cross)[1]
    if files is None:
        files, arch = build_files(board, version, arch, source, mpy_cross)
    elif arch is None:
        raise ReleaseError("files given: name their arch")
    name = "evse-%s-%s-%s" % (version, board, arch)
    base_version = None
    if base:
        base_version, old = base_files(base, board, arch, arch == "py", mpy_cross)
        files = delta(files, old, base_version, version)
        name += "-from-%s" % base_version
    meta = manifest(files, version, board, arch, mpy)
    if base_version:
        meta["base"] = base_version
    data = pack(files, meta, key, cert)
    out_dir = out_dir or os.path.join(ROOT, "build", "release")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name + ".bundle")
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
    ap.add_argument("--base", help="make a delta against this base: a git revision, a source "
                    "tree or its full bundle")
    a = ap.parse_args(argv)
    try:
        path = release(a.board, a.version, a.arch, a.source, a.key, a.cert, a.out, base=a.base)
    except (ReleaseError, deploy.DeployError) as e:
        print("release: %s" % e, file=sys.stderr)
        return 1
    with open(path, "rb") as f:
        data = f.read()
    print("bundle: %s (%d bytes)" % (os.path.relpath(path), len(data)))
    meta = read_bundle(path)[0]
    if meta.get("base"):
        print("a delta on %s: %d module(s) differ (%s); it installs only on chargers whose "
              "frozen firmware is %s" % (meta["base"], len(meta["files"]),
                                        ", ".join(e[0] for e in meta["files"][:6])
                                        + (", ..." if len(meta["files"]) > 6 else ""),
                                        meta["base"]))
    print("serve it over http(s) or ftp and send UpdateFirmware with its URL as location")
    if a.key:
        print("signed: SignedUpdateFirmware signature = the text of %s, signingCertificate = %s"
              % (os.path.relpath(path + ".sig"), a.cert))
    return 0


if __name__ == "__main__":
    sys.exit(main())
