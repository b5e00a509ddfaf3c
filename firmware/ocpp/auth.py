# Authorization of idTags (OCPP 1.6 sections 3.5 and 4.1): the Authorize
# exchange, the authorization cache and the decision rules online and offline.
#
#   auth = Auth(cfg, store, call, online)
#   info = await auth.authorize("04A2B3C4")   -> {"status": "Accepted", ...}
#   auth.update(tag, idTagInfo)                after Start/StopTransaction.conf
#   auth.on_conflict = fn(tag, listed, given)  the list and the central system disagree
#   auth.same_group(tag_a, parent_a, tag_b)    may tag_b stop tag_a's transaction?
#
# Precedence (spec 3.5.3): the local authorization list (issue 5, plugged in as
# `local_list`) over the cache; a tag the list knows is never cached. idTags are
# CiString20 (errata 3.73): matched without regard to ASCII case. When the
# central system's answer for a listed tag disagrees with the list, 3.5.2 asks
# for a StatusNotification with LocalListConflict: on_conflict is told, and the
# charge point sends it. Accepted and ConcurrentTx count as one validity (a
# listed tag may well be in use elsewhere), and a listed entry past its
# expiryDate counts as Expired.
#
# The cache is one list of small tuples (key, status, expiry, parent), oldest use
# first, at most MAX_ENTRIES long; its file (format version 2, store.FILES) is
# that list. Spec 3.5.1 asks that a full cache drops
# NOT-valid entries before valid ones; within each kind the least recently used
# goes first. It lives on flash as one Store file rewritten only when what it
# says changes (a new tag, a new status, expiry or parent, an entry expiring,
# an eviction). A lookup only reorders it in RAM: flash is not worn by every
# tag presented, so after a power cut the recency order is the one of the last
# content change; that costs at most a less fitting eviction, never a wrong
# authorization.
import log
from compat import wall, iso, parse_iso, const, ci_key, MICROPYTHON, EPOCH_2020

MAX_ENTRIES = const(64)
NAME = "authcache"

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
_ACCEPTED = const(0)
_EXPIRED = const(2)
_CONCURRENT = const(4)

# Expiry dates are kept as seconds since compat.EPOCH_2020: small ints on boards.
def _key(tag):
    # The cache's key (compat.ci_key): text, for its JSON file; at most 20 characters.
    k = ci_key(tag)
    if k is None or len(tag) > 20:
        return None
    return k.decode() if MICROPYTHON else k.decode("utf-8", "surrogatepass")


def _same(a, b):
    k = _key(a)
    return k is not None and k == _key(b)


def clean_info(info):
    """A checked copy of an idTagInfo from the central system, or None."""
    if not isinstance(info, dict) or info.get("status") not in STATUSES:
        return None
    out = {"status": info["status"]}
    p = info.get("parentIdTag")
    if p is not None:
        if not isinstance(p, str) or len(p) > 20:
            return None
        out["parentIdTag"] = p
    x = info.get("expiryDate")
    if x is not None:
        try:
            parse_iso(x)
        except (ValueError, TypeError):
            return None
        out["expiryDate"] = x
    return out


def _expired(info, now):
    x = info.get("expiryDate")
    if x is None:
        return False
    try:
        return parse_iso(x) <= now
    except (ValueError, TypeError):
        return True     # a date we cannot read does not vouch for anything


def _validity(info, now):
    # The status an idTagInfo stands for, for comparing list and answer.
    s = info.get("status")
    if s == "ConcurrentTx":
        return "Accepted"
    if s == "Accepted" and now is not None and _expired(info, now):
        return "Expired"
    return s


def _info(e):
    d = {"status": STATUSES[e[1]]}
    if e[3] is not None:
        d["parentIdTag"] = e[3]
    if e[2] is not None:
        d["expiryDate"] = iso(e[2] + EPOCH_2020)
    return d


def _upgrade(version, saved):
    # Format version 1 (release 0.1.0) wrapped the rows: {"v": 1, "e": rows}.
    return saved.get("e") if isinstance(saved, dict) and saved.get("v") == 1 else None


def _entry_ok(e):
    return (isinstance(e, (list, tuple)) and len(e) == 4 and isinstance(e[0], str)
            and _key(e[0]) == e[0]
            and isinstance(e[1], int) and 0 <= e[1] < len(STATUSES)
            and (e[2] is None or isinstance(e[2], int))
            and (e[3] is None or (isinstance(e[3], str) and len(e[3]) <= 20)))


class Auth:
    def __init__(self, cfg, store, call, online):
        self.cfg = cfg
        self.store = store
        self.call = call            # async (action, payload) -> response payload
        self.online = online        # () -> True when requests may be sent
        self.local_list = None      # issue 5: .lookup(id_tag) -> idTagInfo or None
        self.on_conflict = None     # (tag, list status, central system's status)
        self._e = []
        self._load()

    # --- the cache on flash

    def _load(self):
        rows = self.store.load(NAME, None, _upgrade)
        if rows is None:
            return
        if not isinstance(rows, list):
            log.warn("auth", "saved authorization cache has an unknown format; starting empty")
            return
        bad = 0
        for r in rows[-MAX_ENTRIES:]:
            if _entry_ok(r):
                self._e.append((r[0], r[1], r[2], r[3]))
            else:
                bad += 1
        if bad:
            log.warn("auth", "%d unreadable authorization cache entr(y/ies) dropped", bad)

    def _save(self):
        try:
            # Tuples go out as JSON arrays on both runtimes; oldest use first.
            self.store.save(NAME, self._e)
            return True
        except OSError as ex:
            # RAM stays right; the next content change tries again.
            log.error("auth", "authorization cache not saved (%s); it lasts until restart", ex)
            return False

    def _find(self, k):
        e = self._e
        for i in range(len(e)):
            if e[i][0] == k:
                return i
        return -1

    def _evict(self):
        # Spec 3.5.1: NOT-valid entries go before valid ones, each kind oldest use first.
        now = wall()
        e = self._e
        for i in range(len(e)):
            s = e[i][1]
            if not ((s == _ACCEPTED or s == _CONCURRENT)
                    and (e[i][2] is None or e[i][2] + EPOCH_2020 > now)):
                return e.pop(i)
        return e.pop(0)

    def tags(self):
        """Cached keys (lower case), least recently used first."""
        return [x[0] for x in self._e]

    def _cache_on(self):
        return self.cfg.get("AuthorizationCacheEnabled")

    def _list_info(self, id_tag):
        ll = self.local_list
        if ll is None or not self.cfg.get("LocalAuthListEnabled"):
            return None
        return ll.lookup(id_tag)

    # --- lookups without the network

    def lookup(self, id_tag):
        """idTagInfo from the local list, else the cache, else None. An entry
        whose expiryDate has passed comes back as Expired."""
        k = _key(id_tag)
        if k is None:
            return None
        info = self._list_info(id_tag)
        if info is not None:
            # The list is the central system's alone (3.5.2): a copy is marked
            # Expired, the list itself is left as it is.
            if info.get("status") != "Expired" and _expired(info, wall()):
                info = dict(info)
                info["status"] = "Expired"
            return info
        if not self._cache_on():
            return None
        i = self._find(k)
        if i < 0:
            return None
        e = self._e.pop(i)
        if (e[1] == _ACCEPTED or e[1] == _CONCURRENT) and e[2] is not None and e[2] + EPOCH_2020 <= wall():
            # 3.5.1: "when the validity of a Cache entry expires, it SHALL be
            # changed to expired in the Cache".
            e = (e[0], _EXPIRED, e[2], e[3])
            self._e.append(e)
            self._save()
        else:
            self._e.append(e)
        return _info(e)

    def update(self, id_tag, id_tag_info):
        """Record an idTagInfo the central system gave; True when flash was written."""
        k = _key(id_tag)
        info = clean_info(id_tag_info)
        if k is None or info is None:
            log.warn("auth", "idTagInfo for %r not cached: not a valid idTag/idTagInfo", id_tag)
            return False
        listed = self._list_info(id_tag)
        if listed is not None:
            mine = _validity(listed, wall())
            theirs = _validity(info, None)
            if mine != theirs and self.on_conflict is not None:
                self.on_conflict(id_tag, mine, theirs)
            return False        # 3.5.3: list identifiers are never cached
        if not self._cache_on():
            return False
        x = info.get("expiryDate")
        new = (k, STATUSES.index(info["status"]),
               None if x is None else parse_iso(x) - EPOCH_2020, info.get("parentIdTag"))
        i = self._find(k)
        if i >= 0:
            old = self._e.pop(i)
            self._e.append(new)
            if old == new:
                return False
        else:
            if len(self._e) >= MAX_ENTRIES:
                gone = self._evict()
                log.debug("auth", "cache full: %s evicted", gone[0])
            self._e.append(new)
        return self._save()

    def clear_cache(self):
        """Empty the cache in RAM and on flash; False if the file stays."""
        self._e = []
        if self.store.exists(NAME):
            self.store.remove(NAME)
            if self.store.exists(NAME):
                log.error("auth", "authorization cache file could not be removed")
                return False
        log.info("auth", "authorization cache cleared")
        return True

    # --- decisions

    def _offline(self, local):
        # Spec 3.5 / 3.5.4. A known tag that is not valid is refused whatever
        # AllowOfflineTxForUnknownId says.
        if local is not None:
            s = local.get("status")
            if s != "Accepted" and s != "ConcurrentTx":
                return local
            if self.cfg.get("LocalAuthorizeOffline"):
                # ConcurrentTx counts as valid (3.5.2) offline: it described a
                # transaction elsewhere at the time it was received, and this
                # charger knows its own transactions.
                if s != "Accepted":
                    local = dict(local)
                    local["status"] = "Accepted"
                return local
            # Local authorization is off: the tag is as good as unknown here.
        if self.cfg.get("AllowOfflineTxForUnknownId"):
            return {"status": "Accepted"}
        return {"status": "Invalid"}

    async def ask(self, id_tag):
        """The central system's idTagInfo (also cached), or None when it could not answer."""
        try:
            res = await self.call("Authorize", {"idTag": id_tag})
        except Exception as ex:
            log.warn("auth", "Authorize %s failed (%s); deciding locally", id_tag, ex)
            return None
        info = clean_info(res.get("idTagInfo")) if isinstance(res, dict) else None
        if info is None:
            log.warn("auth", "Authorize.conf for %s has no valid idTagInfo; deciding locally", id_tag)
            return None
        self.update(id_tag, info)
        return info

    async def authorize(self, id_tag):
        """idTagInfo deciding whether id_tag may charge: status, and parentIdTag
        and expiryDate when known. Only "Accepted" means yes."""
        if _key(id_tag) is None:
            log.warn("auth", "idTag %r refused: 1 to 20 characters expected", id_tag)
            return {"status": "Invalid"}
        local = self.lookup(id_tag)
        if self.online():
            if local is not None and local.get("status") == "Accepted" \
                    and self.cfg.get("LocalPreAuthorize"):
                return local
            info = await self.ask(id_tag)
            if info is not None:
                return info
        return self._offline(local)

    def same_group(self, tag_a, parent_a, tag_b):
        """May tag_b stop a transaction started by tag_a (parentIdTag parent_a)?
        Uses what the list or cache knows of tag_b, never the network."""
        if _same(tag_a, tag_b):
            return True
        if not parent_a:
            return False
        info = self.lookup(tag_b)
        return info is not None and _same(info.get("parentIdTag"), parent_a)

    async def parent_of(self, id_tag):
        """tag's parentIdTag from the list or cache, else from an Authorize.req
        when online; None when it has none or nobody can tell."""
        info = self.lookup(id_tag)
        if info is None and self.online() and _key(id_tag) is not None:
            info = await self.ask(id_tag)
        return info.get("parentIdTag") if info is not None else None

    async def may_stop(self, tag_a, parent_a, tag_b):
        """same_group(), asking the central system for tag_b's parent when no
        one here knows it. The starting tag itself never causes an Authorize.req
        (spec 4.1: MUST NOT)."""
        if _same(tag_a, tag_b):
            return True
        if not parent_a:
            return False
        return _same(await self.parent_of(tag_b), parent_a)
