"""Upgrading keeps the data: the files release 0.1.0 wrote (every one it keeps,
host_tests/fixtures/release-0.1.0, made by that release's own code with
fixtures/make_release_0_1_0.py) are read by this firmware, on both runtimes,
and a file of a format version it does not know is refused, never parsed."""
import os
import shutil

import pytest

from mprun import must_pass, run, RUNTIMES

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "release-0.1.0")
MUST = """nothing_refused_or_dropped config device authcache_upgraded locallist reservation
profiles availability register_and_queue transaction_recovered recovery_files_gone
rewritten_in_current_version every_file_listed fixture_has_every_file""".split()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_release_0_1_0_data_is_read(runtime, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, str(data))
    must_pass(runtime, os.path.join(HERE, "mp", "upgrade_check.py"), str(data), MUST, len(MUST))


NEWER = r'''
import sys, log
from firmware.store import Store
from firmware.recordlog import RecordLog
lines = []
log.add_sink(lambda lvl, line: lines.append(line))
st = Store(sys.argv[1])
st.save("config", {"HeartbeatInterval": 60})
p = sys.argv[1] + "/config"
f = open(p, "rb"); data = bytearray(f.read()); f.close()
data[1] = ord("7")        # a format version 7 that this firmware does not know
f = open(p, "wb"); f.write(data); f.close()
print("LOAD", st.load("config", "default"), st.exists("config"))
q = RecordLog(st, "txq")
q.append({"q": 1})
f = open(sys.argv[1] + "/txq", "rb"); rec = bytearray(f.read()); f.close()
rec[0] = 0xA4 + 7         # the same record, marked as version 7
f = open(sys.argv[1] + "/txq", "ab"); f.write(rec); f.close()
print("RECORDS", [r for _o, r in RecordLog(st, "txq").records()])
for l in lines:
    print("LOG", l)
'''


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unknown_version_refused_with_a_log_line(runtime, tmp_path):
    script = tmp_path / "newer.py"
    script.write_text(NEWER)
    rc, out = run(runtime, str(script), str(tmp_path))
    assert rc == 0, out
    assert "LOAD default True" in out, out          # not parsed, and left on flash
    assert "RECORDS [{'q': 1}]" in out, out          # the version 7 record is not read
    logs = [l for l in out.splitlines() if l.startswith("LOG ")]
    assert any("config is format version 7, this firmware reads version 1" in l for l in logs), logs
    assert any("txq: 1 record(s) of format version 7" in l for l in logs), logs


TXQ_1 = os.path.join(HERE, "fixtures", "txq-1")
MUST_TXQ = """nothing_refused_or_dropped register_raised_to_the_queued_reading
delivered_in_order_with_ids begin_reading_of_the_old_file transaction_files_gone
queue_rewritten_in_version_2 nothing_left""".split()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_queue_format_1_is_read(runtime, tmp_path):
    # Transactions running when the power went, written by the queue's format
    # version 1 (fixtures/make_txq_1.py): both end, in order, with their ids.
    data = tmp_path / "data"
    shutil.copytree(TXQ_1, str(data))
    must_pass(runtime, os.path.join(HERE, "mp", "upgrade_txq_check.py"), str(data), MUST_TXQ,
              len(MUST_TXQ))
