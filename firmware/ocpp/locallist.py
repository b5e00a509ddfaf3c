# The local authorization list (OCPP 1.6 sections 3.5.2, 5.10, 5.15; errata
# 3.52 and 3.58): the central system's own list of idTags, kept on flash and
# looked up without loading it into RAM.
#
#   ll = LocalList(store, cfg)
#   ll.version, ll.count                 0, 0 for an empty list
#   ll.lookup("04a2b3c4")                -> {"status", "expiryDate"?, "parentIdTag"?} or None
#   ll.update(list_version, "Full" | "Differential", entries)
#                                        -> "Accepted" | "Failed" | "VersionMismatch" | "NotSupported"
#
# On flash: one file in the Store file format of firmware/store.py (header with
# format version, length and CRC-32 written last, so a cut write never checks)
# whose body is binary instead of JSON, so that a lookup can seek() to any record:
#     count records of REC bytes, sorted by key, then the trailer
#     record  key 20s     idTag as UTF-8, ASCII letters lower-cased (CiString20
#                         matches without regard to case), NUL-padded
#             parent 20s  parentIdTag as sent, NUL-padded, empty when absent
#             status B    index into STATUSES
#             flags B     1: an expiry date is present
#             expiry q    UTC seconds since 1970 (given back in ISO form, "Z")
#     trailer b"LL1\n", version i, count I
# The whole file is checked once, when the list is opened at boot. A file that
# fails is logged, removed, and the list is empty with version 0: never parsed
# as truth. A lookup binary-searches with seek(): about log2(count) reads of one
# 50-byte record into a buffer that lives as long as the list.
#
# An update never writes in place. Full writes the message's entries, sorted,
# to <name>.tmp; Differential streams the current file and the message's
# entries (both sorted) through a merge into <name>.tmp. The finished file is
# renamed over the list, which littlefs makes atomic: after a power cut the
# list is the old one or the new one. RAM used is the list's two small buffers
# and the message itself, whatever the list's length. Every update rewrites
# the whole file (about 50 KB at 1000 entries); central systems send them rarely.
#
# Decisions where the spec leaves room:
# - An empty list has version 0 (5.10), also right after a Full update that
#   emptied it with another version number; an empty list has no file.
# - VersionMismatch is for Differential updates whose version is not above the
#   current one (7.44). A Full update replaces the list whatever its version, so
#   a central system can always resynchronise (5.15 tells it to send a Full).
#   Versions below 1 are not allowed (errata 3.52) except a Full update with
#   version 0 and no entries, which older central systems use to clear a list:
#   the result is the empty list, version 0, as they expect.
# - NotSupported only when the charge point does not support the list at all
#   (LocalAuthListManagement absent from SupportedFeatureProfiles); that is also
#   when GetLocalListVersion answers -1 (5.10). LocalAuthListEnabled (9.2.1)
#   says whether the list is used to authorise (firmware/ocpp/auth.py); while it
#   is false the list stays in sync, so turning it on never brings back an old one.
# - Content the spec forbids (duplicate idTags, a Full entry without idTagInfo),
#   an idTag or parentIdTag over 20 bytes in UTF-8 (the record's field width) and
#   a result over LocalAuthListMaxLength: Failed, the list unchanged, one log line.
import os
import struct
import log
from compat import parse_iso, iso, const, utf8, ci_key
# The Store's checked-file format, with a body of our own.
from firmware.store import crc32, BODY

NAME = "locallist"
# The on-flash status codes: this table is part of the file format, so it is
# kept here rather than shared with code free to reorder its own.
STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")

_REC = "<20s20sBBq"
REC = const(50)
_TRAIL = "<4siI"
_TRAIL_LEN = const(12)
_MAGIC = b"LL1\n"
_TAG = const(20)
_PAD = b"\0" * 20
_CHUNK = const(4)           # records per buffered write during an update
_VMAX = const(2147483647)   # OCPP integer: 32 bits


def _key(tag):
    """The record key of an idTag (its ci_key in 20 bytes), or None when it cannot have one."""
    k = ci_key(tag)
    if k is None or len(k) > _TAG or b"\0" in k:
        return None
    return k + _PAD[len(k):]


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _bad_entry(e, full):
    """Why an AuthorizationData cannot be stored, or None."""
    if not isinstance(e, dict):
        return "an entry is not an object"
    t = e.get("idTag")
    if _key(t) is None:
        return "idTag %r is not 1 to 20 bytes of text" % (t,)
    info = e.get("idTagInfo")
    if info is None:
        return "idTag %s has no idTagInfo, which a Full update requires" % t if full else None
    if not isinstance(info, dict) or info.get("status") not in STATUSES:
        return "idTagInfo of %s has no valid status" % t
    p = info.get("parentIdTag")
    if p is not None and (not isinstance(p, str) or len(utf8(p)) > _TAG or "\0" in p):
        return "parentIdTag of %s is not text of at most 20 bytes" % t
    x = info.get("expiryDate")
    if x is not None:
        try:
            parse_iso(x)
        except (ValueError, TypeError):
            return "expiryDate of %s is not a date-time" % t
    return None


def _pack(buf, off, e):
    info = e["idTagInfo"]
    x = info.get("expiryDate")
    p = info.get("parentIdTag")
    struct.pack_into(_REC, buf, off, _key(e["idTag"]), utf8(p) if p else b"",
                     STATUSES.index(info["status"]), 0 if x is None else 1,
                     0 if x is None else parse_iso(x))


class _Out:
    # Buffered, checksummed writing of whole records to the new file.
    def __init__(self, f, buf):
        self.f = f
        self.buf = buf
        self.mv = memoryview(buf)
        self.fill = 0
        self.crc = 0
        self.n = 0
        self.size = 0

    def slot(self):
        """Offset in buf where the next record goes."""
        if self.fill == REC * _CHUNK:
            self.flush()
        o = self.fill
        self.fill += REC
        self.n += 1
        return o

    def flush(self):
        if self.fill:
            self.write(self.mv[:self.fill])
            self.fill = 0

    def write(self, b):
        self.crc = crc32(b, self.crc)
        self.f.write(b)
        self.size += len(b)


class LocalList:
    def __init__(self, store, cfg):
        self.store = store
        self.cfg = cfg
        self.path = store.path(NAME)
        self._job = None      # what _fill writes during an update
        self._short = False
        self._n = 0
        self.version = 0
        self.count = 0
        # Allocated once, while the heap is young: one record read at a time
        # (lookups, the merge), and the staging of records being written.
        self._rec = bytearray(REC)
        self._obuf = bytearray(REC * _CHUNK)
        self._open()

    def _open(self):
        # A .tmp is an update a power cut interrupted: the list it was to
        # replace still stands (check() removes it).
        f, _v, why = self.store.check(NAME)
        v = c = 0
        if f is not None:
            try:
                n = f.seek(0, 2) - BODY
                if n < _TRAIL_LEN or (n - _TRAIL_LEN) % REC:
                    why = "bad size"
                else:
                    f.seek(BODY + n - _TRAIL_LEN)
                    magic, v, c = struct.unpack(_TRAIL, f.read(_TRAIL_LEN))
                    if magic != _MAGIC or c * REC + _TRAIL_LEN != n or c < 1 or v < 1:
                        why = "bad trailer"
            finally:
                f.close()
        elif why is None:
            return
        if why is not None:
            self._lost(why)
            return
        self.version = v
        self.count = c

    def _lost(self, why):
        log.warn("locallist", "local authorization list damaged (%s); removed, the list is "
                 "empty (version 0) until the central system sends it again", why)
        self.store.remove(NAME)
        self.version = 0
        self.count = 0

    def supported(self):
        # A list that is switched off (LocalAuthListEnabled false) is reported as
        # not there: version -1, updates NotSupported, so the central system does
        # not believe a list it sends is in use.
        return "LocalAuthListManagement" in self.cfg.get("SupportedFeatureProfiles") and \
            self.cfg.get("LocalAuthListEnabled")

    def lookup(self, id_tag):
        """The stored idTagInfo of id_tag (any ASCII case), or None. Expired
        entries come back as stored: judging them is the caller's business."""
        if not self.count:
            return None
        k = _key(id_tag)
        if k is None:
            return None
        rec = self._rec
        try:
            f = open(self.path, "rb")
        except OSError as e:
            self._lost("cannot open it: %s" % e)
            return None
        try:
            lo = 0
            hi = self.count - 1
            while lo <= hi:
                mid = (lo + hi) >> 1
                f.seek(BODY + mid * REC)
                if f.readinto(rec) != REC:
                    break
                rk = rec[:_TAG]
                if rk == k:
                    if rec[40] >= len(STATUSES):
                        break
                    return self._info(rec)
                if rk < k:
                    lo = mid + 1
                else:
                    hi = mid - 1
            else:
                return None
        finally:
            f.close()
        self._lost("a record does not read back as written")
        return None

    def _info(self, rec):
        d = {"status": STATUSES[rec[40]]}
        p = bytes(rec[_TAG:2 * _TAG]).rstrip(b"\0")
        if p:
            d["parentIdTag"] = p.decode()
        if rec[41] & 1:
            d["expiryDate"] = iso(struct.unpack_from("<q", rec, 42)[0])
        return d

    def update(self, list_version, update_type, entries):
        """Apply a SendLocalList.req; returns its UpdateStatus."""
        if not self.supported():
            return "NotSupported"
        full = update_type == "Full"
        why = None
        if not full and update_type != "Differential":
            why = "updateType must be Full or Differential"
        elif not _is_int(list_version) or list_version > _VMAX:
            why = "listVersion must be a 32-bit integer"
        elif not full and list_version <= self.version:
            log.info("locallist", "Differential update to version %d refused: the list is at "
                     "version %d (VersionMismatch)", list_version, self.version)
            return "VersionMismatch"
        elif entries is not None and not isinstance(entries, list):
            why = "localAuthorizationList must be an array"
        elif list_version < 0 or (list_version == 0 and entries):
            why = "listVersion %d: 0 and -1 are reserved (errata 3.52)" % list_version
        n = len(entries) if entries else 0
        i = 0
        while why is None and i < n:
            why = _bad_entry(entries[i], full)
            i += 1
        # Sort positions, not copies: RAM holds the message once.
        order = list(range(n))
        if why is None and n > 1:
            order.sort(key=lambda j: _key(entries[j]["idTag"]))
            for i in range(1, n):
                if _key(entries[order[i - 1]]["idTag"]) == _key(entries[order[i]]["idTag"]):
                    why = "idTag %s is listed twice" % entries[order[i]]["idTag"]
                    break
        if why is not None:
            log.warn("locallist", "%s update to version %r failed: %s; list unchanged",
                     update_type, list_version, why)
            return "Failed"
        try:
            return self._apply(entries, order, full, list_version, update_type)
        except OSError as e:
            log.error("locallist", "%s update to version %d failed: cannot write the list "
                      "(%s); list unchanged", update_type, list_version, e)
            return "Failed"

    def _apply(self, entries, order, full, version, kind):
        old = None
        if not full and self.count:
            try:
                old = open(self.path, "rb")
            except OSError as e:
                self._lost("cannot open it: %s" % e)
                return "Failed"
        most = self.cfg.get("LocalAuthListMaxLength")
        self._job = (old, entries, order, version, most)
        try:
            self.store.write_checked(NAME, self._fill)
        finally:
            self._job = None
            if old is not None:
                old.close()
        if self._short:
            self._lost("shorter than its trailer says")
            return "Failed"
        if self._n > most:
            log.warn("locallist", "%s update to version %d failed: the list would hold %d "
                     "entries, LocalAuthListMaxLength is %d; list unchanged",
                     kind, version, self._n, most)
            return "Failed"
        if not self._n:
            # An empty list is no list: version 0, nothing on flash.
            self.store.remove(NAME)
        self.count = self._n
        self.version = version if self.count else 0
        log.info("locallist", "%s update applied: version %d, %d entr%s", kind,
                 self.version, self.count, "y" if self.count == 1 else "ies")
        return "Accepted"

    def _fill(self, f):
        # The body of the new list file, for Store.write_checked; None gives up.
        old, entries, order, version, most = self._job
        out = _Out(f, self._obuf)
        self._short = self._merge(old, out, entries, order)
        out.flush()
        self._n = out.n
        if self._short or out.n > most:
            return None
        out.write(struct.pack(_TRAIL, _MAGIC, version, out.n))
        return out.size, out.crc

    def _merge(self, old, out, entries, order):
        """Write the merged records to out; True when the old file ran short."""
        n = len(order)
        ui = 0
        uk = _key(entries[order[0]]["idTag"]) if n else None
        left = self.count if old is not None else 0
        rec = self._rec
        if old is not None:
            old.seek(BODY)
        while left:
            if old.readinto(rec) != REC:
                return True
            left -= 1
            ok = rec[:_TAG]
            while uk is not None and uk <= ok:
                e = entries[order[ui]]
                if e.get("idTagInfo") is not None:
                    _pack(out.buf, out.slot(), e)
                # Equal keys: the entry replaced or deleted the old record.
                same = uk == ok
                ui += 1
                uk = _key(entries[order[ui]]["idTag"]) if ui < n else None
                if same:
                    break
            else:
                o = out.slot()
                out.buf[o:o + REC] = rec
        while uk is not None:
            e = entries[order[ui]]
            if e.get("idTagInfo") is not None:
                _pack(out.buf, out.slot(), e)
            ui += 1
            uk = _key(entries[order[ui]]["idTag"]) if ui < n else None
        return False
