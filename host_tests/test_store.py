"""firmware/store.py: checked files replaced atomically, and checked record logs.
A torn or damaged file must never be parsed as truth."""
import binascii
import json
import os
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (_ROOT, os.path.join(_ROOT, "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import log  # noqa: E402
from firmware import store as store_mod  # noqa: E402
from firmware.store import Store, StoreError, soft_crc32, crc32  # noqa: E402
from firmware.recordlog import RecordLog  # noqa: E402
from mprun import cases, run, RUNTIMES  # noqa: E402

OBJ = {"HeartbeatInterval": 60, "list": ["a", "b"], "flag": True, "none": None,
       "text": "caf\u00e9 \"quoted\"", "nested": {"x": [1, 2, {"y": -3}]}}


@pytest.fixture
def warns():
    lines = []

    def sink(lvl, line):
        if lvl >= log.WARN:
            lines.append(line)
    log.add_sink(sink)
    yield lines
    log.remove_sink(sink)


def _bytes(p):
    with open(p, "rb") as f:
        return f.read()


def _put(p, data):
    with open(p, "wb") as f:
        f.write(data)


def test_round_trip_and_file_format(tmp_path):
    st = Store(str(tmp_path / "a" / "b"))     # made on demand, nested
    for obj in (OBJ, [1, 2, 3], "text", 12345, None, {}, [], {"big": "x" * 3000}):
        st.save("thing", obj)
        assert st.load("thing") == obj
    raw = _bytes(str(tmp_path / "a" / "b" / "thing"))
    head, body = raw[:21], raw[21:]
    assert head == b"S1 %08x %08x\n" % (len(body), binascii.crc32(body))
    assert json.loads(body) == {"big": "x" * 3000}


def test_missing_exists_remove_and_names(tmp_path):
    st = Store(str(tmp_path))
    sentinel = object()
    assert st.load("nope", sentinel) is sentinel
    assert not st.exists("cfg")
    st.save("cfg", {"a": 1})
    assert st.exists("cfg")
    assert st.remove("cfg") is True
    assert not st.exists("cfg") and st.load("cfg") is None
    assert st.remove("cfg") is False
    for bad in ("", "a/b", "x.tmp", ".hidden"):
        with pytest.raises(ValueError):
            st.save(bad, 1)


def test_truncated_at_every_offset_is_dropped(tmp_path, warns):
    st = Store(str(tmp_path))
    st.save("cfg", OBJ)
    p = str(tmp_path / "cfg")
    good = _bytes(p)
    sentinel = {"default": True}
    for n in range(len(good)):
        _put(p, good[:n])
        del warns[:]
        assert st.load("cfg", sentinel) is sentinel, n
        assert not os.path.exists(p), "a damaged file is removed (%d)" % n
        assert len(warns) == 1 and "store: cfg is damaged" in warns[0], warns
    _put(p, good)
    assert st.load("cfg", sentinel) == OBJ


def test_every_single_bit_flip_is_detected(tmp_path, warns):
    st = Store(str(tmp_path))
    st.save("cfg", {"k": [1, "ab"], "b": False})
    p = str(tmp_path / "cfg")
    good = _bytes(p)
    sentinel = object()
    for i in range(len(good)):
        for bit in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            _put(p, bytes(bad))
            assert st.load("cfg", sentinel) is sentinel, (i, bit)
    assert len(warns) == len(good) * 8


def test_extra_bytes_and_bad_json_with_good_checksum(tmp_path, warns):
    st = Store(str(tmp_path))
    p = str(tmp_path / "cfg")
    st.save("cfg", [1])
    _put(p, _bytes(p) + b" ")
    assert st.load("cfg", "d") == "d"
    body = b"{not json"
    _put(p, b"S1 %08x %08x\n" % (len(body), binascii.crc32(body)) + body)
    assert st.load("cfg", "d") == "d"
    assert "not valid JSON" in warns[-1]


def test_leftover_tmp_from_a_power_cut_is_ignored_and_cleaned(tmp_path):
    st = Store(str(tmp_path))
    st.save("cfg", {"v": 1})
    # The cut came after the new file was fully written but before the rename:
    # the save never happened, the old value stands.
    _put(str(tmp_path / "cfg.tmp"), _bytes(str(tmp_path / "cfg")).replace(b"1", b"2"))
    assert st.load("cfg") == {"v": 1}
    assert not os.path.exists(str(tmp_path / "cfg.tmp"))
    # A half-written tmp with no old file: nothing to load.
    _put(str(tmp_path / "new.tmp"), b"S1 000")
    _put(str(tmp_path / "other.tmp"), b"x")
    assert st.load("new", "dflt") == "dflt"
    assert st.cleanup() == 1
    assert sorted(os.listdir(str(tmp_path))) == ["cfg"]


def test_a_cut_before_rename_keeps_the_old_file(tmp_path, monkeypatch):
    st = Store(str(tmp_path))
    st.save("cfg", {"v": 1})

    def cut(a, b):
        raise KeyboardInterrupt("power cut")     # not an OSError: the cut, not FAT
    monkeypatch.setattr(store_mod.os, "rename", cut)
    with pytest.raises(KeyboardInterrupt):
        st.save("cfg", {"v": 2})
    monkeypatch.undo()
    assert st.load("cfg") == {"v": 1}


def test_a_cut_while_writing_the_body_keeps_the_old_file(tmp_path, monkeypatch):
    st = Store(str(tmp_path))
    st.save("cfg", {"v": 1})

    def boom(obj, stream):
        stream.write('{"v": ')
        raise MemoryError("out of heap")
    monkeypatch.setattr(store_mod.json, "dump", boom)
    with pytest.raises(MemoryError):
        st.save("cfg", {"v": 2})
    monkeypatch.undo()
    assert not os.path.exists(str(tmp_path / "cfg.tmp"))
    assert st.load("cfg") == {"v": 1}


def test_rename_that_cannot_replace_is_refused_with_the_reason(tmp_path, monkeypatch):
    st = Store(str(tmp_path))

    def fat_rename(a, b):
        raise OSError(17, "EEXIST")
    monkeypatch.setattr(store_mod.os, "rename", fat_rename)
    with pytest.raises(StoreError) as e:
        st.save("cfg", 1)
    assert "littlefs" in str(e.value) and "FAT" in str(e.value)
    assert not os.path.exists(str(tmp_path / "cfg.tmp"))


def test_counters_count_writes_and_bytes(tmp_path):
    st = Store(str(tmp_path))
    assert (st.writes, st.bytes_written) == (0, 0)
    total = 0
    for i in range(5):
        st.save("n%d" % i, {"i": i, "pad": "x" * i})
        total += os.path.getsize(str(tmp_path / ("n%d" % i)))
    st.load("n1")
    st.exists("n1")
    assert st.writes == 5 and st.bytes_written == total
    q = RecordLog(st, "q")
    q.append({"a": 1})
    assert st.writes == 6 and st.bytes_written == total + os.path.getsize(str(tmp_path / "q"))


def test_soft_crc_matches_binascii():
    for data in (b"", b"a", b"hello world", bytes(range(256)) * 3):
        assert soft_crc32(data) == binascii.crc32(data)
        assert soft_crc32(data, 12345) == binascii.crc32(data, 12345)
        assert crc32(data) == binascii.crc32(data)


# ---- the record log


def _fill(st, n=4):
    q = RecordLog(st, "q")
    offs = [q.append({"seq": i, "pad": "p" * (i * 3)}) for i in range(n)]
    return q, offs


def test_record_log_round_trip_and_reopen(tmp_path):
    st = Store(str(tmp_path))
    q, offs = _fill(st)
    assert offs[0] == 0 and offs == sorted(offs)
    assert [o for o, _ in q.records()] == offs
    assert [r["seq"] for _, r in q.records()] == [0, 1, 2, 3]
    assert [r["seq"] for _, r in q.records(offs[2])] == [2, 3]
    q2 = RecordLog(st, "q")
    assert (q2.count, q2.size) == (4, os.path.getsize(str(tmp_path / "q")))
    with pytest.raises(ValueError):
        RecordLog(st, "small", 16).append("x" * 20)
    nulls = RecordLog(st, "nulls")
    nulls.append(None)
    nulls.append(0)
    assert [r for _, r in RecordLog(st, "nulls").records()] == [None, 0]


def test_record_log_torn_at_every_offset(tmp_path, warns):
    st = Store(str(tmp_path))
    q, offs = _fill(st)
    p = str(tmp_path / "q")
    good = _bytes(p)
    ends = offs[1:] + [len(good)]
    for n in range(len(good) + 1):
        _put(p, good[:n])
        q = RecordLog(st, "q")
        whole = sum(1 for e in ends if e <= n)
        assert q.count == whole, n
        assert [r["seq"] for _, r in q.records()] == list(range(whole))
        # The torn tail is gone from the file, so a new record is readable after it.
        q.append({"seq": "new"})
        assert [r["seq"] for _, r in RecordLog(st, "q").records()] == list(range(whole)) + ["new"]
        assert os.path.getsize(p) == (ends[whole - 1] if whole else 0) + 7 + len('{"seq":"new"}')
    assert any("q: dropped" in w for w in warns)


def test_record_log_damage_in_the_middle_costs_one_record(tmp_path, warns):
    st = Store(str(tmp_path))
    q, offs = _fill(st, 5)
    p = str(tmp_path / "q")
    good = _bytes(p)
    for pos in range(offs[2], offs[3]):
        for bit in (0, 5):
            bad = bytearray(good)
            bad[pos] ^= 1 << bit
            _put(p, bytes(bad))
            seqs = [r["seq"] for _, r in RecordLog(st, "q").records()]
            assert seqs == [0, 1, 3, 4], (pos, bit, seqs)


def test_record_log_rewrite_maps_and_drops(tmp_path):
    st = Store(str(tmp_path))
    q, _ = _fill(st, 6)
    w = st.writes

    def fix(r):
        if r["seq"] % 2:
            return None
        r["tx"] = 77
        return r
    assert q.rewrite(fix) == 3
    assert st.writes == w + 1
    assert [(r["seq"], r["tx"]) for _, r in RecordLog(st, "q").records()] == [(0, 77), (2, 77), (4, 77)]
    def bug(r):
        raise ValueError("a bug in the caller's function")
    with pytest.raises(ValueError):
        q.rewrite(bug)
    assert RecordLog(st, "q").count == 3, "a failed rewrite leaves the log as it was"
    assert q.rewrite(lambda r: None) == 0
    assert not os.path.exists(str(tmp_path / "q"))
    q.append(1)
    q.clear()
    assert q.count == 0 and list(q.records()) == []


# ---- the same properties under the real MicroPython interpreter

MP_SCRIPT = r'''
import os, sys
from firmware.store import Store
from firmware.recordlog import RecordLog
import log
root = sys.argv[1]
warned = []
log.add_sink(lambda lvl, line: warned.append(line) if lvl >= log.WARN else None)
def check(name, ok):
    print(("PASS " if ok else "FAIL ") + name)
def raw(p):
    f = open(p, "rb"); d = f.read(); f.close(); return d
def put(p, d):
    f = open(p, "wb"); f.write(d); f.close()
st = Store(root)
obj = {"a": [1, 2, "x"], "t": True, "s": "caf\u00e9", "n": None, "d": {"k": -5}}
st.save("cfg", obj)
check("round trip", st.load("cfg") == obj)
check("counters", st.writes == 1 and st.bytes_written == os.stat(root + "/cfg")[6])
good = raw(root + "/cfg")
ok = True
for n in range(len(good)):
    put(root + "/cfg", good[:n])
    if st.load("cfg", "D") != "D" or st.exists("cfg"):
        ok = False
check("truncated at every offset", ok and len(warned) == len(good))
ok = True
for i in range(len(good)):
    for bit in (0, 3, 6):
        b = bytearray(good); b[i] ^= 1 << bit; put(root + "/cfg", bytes(b))
        if st.load("cfg", "D") != "D":
            ok = False
check("bit flips", ok)
put(root + "/cfg", good)
put(root + "/cfg.tmp", b"S1 half")
check("tmp ignored", st.load("cfg") == obj)
check("tmp removed", "cfg.tmp" not in os.listdir(root))
q = RecordLog(st, "q")
offs = [q.append({"seq": i}) for i in range(3)]
data = raw(root + "/q")
ends = offs[1:] + [len(data)]
ok = True
for n in range(len(data) + 1):
    put(root + "/q", data[:n])
    q = RecordLog(st, "q")
    whole = len([e for e in ends if e <= n])
    q.append({"seq": 9})
    got = [r["seq"] for _, r in RecordLog(st, "q").records()]
    if got != list(range(whole)) + [9]:
        ok = False
        print("torn", n, got)
check("record log torn tail", ok)
b = bytearray(data); b[offs[1] + 9] ^= 4; put(root + "/q", bytes(b))
check("record log bad middle", [r["seq"] for _, r in RecordLog(st, "q").records()] == [0, 2])
print("DONE")
'''


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_store_on_both_runtimes(tmp_path, runtime):
    script = tmp_path / "store_check.py"
    script.write_text(MP_SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    passed, failed, out = cases(runtime, str(script), str(data))
    assert not failed, out
    assert len(passed) == 8, out


BIG_SCRIPT = r'''
import sys
from firmware.store import Store
from firmware.recordlog import RecordLog
st = Store(sys.argv[1])
q = RecordLog(st, "big")
for i in range(2500):
    q.append({"seq": i, "pad": "abcdefghijklmnopqrstuvwxyz"})
seqs = 0
for off, r in q.records():
    seqs += r["seq"]
again = RecordLog(st, "big")
print("size", q.size, "count", again.count, "sum", seqs)
print("DONE")
'''


def test_a_log_larger_than_the_heap_is_read_record_by_record(tmp_path):
    # 140 KB of records in a 64 KB MicroPython heap: nothing reads the whole file.
    script = tmp_path / "big.py"
    script.write_text(BIG_SCRIPT)
    rc, out = run("micropython", str(script), str(tmp_path), heap=64)
    assert rc == 0, out
    size = int(out.split("size ")[1].split()[0])
    assert size > 128 * 1024
    assert "count 2500 sum %d" % sum(range(2500)) in out
