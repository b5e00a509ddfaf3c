"""Persistence for every stateful part of the firmware: checked files and
checked append-only record logs in one directory.

The board's file system must be littlefs (the MicroPython default on ESP32 and
RP2040). littlefs is copy-on-write: a file written and closed, then renamed over
an older one, either is the new version or leaves the old one after a power cut,
never a mix. FAT is refused: its rename will not replace an existing file (so a
save would need remove-then-rename, a window with no file at all), and it updates
the directory entry and the allocation table in separate writes that a power cut
tears. On FAT, replacing a file raises a StoreError that says so instead of
seeming to work.

File format (Store.save / Store.load), one JSON value per file:
    b"S1 <len:8 lowercase hex> <crc32:8 lowercase hex>\\n" + body (JSON, len bytes)
The header is written last (a placeholder first, then seek back), so a write cut
short leaves a header that does not check. A file whose header, length, checksum
or JSON is wrong is logged in one line, removed, and load returns the default:
a torn write is never parsed as truth. `<name>.tmp` left by a cut is removed.

Record logs (firmware/recordlog.py, opened with Store.open_log) share this
module's helpers and its wear counters.

Counters `writes` (files written or records appended) and `bytes_written` are
the flash-wear budget the benchmarks report.
"""
import os
import io
import json
import log

try:
    from binascii import crc32 as _crc32
except ImportError:     # ports built without it: a nibble-table CRC-32 in Python
    _crc32 = None

_T = (0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
      0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
      0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c)


def soft_crc32(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        crc = (crc >> 4) ^ _T[crc & 15]
        crc = (crc >> 4) ^ _T[crc & 15]
    return crc ^ 0xffffffff


def crc32(data, crc=0):
    if _crc32 is None:
        return soft_crc32(data, crc)
    return _crc32(data, crc) & 0xffffffff


_HDR_LEN = 21           # len(b"S1 00000000 00000000\n")
_CHUNK = 256
# One scratch buffer for checksumming and buffered writes; store calls are
# synchronous, so nothing else can be using it at the same time.
_buf = bytearray(_CHUNK)
_mv = memoryview(_buf)


class StoreError(OSError):
    pass


def _header(n, crc):
    return ("S1 %08x %08x\n" % (n, crc)).encode()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _rm(path):
    try:
        os.remove(path)
        return True
    except OSError:
        return False


def _mkdirs(path):
    # No os.makedirs on MicroPython.
    cur = "/" if path.startswith("/") else ""
    for part in path.split("/"):
        if not part:
            continue
        cur = cur + part if cur in ("", "/") else cur + "/" + part
        if not _exists(cur):
            os.mkdir(cur)


def _sync(f):
    f.flush()
    if hasattr(os, "fsync"):
        os.fsync(f.fileno())


def _sync_dir(path):
    # CPython on POSIX: make the rename itself durable. littlefs commits the
    # rename in its metadata block; there is nothing to do there.
    if hasattr(os, "fsync") and hasattr(os, "O_RDONLY"):
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass


def _replace(tmp, path):
    try:
        os.rename(tmp, path)
    except OSError as e:
        _rm(tmp)
        raise StoreError("cannot replace %s (%s): the file system must be littlefs, "
                         "FAT is not safe across power cuts" % (path, e))


class _Writer(io.IOBase):
    # A stream for json.dump that buffers into the shared scratch buffer and
    # checksums what it writes, so a large object never exists as one string.
    # MicroPython's json.dump only takes streams, hence the io.IOBase base.
    def __init__(self, f):
        self.f = f
        self.n = 0
        self.fill = 0
        self.crc = 0

    def write(self, s):
        if isinstance(s, str):
            s = s.encode()
        k = len(s)
        if self.fill + k > _CHUNK:
            self.flush()
        if k > _CHUNK:
            self.crc = crc32(s, self.crc)
            self.f.write(s)
        else:
            _buf[self.fill:self.fill + k] = s
            self.fill += k
        self.n += k
        return k

    def flush(self):
        if self.fill:
            self.crc = crc32(_mv[:self.fill], self.crc)
            self.f.write(_mv[:self.fill])
            self.fill = 0

    def close(self):
        # The file belongs to save(); nothing to flush once it is closed.
        pass


def _check_file(f):
    """None if the open file (at offset 0) is whole, else why not."""
    h = f.read(_HDR_LEN)
    if len(h) < _HDR_LEN:
        return "shorter than its header"
    try:
        n = int(h[3:11], 16)
        want = int(h[12:20], 16)
    except ValueError:
        return "bad header"
    # Re-rendering rejects every spelling but the one we write (case, spaces).
    if _header(n, want) != h:
        return "bad header"
    got = 0
    crc = 0
    while True:
        k = f.readinto(_buf)
        if not k:
            break
        got += k
        if got > n:
            return "longer than its header says"
        crc = crc32(_mv[:k], crc)
    if got != n:
        return "torn: %d of %d bytes" % (got, n)
    if crc != want:
        return "checksum mismatch"
    return None


class Store:
    def __init__(self, root):
        self.root = root.rstrip("/") or "/"
        self._pre = "" if self.root == "/" else self.root
        self.writes = 0
        self.bytes_written = 0
        _mkdirs(self.root)

    def path(self, name):
        if not name or "/" in name or name.endswith(".tmp") or name[0] == ".":
            raise ValueError("bad store name %r: a plain file name without '/' or .tmp" % (name,))
        return self._pre + "/" + name

    def exists(self, name):
        return _exists(self.path(name))

    def remove(self, name):
        p = self.path(name)
        _rm(p + ".tmp")
        return _rm(p)

    def cleanup(self):
        """Remove every .tmp a power cut left behind; call once at boot."""
        n = 0
        for fn in os.listdir(self.root):
            if fn.endswith(".tmp") and _rm(self._pre + "/" + fn):
                n += 1
        if n:
            log.info("store", "removed %d unfinished file(s) from a power cut", n)
        return n

    def save(self, name, obj):
        def fill(f):
            w = _Writer(f)
            json.dump(obj, w)
            w.flush()
            return w.n, w.crc
        self.write_checked(name, fill)

    def write_checked(self, name, fill):
        """Replace file `name` atomically by a checked body that fill(f) writes
        to the open file f, returning (length, crc32) of what it wrote, or None
        to give up (the old file stays). True when the file was replaced."""
        p = self.path(name)
        tmp = p + ".tmp"
        f = open(tmp, "wb")
        try:
            f.write(b"S1 ________ ________\n")
            got = fill(f)
            if got is not None:
                f.seek(0)
                f.write(_header(got[0], got[1]))
                _sync(f)
        except BaseException:
            f.close()
            _rm(tmp)
            raise
        f.close()
        if got is None:
            _rm(tmp)
            return False
        _replace(tmp, p)
        _sync_dir(self.root)
        self.writes += 1
        self.bytes_written += _HDR_LEN + got[0]
        return True

    def load(self, name, default=None):
        p = self.path(name)
        # A .tmp means the cut came before the rename: the old file still
        # stands and the half-made new one is not trusted.
        _rm(p + ".tmp")
        try:
            f = open(p, "rb")
        except OSError:
            return default
        try:
            why = _check_file(f)
            if why is None:
                f.seek(_HDR_LEN)
                try:
                    obj = json.load(f)
                except ValueError:
                    why = "not valid JSON"
        finally:
            f.close()
        if why is not None:
            log.warn("store", "%s is damaged (%s); removed, using defaults", name, why)
            _rm(p)
            return default
        return obj

    def open_log(self, name, max_record=None):
        # Imported here: code that keeps only checked files (the local list,
        # the REPL setup) never loads the record log.
        from firmware.recordlog import RecordLog
        return RecordLog(self, name, max_record)
