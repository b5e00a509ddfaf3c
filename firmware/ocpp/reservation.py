"""Reservations of the OCPP 1.6 Reservation profile (spec 3.11, 5.1, 5.13, 9.3.1).

    rs = Reservations(store, conns, cfg, changed)   they persist: they survive a reboot
    rs.reserve(c, expiry_s, tag, parent, rid) -> ReserveNow.conf status
    rs.cancel(rid) -> "Accepted" | "Rejected"
    rs.connector_of(rid) -> c or None
    rs.reserved(c) -> bool           connector c (>= 1) shows Reserved
    rs.allows(c, tag, parent) -> (ok, rid or None)   may tag start on c?
    rs.use(c, tag, parent) -> rid or None   a transaction of tag starts on c: the
                                     reservation it takes up, if any, ends
    rs.on_status(c, status) -> bool  Faulted / Unavailable end reservations (5.13)
    rs.expire(now_s) -> connectors whose reservation expired (0: a connector-0 one)
    rs.next_expiry_s(now_s=None) -> seconds to the next expiry, or None

conns are the connectors (firmware/ocpp/connector.py; conns[0] the charge point
as a whole), read for who is Available and who waits with an authorised tag.
changed(c) is told when a reservation came, went or moved, so the connector's
status is looked at again (None: every connector's, for a connector-0 one).

Tags match case-insensitively (IdToken is a CiString20). A reserved connector
starts only for a tag that belongs to the reservation: the incoming idTag or
its parentIdTag equals the reservation's idTag or parentIdTag (5.13).

A connector-0 reservation (only with ReserveConnectorZeroSupported) holds no
particular connector; it keeps one free connector for its tag (5.13). With k
such reservations, the free connectors that no specific reservation holds are
shared: while there are more than k of them, anyone may start on them and none
shows Reserved; when only k are left, they all show Reserved and take only the
tags of connector-0 reservations. A tag of a connector-0 reservation uses it
up on whichever connector it starts. A connector that a reserving tag has
authorised (waiting for the plug) shows Preparing rather than Reserved (G2).

Choices where the spec is silent: an expiryDate already past is Rejected; a
replacement (same reservationId) that cannot be made leaves the old one in
place; a connector that does not exist is Rejected. For connector 0 without a
free connector the answer is Occupied if any connector is busy or reserved,
else Faulted if any is faulted, else Unavailable.
"""
import log
from compat import wall, wall_known, const, ci_key, EPOCH_2020

NAME = "resv"

# Entry fields: [reservationId, connector, expiry - EPOCH_2020 (a small int on
# boards), idTag, parentIdTag or None]
_RID = const(0)
_CON = const(1)
_EXP = const(2)
_TAG = const(3)
_PAR = const(4)

_BUSY = ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing")
_NONE = ()


def _matches(e, tag, parent):
    have = (ci_key(e[_TAG]), ci_key(e[_PAR]))
    for t in (ci_key(tag), ci_key(parent)):
        if t is not None and (t == have[0] or t == have[1]):
            return True
    return False


def _auth_parent(auth):
    info = auth[1]
    return info.get("parentIdTag") if isinstance(info, dict) else None


def _idle(conn):
    # Available but for reservations: the connector's own state, not its
    # status() (which asks reserved()).
    return conn.state()[0] == "Available"


def _valid(e, n):
    if not isinstance(e, list) or len(e) != 5:
        return False
    for i in (_RID, _CON, _EXP):
        if not isinstance(e[i], int) or isinstance(e[i], bool):
            return False
    if not 0 <= e[_CON] <= n or ci_key(e[_TAG]) is None or len(e[_TAG]) > 20:
        return False
    return e[_PAR] is None or (isinstance(e[_PAR], str) and len(e[_PAR]) <= 20)


class Reservations:
    def __init__(self, store, conns, cfg, changed):
        self.store = store
        self.conns = conns
        self.n = len(conns) - 1
        self.cfg = cfg
        self.changed = changed
        self._r = []
        self._next = None          # earliest expiry (relative), None when empty
        self._load()

    # ---- persistence
    def _load(self):
        data = self.store.load(NAME)
        if data is None:
            return
        seen = []
        ok = isinstance(data, list)
        for e in data if ok else ():
            # At most one reservation per id and per specific connector, at most n in all.
            if not _valid(e, self.n) or e[_RID] in seen or len(self._r) >= self.n \
                    or (e[_CON] and self._at(e[_CON]) is not None):
                ok = False
                continue
            seen.append(e[_RID])
            self._r.append(e)
        if not ok:
            log.warn("resv", "stored reservations partly unreadable; kept %d", len(self._r))
            self._save()
        self._renext()

    def _save(self):
        if self._r:
            self.store.save(NAME, self._r)
        else:
            self.store.remove(NAME)
        self._renext()

    def _renext(self):
        nxt = None
        for e in self._r:
            if nxt is None or e[_EXP] < nxt:
                nxt = e[_EXP]
        self._next = nxt

    # ---- lookups
    def _find(self, rid):
        for e in self._r:
            if e[_RID] == rid:
                return e
        return None

    def _at(self, c):
        for e in self._r:
            if e[_CON] == c:
                return e
        return None

    def __len__(self):
        return len(self._r)

    def connector_of(self, rid):
        e = self._find(rid)
        return None if e is None else e[_CON]

    def has_zero(self):
        """Any connector-0 reservation: then one connector's change can change
        what the others show, so the caller refreshes them all."""
        return self._at(0) is not None

    def _pool(self, skip=None, but=0):
        # (free connectors no specific reservation holds, connector-0
        # reservations not already claimed by an authorised tag), leaving out
        # reservation `skip` and connector `but`.
        conns = self.conns
        free = 0
        for c in range(1, self.n + 1):
            if c == but:
                continue
            e = self._at(c)
            if (e is None or e[_RID] == skip) and _idle(conns[c]):
                free += 1
        want = 0
        for e in self._r:
            if e[_CON] == 0 and e[_RID] != skip and not self._claimed(e):
                want += 1
        return free, want

    def _claimed(self, e):
        for conn in self.conns[1:]:
            a = conn.auth
            if a is not None and conn.tx is None and _matches(e, a[0], _auth_parent(a)):
                return True
        return False

    # ---- what the connectors show and who may start
    def reserved(self, c):
        e = self._at(c)
        if e is not None:
            a = self.conns[c].auth
            return a is None or not _matches(e, a[0], _auth_parent(a))
        if not self.has_zero() or not _idle(self.conns[c]):
            return False
        free, want = self._pool()
        return free <= want

    def for_group(self, c=None):
        """True when a reservation that binds connector c (its own, or one on
        connector 0; any with c None) names a parentIdTag: a tag's group matters."""
        for e in self._r:
            if e[_PAR] and (c is None or e[_CON] == 0 or e[_CON] == c):
                return True
        return False

    def allows(self, c, tag, parent):
        e = self._at(c)
        if e is not None:
            if _matches(e, tag, parent):
                return True, e[_RID]
            return False, None
        for z in self._r:
            if z[_CON] == 0 and _matches(z, tag, parent):
                return True, z[_RID]
        if not self.has_zero():
            return True, None
        free, want = self._pool(but=c)
        return free >= want, None

    # ---- changes
    def reserve(self, c, expiry_s, tag, parent, rid, now_s=None):
        if not 0 <= c <= self.n:
            return "Rejected"
        if c == 0 and not self.cfg.get("ReserveConnectorZeroSupported"):
            return "Rejected"
        now = wall() if now_s is None else now_s
        if expiry_s <= now:
            log.info("resv", "reservation %s refused: expiry date is in the past", rid)
            return "Rejected"
        st = self._check(c, rid)
        if st != "Accepted":
            log.info("resv", "reservation %s on connector %d: %s", rid, c, st)
            return st
        old = self._find(rid)
        if old is not None:
            self._r.remove(old)
        self._r.append([rid, c, int(expiry_s) - EPOCH_2020, tag, parent or None])
        self._save()
        log.info("resv", "connector %d reserved for %s (reservation %s)", c, tag, rid)
        if old is not None and old[_CON] != c:
            self.changed(old[_CON] or None)
        self.changed(c or None)
        return "Accepted"

    def _check(self, c, rid):
        st0 = self.conns[0].status()[0]
        if st0 == "Faulted" or st0 == "Unavailable":
            return st0
        if c:
            return self._check_one(c, rid, True)
        free, want = self._pool(skip=rid)
        if free > want:
            return "Accepted"
        worst = "Unavailable"
        for k in range(1, self.n + 1):
            st = self._check_one(k, rid, False)
            if st == "Occupied" or st == "Accepted":
                # A free one here is already held for other connector-0 reservations.
                return "Occupied"
            if st == "Faulted":
                worst = st
        return worst

    def _check_one(self, c, rid, pool):
        conn = self.conns[c]
        st = conn.status()[0]
        if st == "Faulted" or st == "Unavailable":
            return st
        e = self._at(c)
        if conn.tx is not None:
            return "Occupied"
        if e is not None:
            # Our own reservation (a replacement) may show Reserved, or Preparing
            # once its tag was presented; anyone else's makes c taken.
            return "Accepted" if e[_RID] == rid and st in ("Reserved", "Preparing") else "Occupied"
        if st in _BUSY:
            return "Occupied"
        if pool and self.has_zero():
            # Taking c out of the shared pool must leave one for each connector-0 reservation.
            free, want = self._pool(skip=rid, but=c)
            if free < want:
                return "Occupied"
        return "Accepted"

    def cancel(self, rid):
        e = self._find(rid)
        if e is None:
            return "Rejected"
        self._r.remove(e)
        self._save()
        log.info("resv", "reservation %s cancelled", rid)
        self.changed(e[_CON] or None)
        return "Accepted"

    def use(self, c, tag, parent):
        """A transaction of tag (parentIdTag parent) starts on connector c: the
        reservationId it takes up, which ends, or None."""
        e = self._find(self.allows(c, tag, parent)[1])
        if e is None:
            return None
        self._r.remove(e)
        self._save()
        log.info("resv", "reservation %s used by a transaction", e[_RID])
        if e[_CON] == 0:
            # The connectors the pool held may be free now.
            self.changed(None)
        return e[_RID]

    def on_status(self, c, status):
        """Spec 5.13 (3): a reservation ends when its connector, or the charge
        point (connector 0: every reservation), turns Faulted or Unavailable."""
        if status != "Faulted" and status != "Unavailable" or not self._r:
            return False
        n = len(self._r)
        if c == 0:
            self._r = []
        else:
            e = self._at(c)
            if e is not None:
                self._r.remove(e)
        if len(self._r) == n:
            return False
        log.info("resv", "connector %d %s: %d reservation(s) ended", c, status, n - len(self._r))
        self._save()
        return True

    def expire(self, now_s=None):
        # Called often (the charge point's tick): one comparison while nothing is due.
        # On the live clock a reservation waits for the time to be known: a
        # board's RTC after a power cut, or the provisional clock, decides nothing.
        if self._next is None or (now_s is None and not wall_known()):
            return _NONE
        now = (wall() if now_s is None else now_s) - EPOCH_2020
        if now < self._next:
            return _NONE
        gone = []
        keep = []
        for e in self._r:
            if e[_EXP] <= now:
                gone.append(e[_CON])
                log.info("resv", "reservation %s on connector %d expired", e[_RID], e[_CON])
            else:
                keep.append(e)
        self._r = keep
        self._save()
        for c in gone:
            self.changed(c or None)
        return gone

    def next_expiry_s(self, now_s=None):
        if self._next is None:
            return None
        now = (wall() if now_s is None else now_s) - EPOCH_2020
        return max(0, self._next - now)
