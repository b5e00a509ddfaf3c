"""A release bundle, read as it streams in: the format tools/release.py writes
(README, "Updating chargers in the field"), checked piece by piece and
written into a slot folder as it comes, never whole in RAM.

    b"OCPPEVSE-BUNDLE 1\\n"          the format and its version
    b"%08x\\n" % len(manifest)         then the manifest, JSON:
        {"version": "0.2.1", "board": "rp2040", "arch": "armv6m", "mpy": "6.3",
         "files": [[path, size, sha256 hex], ...], "made": date}
        a delta also has "base": the version of the base firmware it holds
        the differences from; its files are only the modules that differ
    b"%08x\\n" % len(signature block)  0 when unsigned; else JSON
        {"cert": PEM signing certificate, "sig": base64}: the signature of the
        manifest's bytes (their SHA-256), which names every file's hash
    the files' bytes, back to back, in the manifest's order; nothing after

    r = Reader(folder, on_manifest, on_signature)
    r.feed(chunk) ...   raises BundleError(kind, one line) at the first fault
    r.finish()          everything came; r.digest(): SHA-256 of the whole file
on_manifest(m) and on_signature(manifest_bytes, block or None) raise
BundleError to refuse. Kinds: "format", "hash", "refused" (the caller's).
"""
import os
import json
import hashlib
import binascii
from firmware.store import sync

MAGIC = b"OCPPEVSE-BUNDLE 1\n"
MAX_MANIFEST = 16384
MAX_SIGNATURE = 12288
MAX_FILES = 200
_OK_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/"


class BundleError(Exception):
    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind


def _hex(b):
    return binascii.hexlify(b).decode()


def check_path(p):
    """A manifest path: firmware/... or lib/..., plain characters, no '..'."""
    if not isinstance(p, str) or not 4 < len(p) <= 100 or ".." in p or "//" in p \
            or not (p.startswith("firmware/") or p.startswith("lib/")) \
            or not (p.endswith(".mpy") or p.endswith(".py")):
        return False
    for ch in p:
        if ch not in _OK_CHARS:
            return False
    return True


def check_manifest(m):
    """None, or what is wrong with the manifest's shape."""
    if not isinstance(m, dict):
        return "the manifest is not an object"
    for k in ("version", "board", "arch", "mpy"):
        if not isinstance(m.get(k), str):
            return "the manifest has no %s" % k
    base = m.get("base")
    if base is not None and not (isinstance(base, str) and 0 < len(base) <= 40):
        return "the manifest's base is not a version"
    files = m.get("files")
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        return "the manifest lists no files, or more than %d" % MAX_FILES
    seen = set()
    for e in files:
        if not (isinstance(e, list) and len(e) == 3 and check_path(e[0])
                and isinstance(e[1], int) and 0 <= e[1] < 1 << 20
                and isinstance(e[2], str) and len(e[2]) == 64) or e[0] in seen:
            return "bad manifest entry %r" % (e[0] if isinstance(e, list) and e else e,)
        seen.add(e[0])
        if base is not None and "/__init__." in e[0]:
            # A package comes whole from one folder: a delta cannot change one.
            return "a delta cannot hold %s: a package's own module needs the full bundle" % e[0]
    return None


def mkdirs(path):
    cur = ""
    for part in path.split("/"):
        cur = cur + "/" + part if cur or path.startswith("/") else part
        if not part:
            continue
        try:
            os.mkdir(cur)
        except OSError:
            pass


class Reader:
    def __init__(self, folder, on_manifest=None, on_signature=None):
        self.folder = folder
        self.on_manifest = on_manifest
        self.on_signature = on_signature
        self.whole = hashlib.sha256()
        self.got = 0                # bytes of the bundle read
        self.manifest = None
        self.manifest_bytes = None
        self._step = 0              # 0 magic, 1 manifest length, 2 manifest,
        self._want = len(MAGIC)     # 3 signature length, 4 signature, 5 files, 6 end
        self._acc = bytearray()
        self._i = 0                 # the file being written
        self._f = None
        self._h = None
        self._left = 0
        self.total = 0              # bytes of the files, from the manifest

    def feed(self, data):
        self.whole.update(data)
        self.got += len(data)
        mv = memoryview(data)
        while len(mv):
            if self._step == 5:
                mv = self._file(mv)
                continue
            if self._step == 6:
                raise BundleError("format", "bytes after the last file: not a bundle of "
                                  "this format, or a damaged one")
            k = min(len(mv), self._want - len(self._acc))
            self._acc.extend(mv[:k])
            mv = mv[k:]
            if len(self._acc) == self._want:
                self._header(bytes(self._acc))
                self._acc = bytearray()

    def _length(self, b, limit, what):
        try:
            n = int(b[:8], 16)
        except ValueError:
            n = -1
        if b[8:] != b"\n" or not 0 <= n <= limit:
            raise BundleError("format", "bad %s length in the bundle" % what)
        return n

    def _header(self, b):
        step = self._step
        if step == 0:
            if b != MAGIC:
                raise BundleError("format", "not a firmware bundle (its first line is not %s)"
                                  % MAGIC.decode().strip())
            self._step, self._want = 1, 9
        elif step == 1:
            self._step, self._want = 2, self._length(b, MAX_MANIFEST, "manifest")
            if not self._want:
                raise BundleError("format", "the bundle has an empty manifest")
        elif step == 2:
            try:
                m = json.loads(b)
            except ValueError:
                m = None
            why = check_manifest(m)
            if why:
                raise BundleError("format", why)
            self.manifest = m
            self.manifest_bytes = b
            self.total = sum([e[1] for e in m["files"]])
            if self.on_manifest is not None:
                self.on_manifest(m)
            self._step, self._want = 3, 9
        elif step == 3:
            n = self._length(b, MAX_SIGNATURE, "signature block")
            if n:
                self._step, self._want = 4, n
            else:
                self._signature(None)
        else:
            try:
                blk = json.loads(b)
            except ValueError:
                blk = None
            if not isinstance(blk, dict) or not isinstance(blk.get("cert"), str) \
                    or not isinstance(blk.get("sig"), str):
                raise BundleError("format", "the bundle's signature block is not "
                                  "{\"cert\": PEM, \"sig\": base64}")
            self._signature(blk)

    def _signature(self, blk):
        if self.on_signature is not None:
            self.on_signature(self.manifest_bytes, blk)
        self.manifest_bytes = None
        self._step = 5
        self._open()

    def _open(self):
        files = self.manifest["files"]
        while self._i < len(files):
            path, size, _h = files[self._i]
            full = self.folder + "/" + path
            mkdirs(full.rsplit("/", 1)[0])
            self._f = open(full, "wb")
            self._h = hashlib.sha256()
            self._left = size
            if size:
                return
            self._close()
        self._step = 6

    def _close(self):
        path, _size, want = self.manifest["files"][self._i]
        sync(self._f)
        self._f.close()
        self._f = None
        if _hex(self._h.digest()) != want:
            raise BundleError("hash", "%s does not match its SHA-256 in the manifest" % path)
        self._i += 1

    def _file(self, mv):
        k = min(len(mv), self._left)
        self._f.write(mv[:k])
        self._h.update(mv[:k])
        self._left -= k
        if not self._left:
            self._close()
            self._open()
        return mv[k:]

    def finish(self):
        """Everything came: the last file is whole and checked."""
        if self._step != 6:
            self.abort()
            done = sum([e[1] for e in self.manifest["files"][:self._i]]) if self.manifest else 0
            raise BundleError("format", "the bundle ended early (%d bytes; its files stop at "
                              "%d of %d bytes)" % (self.got, done, self.total))

    def abort(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def digest(self):
        return self.whole.digest()


def verify_folder(folder, manifest):
    """None when every file of the manifest is in the folder with its hash,
    else what is not: checked again before a switch (a power cut between the
    download and the switch, or flash that went bad)."""
    buf = bytearray(512)
    mv = memoryview(buf)
    for path, size, want in manifest["files"]:
        h = hashlib.sha256()
        n = 0
        try:
            with open(folder + "/" + path, "rb") as f:
                while True:
                    k = f.readinto(buf)
                    if not k:
                        break
                    h.update(mv[:k])
                    n += k
        except OSError:
            return "%s is missing" % path
        if n != size or _hex(h.digest()) != want:
            return "%s changed on flash" % path
    return None
