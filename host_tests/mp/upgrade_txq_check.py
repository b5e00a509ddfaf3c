# The transaction data of the queue's format version 1 (acknowledgements as
# records of their own, each transaction in its file tx<c>) read by this
# firmware: run by test_upgrade.py under MicroPython and CPython on a copy of
# host_tests/fixtures/txq-1 (argv[1]), written by that format's own code
# (fixtures/make_txq_1.py). Prints "PASS name" / "FAIL name: why" and "DONE n".
import os
import sys
import log
import board as simboard
from compat import parse_iso, set_wall
from firmware.main import App
from rpcfake import expect, results

ROOT = sys.argv[1]
lines = []
log.add_sink(lambda lvl, line: lines.append(line))
log.level = log.INFO
set_wall(parse_iso("2026-09-01T09:00:00Z"))
app = App(simboard.Board({"data_dir": ROOT, "connectors": 2}), link_up=False)
cp = app.cp
text = "\n".join(lines)
expect("nothing_refused_or_dropped", "damaged" not in text and "not read" not in text, lines)
expect("register_raised_to_the_queued_reading", app.register.saved[0] == 900, app.register.saved)
# Both transactions ran when the power went: each ends with PowerLoss, after
# what was waiting, in order; the first keeps the id the central system gave.
sent = []
ids = {"StartTransaction": 99}
while len(sent) < 10:
    m = cp.txs.next_message()
    if m is None:
        break
    action, payload, done = m
    sent.append((action, payload))
    done({"transactionId": ids[action], "idTagInfo": {"status": "Accepted"}}
         if action in ids else {})
got = [(a, p.get("transactionId"), p.get("reason")) for a, p in sent]
expect("delivered_in_order_with_ids", got == [
    ("MeterValues", 4242, None), ("StartTransaction", None, None),
    ("StopTransaction", 4242, "PowerLoss"), ("StopTransaction", 99, "PowerLoss")], got)
stop1 = sent[2][1] if len(sent) > 2 else {}
expect("begin_reading_of_the_old_file", [mv["sampledValue"][0]["context"]
                                         for mv in stop1.get("transactionData", ())]
       == ["Transaction.Begin", "Transaction.End"] and stop1.get("meterStop") == 900, stop1)
expect("transaction_files_gone", "tx1" not in os.listdir(ROOT) and "tx2" not in os.listdir(ROOT),
       os.listdir(ROOT))
cp.queue.flush()
f = open(ROOT + "/txq", "rb")
head = f.read(1)
f.close()
expect("queue_rewritten_in_version_2", head == b"\xa6", head)
expect("nothing_left", cp.queue.pending == 0 and not cp.queue.open
       and all(c.tx is None for c in cp.conns[1:]), cp.queue.open)
print("DONE %d" % len(results))
