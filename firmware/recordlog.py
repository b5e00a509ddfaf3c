"""Checked append-only record logs, such as the transaction queue, kept by a
Store (firmware/store.py) in its directory and counted in its wear counters.

Record format:
    marker, len (2 bytes little-endian), crc32 of (len bytes + body) (4 bytes LE), body
The marker is 0xA4 + the version of the log's format (store.FILES): 0xA5 for
version 1, 0xA6 for version 2. A log opened with older=True also reads the
records of its earlier versions (its owner understands their bodies), and
writes the current one. The body is one JSON value of at most MAX_RECORD
bytes. Reading stops trusting a record whose marker, length or checksum is wrong
and looks for the next record that checks (a torn tail only ever sits at the
end; flash damage in the middle costs only the damaged record). A record that
checks but carries another version's marker is refused, never parsed, with one
log line when the log is opened. Opening a log with bad bytes rewrites it with
only its good records (copy to .tmp, rename), so appends never follow garbage.
A consumer that must remember how far it got (the queue's acknowledged head)
keeps that offset in a small Store file or appends its own marker records, and
compacts with rewrite() when the log holds mostly delivered records.
"""
import os
import json
import struct
import log
from firmware.store import crc32, sync, version, SCRATCH

_MARK = 0xA4            # + the format version
_LAST = 0xAF            # the last marker a version can have
REC_HDR = 7
MAX_RECORD = 4096
# Bodies without the spaces json.dumps puts after "," and ":" by default: a
# tenth smaller, and littlefs keeps a file of up to 512 bytes (RP2040) inside
# its directory's metadata, where writing it needs no block of its own.
_SEP = (",", ":")


def _pack(body, magic):
    n = len(body)
    lb = struct.pack("<H", n)
    return bytes((magic,)) + lb + struct.pack("<I", crc32(body, crc32(lb)))


def _read_rec(f, off, size, maxrec):
    """(marker, body) of a record that checks at off, or None."""
    if off + REC_HDR > size:
        return None
    f.seek(off)
    h = f.read(REC_HDR)
    if len(h) < REC_HDR or not _MARK < h[0] <= _LAST:
        return None
    n = h[1] | (h[2] << 8)
    if n == 0 or n > maxrec or off + REC_HDR + n > size:
        return None
    body = f.read(n)
    if len(body) != n or crc32(body, crc32(h[1:3])) != struct.unpack("<I", h[3:7])[0]:
        return None
    return h[0], body


def _next_magic(f, off, size, magic):
    # Skip ahead chunk by chunk to the next byte that could start a record.
    while off < size:
        f.seek(off)
        k = f.readinto(SCRATCH)
        if not k:
            break
        i = bytes(SCRATCH[:k]).find(bytes((magic,)))
        if i >= 0:
            return off + i
        off += k
    return size


class RecordLog:
    def __init__(self, store, name, max_record=None, older=False):
        self.store = store
        self.older = older
        self.name = name
        self.max_record = max_record or MAX_RECORD
        self.path = store.path(name)
        self.magic = _MARK + version(name)
        self.count = 0
        try:
            self.size = os.stat(self.path)[6]
        except OSError:
            self.size = 0
        self._bad = 0
        self._other = None
        for _ in self._walk(0, self.size):
            self.count += 1
        if self._other is not None:
            log.warn("store", "%s: %d record(s) of format version %d, which this firmware does "
                     "not read; left unread", name, self._other[1], self._other[0] - _MARK)
        if self._bad:
            log.warn("store", "%s: dropped %d damaged byte(s), kept %d record(s)",
                     name, self._bad, self.count)
            self.rewrite(None)

    def _walk(self, start, size):
        # (offset, body) of each record of this version that checks; bytes
        # that do not check are skipped and counted in self._bad, records of
        # another version in self._other (marker, count).
        self._bad = 0
        if start >= size:
            return
        f = open(self.path, "rb")
        try:
            off = start
            while off < size:
                rec = _read_rec(f, off, size, self.max_record)
                if rec is None:
                    nxt = _next_magic(f, off + 1, size, self.magic)
                    self._bad += nxt - off
                    off = nxt
                    continue
                body = rec[1]
                off += REC_HDR + len(body)
                if rec[0] != self.magic and not (self.older and rec[0] < self.magic):
                    o = self._other
                    self._other = (rec[0], 1 if o is None else o[1] + 1)
                    continue
                yield off - REC_HDR - len(body), body
        finally:
            f.close()

    def _body(self, obj):
        body = json.dumps(obj, separators=_SEP).encode()
        if len(body) > self.max_record:
            raise ValueError("record of %d bytes is over the limit of %d" % (len(body), self.max_record))
        return body

    def append(self, obj):
        """Write one record and make it durable before returning its offset."""
        body = self._body(obj)
        f = open(self.path, "ab")
        try:
            f.write(_pack(body, self.magic))
            f.write(body)
            sync(f)
        finally:
            f.close()
        off = self.size
        self.size += REC_HDR + len(body)
        self.count += 1
        st = self.store
        st.writes += 1
        st.bytes_written += REC_HDR + len(body)
        return off

    def records(self, start=0):
        """(offset, object) for each good record from offset start, up to the
        size the log had when iteration began; one record in RAM at a time.
        Iterate to the end (or close() the generator) to release the file."""
        for off, body in self._walk(start, self.size):
            try:
                obj = json.loads(body)
            except ValueError:
                continue
            yield off, obj

    def rewrite(self, fn):
        """Replace the log atomically by its records mapped through fn(obj):
        fn returns the object to keep (changed or not) or None to drop it.
        fn None copies every record that checks (the repair after damage)."""
        got = [0, 0]        # records kept, bytes

        def copy(out):
            for _off, body in self._walk(0, self.size):
                if fn is not None:
                    try:
                        obj = json.loads(body)
                    except ValueError:
                        continue
                    obj = fn(obj)
                    if obj is None:
                        continue
                    body = json.dumps(obj, separators=_SEP).encode()
                out.write(_pack(body, self.magic))
                out.write(body)
                got[0] += 1
                got[1] += REC_HDR + len(body)
            return got[1] or None
        if not self.store.replace(self.name, copy):
            self.store.remove(self.name)
        self.count, self.size = got
        return got[0]

    def reset(self, objs):
        """Replace the whole log atomically by these records: one write."""
        got = [0, 0]

        def fill(out):
            for obj in objs:
                body = self._body(obj)
                out.write(_pack(body, self.magic))
                out.write(body)
                got[0] += 1
                got[1] += REC_HDR + len(body)
            return got[1]
        self.store.replace(self.name, fill)
        self.count, self.size = got

    def clear(self):
        self.store.remove(self.name)
        self.count = 0
        self.size = 0
