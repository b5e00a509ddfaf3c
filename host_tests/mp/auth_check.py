# firmware/ocpp/auth.py checks, run under MicroPython and CPython by test_auth.py.
# argv[1]: an empty directory for the stores. Prints "PASS name" / "FAIL name: why",
# "MSG <action> <json>" for every request sent and "RES <action> <json>" for every
# idTagInfo answered (test_auth.py checks both against the official schemas).
import sys
import json
import asyncio
import compat
import log
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp import auth as authmod
from firmware.ocpp.auth import Auth
from firmware.ocpp.rpc import CallTimeout, CallError, LinkDown

ROOT = sys.argv[1]
T0 = 1767225600     # 2026-01-01T00:00:00Z
log.level = log.WARN
results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


class Net:
    """The central system's side of Authorize, and the link state."""
    def __init__(self):
        self.up = True
        self.fail = None        # exception to raise instead of answering
        self.answers = {}       # idTag -> idTagInfo, else Invalid
        self.raw = None         # whole response payload to answer instead
        self.sent = []

    async def call(self, action, payload):
        print("MSG %s %s" % (action, json.dumps(payload)))
        self.sent.append((action, payload))
        if not self.up:
            raise LinkDown("link down")
        if self.fail is not None:
            raise self.fail
        if self.raw is not None:
            return self.raw
        return {"idTagInfo": self.answers.get(payload["idTag"], {"status": "Invalid"})}

    def online(self):
        return self.up


class FakeList:
    def __init__(self, entries):
        self.entries = entries

    def lookup(self, tag):
        for k in self.entries:
            if k.lower() == tag.lower():
                return dict(self.entries[k])
        return None


def make(name, **cfgvals):
    st = Store(ROOT + "/" + name)
    cfg = Config(st)
    for k in cfgvals:
        cfg.set(k, cfgvals[k], "repl")
    net = Net()
    return st, cfg, net, Auth(cfg, st, net.call, net.online)


async def authz(a, tag):
    info = await a.authorize(tag)
    print("RES Authorize %s" % json.dumps({"idTagInfo": info}))
    return info


async def main():
    compat.set_wall(T0)
    exp1h = compat.iso(T0 + 3600)

    # --- online: Authorize.req, cache, LocalPreAuthorize
    st, cfg, net, a = make("online")
    net.answers["TAG1"] = {"status": "Accepted", "parentIdTag": "GRP", "expiryDate": exp1h}
    w = st.writes
    info = await authz(a, "TAG1")
    expect("online_unknown_asks_central_system",
           net.sent == [("Authorize", {"idTag": "TAG1"})] and info["status"] == "Accepted"
           and info.get("parentIdTag") == "GRP" and info.get("expiryDate") == exp1h, (net.sent, info))
    expect("answer_cached_one_write", a.tags() == ["tag1"] and st.writes == w + 1, (a.tags(), st.writes - w))

    net.sent = []
    w = st.writes
    info = await authz(a, "TAG1")
    expect("known_tag_without_preauthorize_still_asks",
           len(net.sent) == 1 and info["status"] == "Accepted", net.sent)
    expect("same_answer_no_flash_write", st.writes == w, st.writes - w)

    cfg.set("LocalPreAuthorize", "true", "repl")
    net.sent = []
    info = await authz(a, "tag1")
    expect("preauthorize_skips_network_case_insensitive",
           net.sent == [] and info == {"status": "Accepted", "parentIdTag": "GRP", "expiryDate": exp1h},
           (net.sent, info))

    net.answers["TAG2"] = {"status": "Blocked"}
    await authz(a, "TAG2")
    net.answers["TAG2"] = {"status": "Accepted"}
    net.sent = []
    info = await authz(a, "TAG2")
    expect("preauthorize_not_for_blocked_entry", len(net.sent) == 1 and info["status"] == "Accepted"
           and a.lookup("TAG2") == {"status": "Accepted"}, (net.sent, info))

    net.answers["TAG3"] = {"status": "Blocked", "parentIdTag": "GRP"}
    net.sent = []
    info = await authz(a, "TAG3")
    expect("online_blocked_answer_returned", info == {"status": "Blocked", "parentIdTag": "GRP"}
           and a.lookup("TAG3")["status"] == "Blocked", info)

    # --- offline rules
    net.up = False
    net.sent = []
    info = await authz(a, "TAG1")
    expect("offline_cached_accepted", info["status"] == "Accepted" and net.sent == [], (info, net.sent))
    cfg.set("AllowOfflineTxForUnknownId", "true", "repl")
    info = await authz(a, "TAG3")
    expect("offline_blocked_refused_despite_unknown_allowed", info["status"] == "Blocked", info)
    info = await authz(a, "NEWTAG")
    expect("offline_unknown_allowed", info == {"status": "Accepted"} and net.sent == [], (info, net.sent))
    cfg.set("AllowOfflineTxForUnknownId", "false", "repl")
    info = await authz(a, "NEWTAG")
    expect("offline_unknown_refused", info == {"status": "Invalid"}, info)
    expect("offline_decisions_not_cached", "newtag" not in a.tags(), a.tags())
    cfg.set("LocalAuthorizeOffline", "false", "repl")
    info = await authz(a, "TAG1")
    expect("local_authorize_offline_off_refuses_cached", info["status"] == "Invalid", info)
    cfg.set("AllowOfflineTxForUnknownId", "true", "repl")
    info = await authz(a, "TAG1")
    b = await authz(a, "TAG3")
    expect("local_authorize_offline_off_unknown_rule", info["status"] == "Accepted"
           and b["status"] == "Blocked", (info, b))
    cfg.set("AllowOfflineTxForUnknownId", "false", "repl")
    cfg.set("LocalAuthorizeOffline", "true", "repl")

    # Online but the Authorize.req fails: the offline rules decide.
    net.up = True
    cfg.set("LocalPreAuthorize", "false", "repl")
    for name, exc in (("timeout", CallTimeout("no answer")), ("callerror", CallError("InternalError")),
                      ("linkdown", LinkDown("gone"))):
        net.fail = exc
        net.sent = []
        i1 = await authz(a, "TAG1")
        i2 = await authz(a, "OTHER")
        expect("failed_authorize_falls_back_" + name, len(net.sent) == 2 and i1["status"] == "Accepted"
               and i2 == {"status": "Invalid"}, (net.sent, i1, i2))
    net.fail = None
    net.raw = {"nothing": 1}
    i1 = await authz(a, "TAG1")
    net.raw = {"idTagInfo": {"status": "Maybe"}}
    i2 = await authz(a, "TAG1")
    net.raw = {"idTagInfo": {"status": "Accepted", "expiryDate": "tomorrow"}}
    i3 = await authz(a, "OTHER")
    net.raw = None
    expect("malformed_conf_falls_back", i1["status"] == "Accepted" and i2["status"] == "Accepted"
           and i3 == {"status": "Invalid"} and "other" not in a.tags(), (i1, i2, i3, a.tags()))

    # ConcurrentTx: valid offline, but LocalPreAuthorize does not skip the network for it.
    net.answers["CTX"] = {"status": "ConcurrentTx"}
    await authz(a, "CTX")
    cfg.set("LocalPreAuthorize", "true", "repl")
    net.sent = []
    info = await authz(a, "CTX")
    expect("preauthorize_not_for_concurrent_tx", len(net.sent) == 1 and info["status"] == "ConcurrentTx",
           net.sent)
    net.up = False
    info = await authz(a, "CTX")
    expect("offline_concurrent_tx_is_valid", info["status"] == "Accepted", info)
    net.up = True

    # --- expiry
    compat.set_wall(T0 + 3601)
    net.sent = []
    info = await authz(a, "TAG1")
    expect("expired_entry_not_preauthorized", len(net.sent) == 1, net.sent)
    st2, cfg2, net2, a2 = make("expiry")
    net2.answers["OLD"] = {"status": "Accepted", "expiryDate": exp1h}
    compat.set_wall(T0)
    await authz(a2, "OLD")
    compat.set_wall(T0 + 3600)
    net2.up = False
    w = st2.writes
    info = await authz(a2, "OLD")
    expect("offline_expired_refused", info["status"] == "Expired" and info.get("expiryDate") == exp1h, info)
    expect("expiry_marked_in_cache_once", st2.writes == w + 1, st2.writes - w)
    w = st2.writes
    info = a2.lookup("OLD")
    expect("expired_mark_not_rewritten", st2.writes == w and info["status"] == "Expired", (st2.writes - w, info))
    cfg2.set("AllowOfflineTxForUnknownId", "true", "repl")
    info = await authz(a2, "OLD")
    expect("expired_not_treated_as_unknown", info["status"] == "Expired", info)
    a3 = Auth(cfg2, st2, net2.call, net2.online)
    expect("expired_mark_persisted", a3.lookup("OLD") == {"status": "Expired", "expiryDate": exp1h},
           a3.lookup("OLD"))
    compat.set_wall(T0)

    # --- invalid idTags never reach the network
    net.up = True
    net.sent = []
    i1 = await authz(a, "X" * 21)
    i2 = await authz(a, "")
    i3 = await a.authorize(None)
    expect("bad_id_tag_invalid_without_network", i1 == i2 == i3 == {"status": "Invalid"} and net.sent == [],
           (i1, i2, i3, net.sent))
    i1 = await authz(a, "Y" * 20)
    expect("twenty_chars_allowed", net.sent == [("Authorize", {"idTag": "Y" * 20})], net.sent)

    # --- local list precedence (3.5.3)
    st, cfg, net, a = make("list")
    net.answers["LT"] = {"status": "Accepted"}
    net.answers["BOTH"] = {"status": "Accepted", "parentIdTag": "C"}
    await authz(a, "BOTH")
    a.local_list = FakeList({"BOTH": {"status": "Blocked"}, "LT": {"status": "Accepted", "parentIdTag": "L"},
                             "OLDL": {"status": "Accepted", "expiryDate": compat.iso(T0 - 1)}})
    conflicts = []
    a.on_conflict = lambda *c: conflicts.append(c)
    expect("list_over_cache", a.lookup("both") == {"status": "Blocked"}, a.lookup("both"))
    net.up = False
    info = await authz(a, "BOTH")
    expect("list_blocked_refused_offline", info["status"] == "Blocked", info)
    cfg.set("LocalAuthListEnabled", "false", "repl")
    expect("list_disabled_cache_used", a.lookup("BOTH") == {"status": "Accepted", "parentIdTag": "C"},
           a.lookup("BOTH"))
    cfg.set("LocalAuthListEnabled", "true", "repl")
    net.up = True
    w = st.writes
    net.sent = []
    info = await authz(a, "LT")
    expect("list_tag_never_cached", len(net.sent) == 1 and "lt" not in a.tags() and st.writes == w,
           (net.sent, a.tags()))
    expect("update_skips_list_tag", a.update("LT", {"status": "Accepted"}) is False and "lt" not in a.tags())
    cfg.set("LocalPreAuthorize", "true", "repl")
    net.sent = []
    info = await authz(a, "LT")
    expect("preauthorize_from_list", net.sent == [] and info == {"status": "Accepted", "parentIdTag": "L"},
           (net.sent, info))
    info = a.lookup("OLDL")
    expect("list_entry_expired_copy", info["status"] == "Expired"
           and a.local_list.entries["OLDL"]["status"] == "Accepted", info)
    net.sent = []
    await authz(a, "OLDL")
    expect("expired_list_entry_asks_online", len(net.sent) == 1, net.sent)

    # --- LocalListConflict (3.5.2): answers that contradict the list
    expect("conflict_expired_entry_answered_invalid", conflicts == [("OLDL", "Expired", "Invalid")],
           conflicts)
    del conflicts[:]
    a.update("lt", {"status": "ConcurrentTx"})
    a.update("LT", {"status": "Accepted", "parentIdTag": "other"})
    expect("no_conflict_same_validity", conflicts == [], conflicts)
    a.update("Lt", {"status": "Blocked"})
    expect("conflict_blocked_against_accepted", conflicts == [("Lt", "Accepted", "Blocked")]
           and "lt" not in a.tags(), conflicts)
    del conflicts[:]
    a.update("OLDL", {"status": "Accepted"})
    expect("conflict_accepted_against_expired_entry", conflicts == [("OLDL", "Expired", "Accepted")],
           conflicts)
    del conflicts[:]
    cfg.set("AuthorizationCacheEnabled", "false", "repl")
    a.update("BOTH", {"status": "Accepted"})
    expect("conflict_reported_without_cache", conflicts == [("BOTH", "Blocked", "Accepted")], conflicts)
    cfg.set("AuthorizationCacheEnabled", "true", "repl")
    del conflicts[:]
    cfg.set("LocalAuthListEnabled", "false", "repl")
    a.update("LT", {"status": "Blocked"})
    expect("no_conflict_while_list_disabled", conflicts == [], conflicts)
    cfg.set("LocalAuthListEnabled", "true", "repl")
    a.clear_cache()

    # --- LRU eviction, NOT-valid first, persistence
    st, cfg, net, a = make("lru")
    n = authmod.MAX_ENTRIES
    for i in range(n):
        a.update("T%d" % i, {"status": "Accepted"})
    w = st.writes
    a.lookup("T0")
    expect("lookup_touch_no_write", st.writes == w and a.tags()[-1] == "t0" and len(a.tags()) == n,
           a.tags()[-3:])
    a.update("T%d" % n, {"status": "Accepted"})
    expect("lru_evicts_least_recently_used", "t1" not in a.tags() and "t0" in a.tags()
           and len(a.tags()) == n and st.writes == w + 1, (a.tags()[:3], st.writes - w))
    a.update("T10", {"status": "Blocked"})
    a.update("T11", {"status": "Accepted", "expiryDate": compat.iso(T0 - 60)})
    a.update("NEW1", {"status": "Accepted"})
    a.update("NEW2", {"status": "Accepted"})
    a.update("NEW3", {"status": "Accepted"})
    tags = a.tags()
    expect("not_valid_evicted_first", "t10" not in tags and "t11" not in tags and "t2" not in tags
           and "t3" in tags and len(tags) == n, tags[:4])
    order_saved = a.tags()
    a.lookup("T3")                      # recency only: not persisted
    b = Auth(cfg, st, net.call, net.online)
    expect("persisted_across_new_auth", b.tags() == order_saved, (b.tags()[:3], order_saved[:3]))
    a.update("NEW4", {"status": "Accepted"})   # a content change carries the new order too
    b = Auth(cfg, st, net.call, net.online)
    expect("recency_persisted_with_next_change", b.tags() == a.tags() and b.tags()[-2:] == ["t3", "new4"],
           b.tags()[-3:])
    w = st.writes
    a.update("NEW4", {"status": "Accepted"})
    expect("update_same_content_no_write", st.writes == w, st.writes - w)
    a.update("NEW4", {"status": "Accepted", "parentIdTag": "G"})
    a.update("NEW4", {"status": "Accepted", "parentIdTag": "G", "expiryDate": exp1h})
    a.update("NEW4", {"status": "Blocked", "parentIdTag": "G", "expiryDate": exp1h})
    expect("update_changed_content_writes", st.writes == w + 3, st.writes - w)
    expect("update_rejects_bad_info", a.update("NEW5", {"status": "Nope"}) is False
           and a.update("NEW5", "x") is False and a.update("N" * 21, {"status": "Accepted"}) is False
           and "new5" not in a.tags())

    # Disabled cache: not consulted, not updated, still clearable.
    cfg.set("AuthorizationCacheEnabled", "false", "repl")
    w = st.writes
    expect("disabled_cache_not_updated", a.update("NEW6", {"status": "Accepted"}) is False and st.writes == w)
    expect("disabled_cache_not_consulted", a.lookup("NEW4") is None, a.lookup("NEW4"))
    net.up = False
    info = await authz(a, "T3")
    expect("disabled_cache_offline_unknown", info == {"status": "Invalid"}, info)
    net.up = True
    cfg.set("AuthorizationCacheEnabled", "true", "repl")

    ok = a.clear_cache()
    expect("clear_cache", ok and a.tags() == [] and not st.exists(authmod.NAME)
           and Auth(cfg, st, net.call, net.online).tags() == [], a.tags())
    w = st.writes
    expect("clear_empty_cache_no_write", a.clear_cache() and st.writes == w)

    # A damaged or foreign file is not trusted.
    st.save(authmod.NAME, [["ok", 0, None, None], [1, 2], ["UPPER", 0, None, None],
                           ["bad", 9, None, None], ["p", 1, 5, "x" * 21]])
    b = Auth(cfg, st, net.call, net.online)
    expect("bad_entries_dropped_on_load", b.tags() == ["ok"], b.tags())
    st.save(authmod.NAME, {"e": [1, 2, 3]})
    expect("foreign_format_ignored", Auth(cfg, st, net.call, net.online).tags() == [])

    # --- stopping: same idTag or same parentIdTag
    st, cfg, net, a = make("group")
    a.update("MEMBER", {"status": "Accepted", "parentIdTag": "grp"})
    a.update("OTHER", {"status": "Accepted", "parentIdTag": "XYZ"})
    a.update("NOPARENT", {"status": "Accepted"})
    expect("same_tag_stops", a.same_group("StartTag", "GRP", "starttag"))
    expect("same_parent_stops", a.same_group("StartTag", "GRP", "MEMBER"))
    expect("other_parent_refused", not a.same_group("StartTag", "GRP", "OTHER"))
    expect("no_parent_refused", not a.same_group("StartTag", "GRP", "NOPARENT")
           and not a.same_group("StartTag", None, "NOPARENT") and not a.same_group("StartTag", None, "MEMBER"))
    expect("unknown_tag_refused_without_network", not a.same_group("StartTag", "GRP", "STRANGER")
           and net.sent == [])
    net.sent = []
    ok = await a.may_stop("StartTag", "GRP", "STARTTAG")
    expect("may_stop_same_tag_no_authorize", ok and net.sent == [], net.sent)
    net.answers["STRANGER"] = {"status": "Accepted", "parentIdTag": "GRP"}
    ok = await a.may_stop("StartTag", "GRP", "STRANGER")
    expect("may_stop_asks_parent_online", ok and net.sent == [("Authorize", {"idTag": "STRANGER"})]
           and a.same_group("StartTag", "GRP", "STRANGER"), net.sent)
    net.sent = []
    p = await a.parent_of("MEMBER")
    expect("parent_of_cached_no_network", p == "grp" and net.sent == [], (p, net.sent))
    net.up = False
    ok = await a.may_stop("StartTag", "GRP", "NOBODY")
    expect("may_stop_unknown_offline_refused", not ok and net.sent == [], net.sent)


asyncio.run(main())
if compat.MICROPYTHON:
    import gc
    # Heap held by a full cache of 20-character tags with parent and expiry.
    st = Store(ROOT + "/mem")
    cfg = Config(st)
    gc.collect()
    before = gc.mem_alloc()
    a = Auth(cfg, st, None, lambda: False)
    for i in range(authmod.MAX_ENTRIES):
        a.update("%020d" % i, {"status": "Accepted", "parentIdTag": "P%019d" % i,
                               "expiryDate": "2030-01-01T00:00:00Z"})
    gc.collect()
    print("MEM %d" % (gc.mem_alloc() - before))
print("DONE %d" % len(results))
