# Transaction queue checks, run under MicroPython and CPython by test_txqueue.py.
# argv[1]: an empty directory. Prints PASS/FAIL lines and DONE n.
import sys
import log
from firmware.store import Store
from firmware.ocpp.txqueue import TxQueue

ROOT = sys.argv[1]
log.level = log.ERROR + 1
results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def mv(wh):
    return {"connectorId": 1, "transactionId": None,
            "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",
                            "sampledValue": [{"value": str(wh)}]}]}


def start(wh=0):
    return {"connectorId": 1, "idTag": "T", "meterStart": wh, "timestamp": "2026-01-01T00:00:00Z"}


def stop(wh):
    return {"meterStop": wh, "timestamp": "2026-01-01T00:00:00Z", "reason": "Local",
            "transactionId": None}


st = Store(ROOT + "/a")
q = TxQueue(st)
ref = q.next_ref()
got = q.push("StartTransaction", None, start(10), 1)
expect("ref_predicted", got == ref)
q.push("MeterValues", ref, mv(15), 1)
q.push("StopTransaction", ref, stop(20), 1)
h = q.head()
expect("head_is_start", h[1] == "StartTransaction" and h[2]["meterStart"] == 10, h)

# A restart before any answer: everything still there, in order.
q = TxQueue(Store(ROOT + "/a"))
expect("survives_restart", q.pending == 3 and q.head()[1] == "StartTransaction", q.pending)
seq = q.head()[0]
q.ack(seq, 42)
h = q.head()
expect("id_filled_in_meter_values", h[1] == "MeterValues" and h[2]["transactionId"] == 42, h)
expect("floor_sees_readings", q.floor(1) == [20], q.floor(1))

# A restart after the Start was acknowledged: not sent again, the id kept.
q = TxQueue(Store(ROOT + "/a"))
h = q.head()
expect("acked_not_resent", q.pending == 2 and h[1] == "MeterValues" and h[2]["transactionId"] == 42,
       (q.pending, h))
q.ack(h[0])
h = q.head()
expect("id_filled_in_stop", h[1] == "StopTransaction" and h[2]["transactionId"] == 42, h)
q.registers = lambda: [20]
w0 = q.log.store.writes
q.ack(h[0])
expect("empty", q.pending == 0 and q.head() is None)
expect("last_ack_waits_in_ram", q.log.store.writes == w0, q.log.store.writes - w0)
# A power cut now: the Stop, answered but not acknowledged on flash, goes once more.
q2 = TxQueue(Store(ROOT + "/a"))
h2 = q2.head()
expect("unwritten_ack_resends_the_last_one_only", q2.pending == 1 and h2[1] == "StopTransaction"
       and h2[2]["transactionId"] == 42, (q2.pending, h2))
q.flush()
expect("log_shrinks_to_a_checkpoint", q.log.count == 1 and q.log.store.writes == w0 + 1,
       (q.log.count, q.log.store.writes - w0))
q = TxQueue(Store(ROOT + "/a"))
expect("seq_continues", q.next_ref() == 4, q.next_ref())
expect("register_record_kept", q.floor(1) == [20], q.floor(1))

# Online: each message pushed while nothing waits replaces the log by a
# checkpoint and itself; the acknowledgement of the one before rides along.
st = Store(ROOT + "/e")
q = TxQueue(st)
q.registers = lambda: [30]
noted = []
q.noted = noted.append
w0 = st.writes
r = q.push("StartTransaction", None, start(30), 1, {"parent": "G", "start_s": 1})
h = q.head()
q.ack(h[0], 77, None, 0)
expect("start_ack_at_once", st.writes == w0 + 2 and q.open[r]["id"] == 77, st.writes - w0)
for k in range(5):
    q.push("MeterValues", r, mv(31 + k), 1)
    h = q.head()
    q.ack(h[0])
q.push("StopTransaction", r, stop(40), 1)
expect("one_write_a_message", st.writes == w0 + 8 and q.log.count == 2,
       (st.writes - w0, q.log.count))
expect("registers_noted", noted[-1] == [30] and len(noted) == 8, noted)
expect("log_stays_small", q.log.size < 600, q.log.size)
# A cut while a transaction runs: its state comes back from the checkpoint.
st = Store(ROOT + "/f")
q = TxQueue(st)
r = q.push("StartTransaction", None, start(50), 2, {"parent": "G", "start_s": 7, "begin": {"x": 1}})
q.ack(q.head()[0], 88, {"invalid": True, "cap": 60}, 3000)
q.push("MeterValues", r, mv(55), 2)
q = TxQueue(Store(ROOT + "/f"))
o = q.open.get(r)
expect("open_transaction_recovered", o is not None and o["c"] == 2 and o["tag"] == "T"
       and o["start_wh"] == 50 and o["parent"] == "G" and o["begin"] == {"x": 1}
       and o["id"] == 88 and o["invalid"] and o["cap"] == 60 and q.pending == 1, (o, q.pending))
expect("id_from_riding_ack", q.head()[2]["transactionId"] == 88, q.head())
# Messages already on flash (offline): each acknowledgement is written before
# the next one goes, so a cut repeats at most one.
q.push("MeterValues", r, mv(56), 2)
q.push("StopTransaction", r, stop(57), 2)
h = q.head()
q.ack(h[0])
w0 = q.log.store.writes
h = q.head()
expect("ack_written_before_next_send", q.log.store.writes == w0 + 1 and h[2]["meterValue"], h)
q = TxQueue(Store(ROOT + "/f"))
expect("cut_repeats_none_written", q.pending == 2 and not q.open, (q.pending, q.open))

# A StartTransaction given up: its Stop says -1 (spec: unknown transaction).
st = Store(ROOT + "/b")
q = TxQueue(st)
r = q.push("StartTransaction", None, start(), 1)
q.push("StopTransaction", r, stop(5), 1)
q.head()
gave_up = [q.failed(3, 1) for _ in range(3)]
expect("gives_up_after_attempts", gave_up == [False, False, True], gave_up)
q.ack(r, -1)
q._retry_at = None
h = q.head()
expect("stop_of_undelivered_start_is_minus_1", h is not None and h[2]["transactionId"] == -1, h)

# The n-th retry waits n x the interval.
st = Store(ROOT + "/c")
q = TxQueue(st)
q.push("StartTransaction", None, start(), 1)
q.failed(5, 10)
d1 = q.due_ms()
q.failed(5, 10)
d2 = q.due_ms()
expect("retry_waits_grow", 9000 <= d1 <= 10000 and 19000 <= d2 <= 20000, (d1, d2))
expect("not_due_while_waiting", q.head() is None)
q.retry_now()
expect("due_after_reconnect", q.head() is not None)

# Flash budget: 100 offline transactions with meter values; periodic values
# are thinned, Starts and Stops never.
st = Store(ROOT + "/d")
q = TxQueue(st, max_bytes=48 * 1024)
w0 = st.writes
for t in range(100):
    r = q.push("StartTransaction", None, start(t * 10), 1)
    for k in range(6):
        q.push("MeterValues", r, mv(t * 10 + k), 1)
    q.push("StopTransaction", r, stop(t * 10 + 9), 1)
kinds = {}
for _off, rec in q.log.records():
    if "q" in rec:
        kinds[rec["a"]] = kinds.get(rec["a"], 0) + 1
expect("starts_and_stops_all_kept", kinds.get("StartTransaction") == 100
       and kinds.get("StopTransaction") == 100, kinds)
expect("meter_values_thinned", 0 < kinds.get("MeterValues", 0) < 600, kinds)
expect("pending_counts_match", q.pending == sum(kinds.values()), (q.pending, kinds))
expect("within_budget", q.log.size < 48 * 1024 * 5 // 4 + 2048, q.log.size)
expect("few_rewrites", st.writes - w0 < 800 + 20, st.writes - w0)
# Delivered in order after reconnect.
q = TxQueue(Store(ROOT + "/d"))
order = []
n = 0
while q.head() is not None and n < 2000:
    s, a, p = q.head()
    order.append(a)
    q.ack(s, 1000 + n if a == "StartTransaction" else None)
    n += 1
starts = [i for i in range(len(order)) if order[i] == "StartTransaction"]
stops = [i for i in range(len(order)) if order[i] == "StopTransaction"]
expect("delivered_in_order", len(starts) == 100 and all(a < b for a, b in zip(starts, stops)),
       (len(starts), len(stops)))
# Meter values are packed on flash and sent as they were made.
from firmware.ocpp.txrecord import pack, unpack
full = {"timestamp": "2026-01-01T00:00:01Z", "sampledValue": [
    {"value": "1234", "context": "Sample.Periodic", "format": "Raw",
     "measurand": "Energy.Active.Import.Register", "unit": "Wh", "location": "Outlet"},
    {"value": "7.5", "context": "Sample.Periodic", "format": "Raw", "measurand": "Current.Import",
     "unit": "A", "phase": "L1"},
    {"value": "3", "measurand": "Voltage", "unit": "Wh-ish"}]}
expect("pack_round_trip", unpack(pack(full)) == full and len(str(pack(full))) < len(str(full)) // 2,
       pack(full))
odd = {"timestamp": "2026-01-01T00:00:01Z", "sampledValue": [{"value": "1", "x": 2}]}
expect("unknown_keys_kept_as_they_are", pack(odd) == odd and unpack(odd) == odd)
st = Store(ROOT + "/g")
q = TxQueue(st)
r = q.push("StartTransaction", None, start(30), 1)
q.push("MeterValues", r, {"connectorId": 1, "meterValue": [full]}, 1)
q = TxQueue(Store(ROOT + "/g"))
q.ack(q.head()[0], 5)
h = q.head()
expect("sent_unpacked", h[2] == {"connectorId": 1, "meterValue": [full], "transactionId": 5}, h)
expect("floor_reads_packed", q.floor(1) == [1234], q.floor(1))
print("DONE %d" % len(results))
