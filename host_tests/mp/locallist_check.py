# firmware/ocpp/locallist.py checks, run under MicroPython and CPython by
# test_locallist.py. argv[1]: an empty directory for the stores.
# Prints "PASS name" / "FAIL name: why" and "DONE n".
import os
import sys
import compat
import log
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp import locallist as llmod
from firmware.ocpp.locallist import LocalList, NAME
from firmware.ocpp.auth import Auth

ROOT = sys.argv[1]
T0 = 1767225600     # 2026-01-01T00:00:00Z
log.level = log.INFO
lines = []
log.add_sink(lambda lvl, line: lines.append(line))
results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def make(name, **defaults):
    st = Store(ROOT + "/" + name)
    return st, Config(st, defaults=defaults or None)


def raw(st):
    try:
        f = open(st.path(NAME), "rb")
    except OSError:
        return None
    try:
        return f.read()
    finally:
        f.close()


def put(path, data):
    f = open(path, "wb")
    f.write(data)
    f.close()


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def ent(tag, status="Accepted", exp=None, parent=None):
    if status is None:
        return {"idTag": tag}
    info = {"status": status}
    if exp is not None:
        info["expiryDate"] = exp
    if parent is not None:
        info["parentIdTag"] = parent
    return {"idTag": tag, "idTagInfo": info}


def same_list(ll, want, universe):
    """want: tag -> idTagInfo; every tag of universe must look up as want says."""
    bad = []
    for t in universe:
        got = ll.lookup(t)
        if got != want.get(t):
            bad.append((t, got, want.get(t)))
    return bad


def main():
    compat.set_wall(T0)
    past = "2025-06-01T12:00:00Z"
    st, cfg = make("basic")
    ll = LocalList(st, cfg)
    expect("empty_list", ll.version == 0 and ll.count == 0 and ll.lookup("A") is None
           and raw(st) is None)

    # --- Full
    w = st.writes
    r = ll.update(5, "Full", [ent("TAG-B", "Blocked"),
                              ent("tag-a", "Accepted", "2030-01-01T01:00:00.250+01:00", "Group1"),
                              ent("MiXeD", "ConcurrentTx", None, "Group1"),
                              ent("OLD", "Accepted", past)])
    expect("full_accepted", r == "Accepted" and ll.version == 5 and ll.count == 4
           and st.writes == w + 1, (r, ll.version, ll.count))
    expect("full_written_as_store_format", raw(st)[:3] == b"S1 " and len(raw(st)) == 21 + 4 * 50 + 12,
           raw(st)[:30])
    expect("lookup_stored_values",
           ll.lookup("tag-a") == {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z",
                                  "parentIdTag": "Group1"}
           and ll.lookup("TAG-B") == {"status": "Blocked"}
           and ll.lookup("MiXeD") == {"status": "ConcurrentTx", "parentIdTag": "Group1"},
           (ll.lookup("tag-a"), ll.lookup("TAG-B"), ll.lookup("MiXeD")))
    expect("lookup_case_insensitive",
           ll.lookup("TAG-A") == ll.lookup("Tag-A") == ll.lookup("tag-a") is not None
           and ll.lookup("mixed") == ll.lookup("MIXED") is not None and ll.lookup("tag-b") is not None)
    expect("lookup_absent_any_position",
           [ll.lookup(t) for t in ("0", "AAA", "n", "NOPE", "tag-", "tag-c", "zzzz", "tag-a ")] == [None] * 8)
    expect("lookup_bad_tags", [ll.lookup(t) for t in ("", None, 12, "x" * 21)] == [None] * 4)
    expect("expired_entry_returned_as_stored",
           ll.lookup("old") == {"status": "Accepted", "expiryDate": past}, ll.lookup("old"))

    # --- Differential: add, replace, delete, delete unknown
    r = ll.update(6, "Differential", [ent("new1", "Invalid"), ent("TAG-A", "Blocked"),
                                       ent("tag-b", None), ent("ghost", None), ent("ZZZ")])
    expect("differential_accepted", r == "Accepted" and ll.version == 6 and ll.count == 5,
           (r, ll.version, ll.count))
    want = {"TAG-A": {"status": "Blocked"}, "tag-a": {"status": "Blocked"}, "NEW1": {"status": "Invalid"},
            "zzz": {"status": "Accepted"}, "old": {"status": "Accepted", "expiryDate": past},
            "mixed": {"status": "ConcurrentTx", "parentIdTag": "Group1"}}
    universe = list(want) + ["tag-b", "ghost", "a", "zzzz"]
    bad = same_list(ll, want, universe)
    expect("differential_add_replace_delete", not bad, bad)

    # --- version semantics
    before = raw(st)
    statuses = [ll.update(6, "Differential", [ent("X1")]), ll.update(3, "Differential", [ent("X1")]),
                ll.update(0, "Differential", []), ll.update(-1, "Differential", [])]
    expect("differential_not_newer_version_mismatch", statuses == ["VersionMismatch"] * 4
           and raw(st) == before and ll.version == 6 and ll.lookup("X1") is None, statuses)
    expect("version_mismatch_logged", "is at version 6" in lines[-1], lines[-1:])
    r = ll.update(7, "Differential", [])
    expect("differential_empty_only_version", r == "Accepted" and ll.version == 7 and ll.count == 5
           and not same_list(ll, want, universe), (r, ll.version))
    r = ll.update(2, "Full", [ent("LOW1"), ent("low2", "Expired")])
    expect("full_lower_version_replaces", r == "Accepted" and ll.version == 2 and ll.count == 2
           and ll.lookup("low2") == {"status": "Expired"} and ll.lookup("tag-a") is None, (r, ll.version))
    r = ll.update(9, "Full", [])
    expect("full_empty_clears_version_0", r == "Accepted" and ll.version == 0 and ll.count == 0
           and raw(st) is None and ll.lookup("low1") is None, (r, ll.version))
    r = ll.update(1, "Differential", [ent("d1"), ent("d2", None)])
    expect("differential_on_empty_list", r == "Accepted" and ll.version == 1 and ll.count == 1
           and ll.lookup("D1") == {"status": "Accepted"}, (r, ll.version, ll.count))
    r = ll.update(2, "Differential", [ent("d1", None)])
    expect("differential_deleting_last_entry_empties", r == "Accepted" and ll.version == 0
           and ll.count == 0 and raw(st) is None, (r, ll.version))
    ll.update(4, "Full", [ent("keep")])
    r0 = ll.update(0, "Full", [ent("a")])
    rneg = ll.update(-1, "Full", [])
    expect("reserved_versions_failed", r0 == "Failed" and rneg == "Failed" and ll.version == 4
           and ll.lookup("keep") is not None, (r0, rneg))
    r = ll.update(0, "Full", [])
    expect("full_version_0_empty_clears", r == "Accepted" and ll.version == 0 and ll.count == 0, r)

    # --- Failed: the list is left exactly as it was
    ll.update(10, "Full", [ent("base1"), ent("base2", "Blocked")])
    before = raw(st)
    del lines[:]
    cases = (
        ("full_without_idtaginfo", (11, "Full", [ent("a"), ent("b", None)]), "requires"),
        ("duplicate_tags_any_case", (11, "Full", [ent("abc"), ent("x"), ent("ABC", "Blocked")]), "twice"),
        ("duplicate_in_differential", (11, "Differential", [ent("q"), ent("Q", None)]), "twice"),
        ("bad_status", (11, "Full", [ent("a", "Nope")]), "no valid status"),
        ("info_not_object", (11, "Differential", [{"idTag": "a", "idTagInfo": "Accepted"}]),
         "no valid status"),
        ("parent_not_text", (11, "Full", [ent("a", "Accepted", None, 7)]), "parentIdTag"),
        ("bad_expiry", (11, "Full", [ent("a", "Accepted", "tomorrow")]), "date-time"),
        ("expiry_not_text", (11, "Full", [ent("a", "Accepted", 12345)]), "date-time"),
        ("tag_over_20_bytes", (11, "Full", [ent("\u00e9" * 11)]), "20 bytes"),
        ("tag_over_20_chars", (11, "Differential", [ent("x" * 21)]), "20 bytes"),
        ("empty_tag", (11, "Differential", [ent("")]), "20 bytes"),
        ("parent_over_20_bytes", (11, "Full", [ent("a", "Accepted", None, "\u00e9" * 11)]), "parentIdTag"),
        ("entry_not_object", (11, "Full", ["a"]), "not an object"),
        ("entries_not_list", (11, "Full", {"idTag": "a"}), "array"),
        ("bad_update_type", (11, "Partial", []), "updateType"),
        ("version_not_int", (True, "Full", []), "32-bit"),
        ("version_too_big", (2 ** 31, "Full", []), "32-bit"),
    )
    for name, args, why in cases:
        n = len(lines)
        r = ll.update(*args)
        expect("failed_" + name, r == "Failed" and raw(st) == before and ll.version == 10
               and ll.count == 2 and len(lines) == n + 1 and why in lines[-1], (r, lines[n:]))
    expect("failed_leaves_no_tmp", not exists(st.path(NAME) + ".tmp"))
    r = ll.update(11, "Full", [ent("\u00e9" * 10, "Accepted", None, "P\u00e9re")])
    expect("non_ascii_tag_within_20_bytes", r == "Accepted" and ll.lookup("\u00e9" * 10)
           == {"status": "Accepted", "parentIdTag": "P\u00e9re"}, r)

    # --- persistence
    ll.update(12, "Full", [ent("p%02d" % i, ("Accepted", "Blocked", "Expired")[i % 3],
                               "2031-02-03T04:05:06Z" if i % 2 else None, "G%d" % (i % 4) if i % 5 else None)
                           for i in range(31, -1, -1)])
    ll2 = LocalList(st, cfg)
    bad = []
    for i in range(32):
        for t in ("p%02d" % i, "P%02d" % i):
            if ll2.lookup(t) != ll.lookup(t) or ll.lookup(t) is None:
                bad.append(t)
    expect("persisted_across_new_instance", ll2.version == 12 and ll2.count == 32 and not bad
           and ll.lookup("p07") == {"status": "Blocked", "expiryDate": "2031-02-03T04:05:06Z",
                                     "parentIdTag": "G3"}, (ll2.version, ll2.count, bad, ll.lookup("p07")))

    # --- LocalAuthListMaxLength
    st, cfg = make("max", LocalAuthListMaxLength=10)
    ll = LocalList(st, cfg)
    ten = [ent("m%d" % i) for i in range(10)]
    r1 = ll.update(1, "Full", ten)
    before = raw(st)
    r2 = ll.update(2, "Differential", [ent("m99")])
    r3 = ll.update(2, "Full", ten + [ent("m99")])
    expect("over_max_length_failed", r1 == "Accepted" and r2 == "Failed" and r3 == "Failed"
           and raw(st) == before and ll.count == 10 and ll.version == 1
           and "LocalAuthListMaxLength is 10" in lines[-1], (r1, r2, r3, lines[-1:]))
    r = ll.update(2, "Differential", [ent("a-first"), ent("m9", None)])
    expect("add_and_delete_within_max", r == "Accepted" and ll.count == 10
           and ll.lookup("a-first") is not None and ll.lookup("m9") is None, r)

    # --- support and enablement
    st, cfg = make("unsupported", SupportedFeatureProfiles="Core,SmartCharging")
    ll = LocalList(st, cfg)
    expect("not_supported", ll.update(1, "Full", [ent("a")]) == "NotSupported" and ll.count == 0)
    st, cfg = make("disabled")
    cfg.set("LocalAuthListEnabled", "false", "repl")
    ll = LocalList(st, cfg)
    r = ll.update(3, "Full", [ent("a", "Blocked")])
    a = Auth(cfg, st, None, lambda: False)
    a.local_list = ll
    off = a.lookup("A")
    cfg.set("LocalAuthListEnabled", "true", "repl")
    expect("disabled_list_kept_in_sync_not_used", r == "NotSupported" and ll.version == 0 and off is None
           and a.lookup("A") is None, (r, off))
    ll.update(4, "Differential", [ent("gone", "Accepted", past), ent("grp", "Accepted", None, "Boss")])
    expect("auth_judges_expiry_list_untouched", a.lookup("gone")["status"] == "Expired"
           and ll.lookup("gone")["status"] == "Accepted", a.lookup("gone"))
    expect("auth_group_from_list", a.same_group("other", "boss", "GRP"))
    a.update("grp", {"status": "Blocked"})
    expect("auth_list_tags_not_cached", a.tags() == [] and a.lookup("grp")["status"] == "Accepted",
           a.tags())

    # --- damage: a torn file at every byte offset, a flipped byte at every offset
    st, cfg = make("torn")
    ll = LocalList(st, cfg)
    ll.update(8, "Full", [ent("t%d" % i, "Accepted", "2030-01-01T00:00:00Z", "PP") for i in range(5)])
    good = raw(st)
    path = st.path(NAME)
    missed = []
    del lines[:]
    for cut in range(len(good)):
        put(path, good[:cut])
        t = LocalList(st, cfg)
        if t.version != 0 or t.count != 0 or t.lookup("t1") is not None or exists(path):
            missed.append(cut)
    expect("torn_at_every_offset_empty", not missed and len(good) == 21 + 5 * 50 + 12, missed[:10])
    expect("torn_logged_each_time", len(lines) == len(good) - 0 and "damaged" in lines[-1],
           (len(lines), lines[-1:]))
    missed = []
    for i in range(len(good)):
        b = bytearray(good)
        b[i] ^= 0x10
        put(path, bytes(b))
        t = LocalList(st, cfg)
        if t.count != 0 or t.version != 0:
            missed.append(i)
    expect("flipped_byte_at_every_offset_empty", not missed, missed[:10])
    put(path, good + b"x")
    expect("longer_file_empty", LocalList(st, cfg).count == 0)
    put(path, good)
    t = LocalList(st, cfg)
    expect("good_file_again", t.version == 8 and t.count == 5 and t.lookup("T4") is not None)

    # --- a power cut during an update
    put(path + ".tmp", good[:100])
    t = LocalList(st, cfg)
    expect("leftover_tmp_ignored_and_removed", t.count == 5 and not exists(path + ".tmp"))
    import firmware.store as stmod

    class NoRename:
        # The store's os, but the cut falls just before the rename.
        def __getattr__(self, name):
            return getattr(os, name)

        def rename(self, a, b):
            pass
    stmod.os = NoRename()
    try:
        t.update(9, "Full", [ent("other")])
    finally:
        stmod.os = os
    expect("cut_before_rename_keeps_old", exists(path + ".tmp"), "no tmp")
    t = LocalList(st, cfg)
    expect("cut_before_rename_old_list", t.version == 8 and t.count == 5 and t.lookup("other") is None
           and t.lookup("t0") is not None and not exists(path + ".tmp"))
    os.remove(path)
    del lines[:]
    expect("file_gone_under_us", t.lookup("t0") is None and t.count == 0 and t.version == 0
           and "damaged" in lines[-1], lines)
    t.update(9, "Full", [ent("t%d" % i) for i in range(5)])
    put(path, good[:21 + 100])      # replaced behind our back by a shorter one
    expect("short_file_on_lookup", t.lookup("t4") is None and t.count == 0)
    t.update(10, "Full", [ent("t%d" % i) for i in range(5)])
    put(path, good[:21 + 100])
    r = t.update(11, "Differential", [ent("t9")])
    expect("short_file_on_differential_failed", r == "Failed" and t.count == 0 and not exists(path)
           and not exists(path + ".tmp"), r)

    # --- binary search over a larger list, inserted in every order
    st, cfg = make("big")
    ll = LocalList(st, cfg)
    tags = ["k%03d" % i for i in range(0, 192, 6)]
    ll.update(1, "Full", [ent(t) for t in tags])
    ver = 2
    for start in range(1, 6):
        batch = [ent("K%03d" % i, "Blocked") for i in range(start, 192, 6)]
        ll.update(ver, "Differential", batch[::-1] if start % 2 else batch)
        ver += 1
    bad = []
    for i in range(192):
        want = {"status": "Accepted" if i % 6 == 0 else "Blocked"}
        if ll.lookup("k%03d" % i) != want or ll.lookup("K%03d" % i) != want:
            bad.append(i)
    for t in ("k", "k0000", "k192", "k0", "j999", "l000"):
        if ll.lookup(t) is not None:
            bad.append(t)
    data = raw(st)
    keys = [data[21 + i * 50:21 + i * 50 + 20] for i in range(192)]
    expect("sorted_merge_and_binary_search", ll.count == 192 and not bad and keys == sorted(keys), bad[:10])


main()
print("DONE %d" % len(results))
