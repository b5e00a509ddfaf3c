"""Persistence for every stateful part of the firmware: checked files in one
directory, the table of every file the firmware keeps, and the primitives the
record log (firmware/recordlog.py) and the local list build on.

The board's file system must be littlefs (the MicroPython default on ESP32 and
RP2040). littlefs is copy-on-write: a file written and closed, then renamed over
an older one, either is the new version or leaves the old one after a power cut,
never a mix. FAT is refused: its rename will not replace an existing file (so a
save would need remove-then-rename, a window with no file at all), and it updates
the directory entry and the allocation table in separate writes that a power cut
tears. On FAT, replacing a file raises a StoreError that says so instead of
seeming to work.

Checked file format (Store.save / Store.load), one JSON value per file:
    b"S<v:1 hex> <len:8 lowercase hex> <crc32:8 lowercase hex>\\n" + body (len bytes)
v is the version of the file's format, from FILES below; release 0.1.0 wrote
"S1" for every file, version 1 of each. The header is written last (a
placeholder first, then seek back), so a write cut short leaves a header that
does not check. A file whose header, length, checksum or JSON is wrong is
logged in one line, removed, and load returns the default: a torn write is
never parsed as truth. A whole file of a version this firmware does not read is
refused in one line and left as it is (a newer firmware may read it again);
an older one goes through its owner's upgrade function. `<name>.tmp` left by a
cut is removed.

Public API beyond save/load, for the modules with formats of their own:
write_checked (a body written by the caller: the local list), check (open a
checked file at its body), replace (any file replaced atomically: the record
log), crc32, sync, version, SCRATCH, BODY.

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

# Every file the firmware keeps in its data folder, and the version of its
# format: FILES, one string ("name version" pairs), which costs a tenth of the
# heap of a tuple of pairs. A name ending in a digit is looked up without it
# (tx1, tx2: "tx"); a file not listed is version 1.
#   name          version  owner                          an older version
#   config        1        firmware/config.py             none
#   device        1        firmware/setup.py              none
#   register      2        firmware/register.py           1 (the list of Wh, without the
#                                                         time): upgraded when read
#   avail         1        firmware/ocpp/connector.py     none
#   tx<c>         1        firmware/ocpp/transaction.py   none; no longer written (the queue
#                                                         keeps transactions), read after an upgrade
#   resetreason   1        firmware/ocpp/transaction.py   none
#   txq           2        firmware/ocpp/txqueue.py       1 (acknowledgements as records of their
#                                                         own): read as it is. A record log: each
#                                                         record's marker is the version, recordlog.py
#   authcache     2        firmware/ocpp/auth.py          1 (release 0.1.0, {"v": 1, "e": rows}):
#                                                         upgraded to its rows when read
#   locallist     1        firmware/ocpp/locallist.py     none
#   resv          1        firmware/ocpp/reservation.py   none
#   profiles      1        firmware/ocpp/smart.py         none
#   secq          1        firmware/ocpp/secevents.py     none (a record log)
#   fwjob         1        firmware/ocpp/fwupdate.py      none
#   fwboot        1        lib/fwslot.py (the boot code; written by firmware/install.py too) none
#   fwa/, fwb/    the firmware slots, folders of a bundle's files (lib/fwslot.py)
#   cpcert        1        firmware/cpcert.py             none (the charge point's key and
#                                                         certificate, a request under way)
#   secprof       1        firmware/main.py               none (a raised SecurityProfile on
#                                                         trial, and the one to fall back to)
#   csroot.pem, mfroot.pem  firmware/certstore.py (PEM text: the CA certificates)
#   upload        the last diagnostics file (firmware/ocpp/diagnostics.py; text)
#   log.txt, log.<n>.txt   lib/logfile.py (text for people, never read back as data)
FILES = (" config 1 device 1 register 2 avail 1 tx 1 resetreason 1 txq 2 authcache 2"
         " locallist 1 resv 1 profiles 1 secq 1 fwjob 1 fwboot 1 cpcert 1 secprof 1 ")

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


def version(name):
    """The format version this firmware writes and reads for file `name`."""
    base = name.rstrip("0123456789") or name
    i = FILES.find(" %s " % base)
    if i < 0:
        return 1
    i += len(base) + 2
    return int(FILES[i:FILES.index(" ", i)])


BODY = 21           # where a checked file's body starts: len(b"S1 00000000 00000000\n")
_CHUNK = 256
# One scratch buffer for checksumming, buffered writes and the record log's
# scans; store calls are synchronous, so nothing else uses it at the same time.
_buf = bytearray(_CHUNK)
SCRATCH = memoryview(_buf)


class StoreError(OSError):
    pass


def _header(v, n, crc):
    return ("S%x %08x %08x\n" % (v, n, crc)).encode()


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


def sync(f):
    """Make what was written to f durable."""
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
            self.crc = crc32(SCRATCH[:self.fill], self.crc)
            self.f.write(SCRATCH[:self.fill])
            self.fill = 0

    def close(self):
        # The file belongs to save(); nothing to flush once it is closed.
        pass


def _check_file(f):
    """(version, body length, None) if the open file (at offset 0) is whole,
    else (None, 0, why not)."""
    h = f.read(BODY)
    if len(h) < BODY:
        return None, 0, "shorter than its header"
    try:
        v = int(h[1:2], 16)
        n = int(h[3:11], 16)
        want = int(h[12:20], 16)
    except ValueError:
        return None, 0, "bad header"
    # Re-rendering rejects every spelling but the one we write (case, spaces).
    if _header(v, n, want) != h:
        return None, 0, "bad header"
    got = 0
    crc = 0
    while True:
        k = f.readinto(_buf)
        if not k:
            break
        got += k
        if got > n:
            return None, 0, "longer than its header says"
        crc = crc32(SCRATCH[:k], crc)
    if got != n:
        return None, 0, "torn: %d of %d bytes" % (got, n)
    if crc != want:
        return None, 0, "checksum mismatch"
    return v, n, None


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

    def replace(self, name, fill):
        """Replace file `name` atomically by what fill(f) writes to the open
        temporary file f, returning how many bytes, or None to give up (the old
        file stays). True when the file was replaced."""
        p = self.path(name)
        tmp = p + ".tmp"
        f = open(tmp, "wb")
        try:
            n = fill(f)
            if n is not None:
                sync(f)
        except BaseException:
            f.close()
            _rm(tmp)
            raise
        f.close()
        if n is None:
            _rm(tmp)
            return False
        try:
            os.rename(tmp, p)
        except OSError as e:
            _rm(tmp)
            raise StoreError("cannot replace %s (%s): the file system must be littlefs, "
                             "FAT is not safe across power cuts" % (p, e))
        _sync_dir(self.root)
        self.writes += 1
        self.bytes_written += n
        return True

    # ---- checked files
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
        def checked(f):
            f.write(b"S1 ________ ________\n")
            got = fill(f)
            if got is None:
                return None
            f.seek(0)
            f.write(_header(version(name), got[0], got[1]))
            return BODY + got[0]
        return self.replace(name, checked)

    def check(self, name, older=False):
        """(file, version, None): `name` opened at the start of its body, whole
        and of this firmware's format version (older: or an older one), for
        the caller to read and close. (None, 0, None): no such file, or one of
        another version (refused here in one log line, and kept). (None, 0,
        why): damaged; the caller logs and removes it."""
        p = self.path(name)
        # A .tmp means the cut came before the rename: the old file still
        # stands and the half-made new one is not trusted.
        _rm(p + ".tmp")
        try:
            f = open(p, "rb")
        except OSError:
            return None, 0, None
        try:
            v, _n, why = _check_file(f)
        except BaseException:
            f.close()
            raise
        want = version(name)
        if why is None and (v == want or (older and 0 < v < want)):
            f.seek(BODY)
            return f, v, None
        f.close()
        if why is None:
            log.warn("store", "%s is format version %d, this firmware reads version %d: "
                     "not read, left as it is", name, v, want)
        return None, 0, why

    def load(self, name, default=None, upgrade=None):
        """The value saved as `name`, or default. upgrade(version, obj) -> obj
        turns the body of an older version into the current one; without it
        an older version is refused like a newer one."""
        f, v, why = self.check(name, upgrade is not None)
        if f is not None:
            try:
                obj = json.load(f)
            except ValueError:
                why = "not valid JSON"
            finally:
                f.close()
        if why is not None:
            log.warn("store", "%s is damaged (%s); removed, using defaults", name, why)
            _rm(self.path(name))
            return default
        if f is None:
            return default
        if v != version(name):
            obj = upgrade(v, obj)
            log.info("store", "%s upgraded from format version %d", name, v)
        return obj
