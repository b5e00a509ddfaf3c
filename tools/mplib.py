#!/usr/bin/env python3
"""The micropython-lib modules the firmware uses (umqtt.simple), taken from the
pinned archive of ../shared/toolchain for the runtimes that do not freeze them.

A board's image freezes them (require() in boards/common/manifest.py), a .mpy
deploy copies them (tools/deploy.py); the simulator on MicroPython's unix port
and on CPython, and the tests, import them from build/mplib, which this fills
from the archive, checked against SHA256SUMS, once per archive checksum. Nothing
of micropython-lib is kept in this repository.

    python tools/mplib.py            extract (if needed) and print the folder
    import mplib; mplib.path()       the same from Python; MplibError (one line)
                                     when the archive is missing
    mplib.files()                    {path under the folder: its file}
"""
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "build", "mplib")
ARCHIVE = "micropython-lib-v1.28.0.tar.xz"
# (path in the archive below its top folder, path under OUT)
MEMBERS = (("micropython/umqtt.simple/umqtt/simple.py", "umqtt/simple.py"),)


class MplibError(Exception):
    """One line that says what is missing and what to do."""


def _images():
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import images
    return images


def path():
    """build/mplib with the modules in it, extracted now if needed."""
    img = _images()
    src = os.path.join(img.TOOLCHAIN, ARCHIVE)
    stamp = os.path.join(OUT, ".sha256")
    try:
        want = img._sums()[ARCHIVE]
    except (OSError, KeyError):
        raise MplibError("no %s in %s (or no line for it in its SHA256SUMS): the pinned "
                         "toolchain is needed for umqtt.simple" % (ARCHIVE, img.TOOLCHAIN))
    if img._read(stamp) == want and all(os.path.exists(os.path.join(OUT, d))
                                        for _s, d in MEMBERS):
        return OUT
    if not os.path.exists(src):
        raise MplibError("no %s: the pinned toolchain is needed for umqtt.simple" % src)
    if img._sha256(src) != want:
        raise MplibError("%s does not match its SHA256SUMS line: copy the toolchain again"
                         % src)
    with tarfile.open(src) as tf:
        names = dict((m.name.split("/", 1)[-1], m) for m in tf.getmembers() if m.isfile())
        for s, d in MEMBERS:
            if s not in names:
                raise MplibError("%s has no %s" % (ARCHIVE, s))
            dest = os.path.join(OUT, d)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            data = tf.extractfile(names[s]).read()
            tmp = dest + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
    img._write(stamp, want)
    return OUT


def files():
    """{path under build/mplib: the extracted file}."""
    p = path()
    return dict((d, os.path.join(p, d)) for _s, d in MEMBERS)


if __name__ == "__main__":
    try:
        print(path())
    except MplibError as e:
        print("mplib: %s" % e, file=sys.stderr)
        sys.exit(1)
