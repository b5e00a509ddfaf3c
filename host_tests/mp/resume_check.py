# A transaction resumed after a power cut, in process: run by test_e2e_offline.py
# under MicroPython and CPython. argv[1]: an empty directory. Prints "PASS name"
# / "FAIL name: why" and "DONE n".
import sys
import log
import board as simboard
from firmware.main import App
from rpcfake import expect, results

ROOT = sys.argv[1]
log.level = log.ERROR + 1
SETTINGS = {"resume_after_power_loss": "true"}


def life():
    # One power-up of the charger on the same flash; nothing runs its tasks.
    return App(simboard.Board({"data_dir": ROOT, "connectors": 1}), SETTINGS, link_up=False)


app = life()
app.cp.txs.start(app.cp.conns[1], "TAG", {"status": "Accepted"})
# The power goes: the next life finds the transaction file.
cp = life().cp
conn = cp.conns[1]
expect("waits_for_the_pilot", conn.tx is not None and conn.tx.resuming is not None
       and conn.tx.tag == "TAG")
# Stopped before the pilot was read (a tag, a reset): the wait ends with it
# (the wait is the transaction's).
conn.stop("Local")
expect("stop_ends_the_wait", conn.tx is None)
try:
    conn.on_evse("state", "C")
    conn.tick()
    expect("late_pilot_reading_harmless", conn.tx is None)
except Exception as e:
    expect("late_pilot_reading_harmless", False, repr(e))
stops = [r for _o, r in cp.queue.log.records() if r.get("a") == "StopTransaction"]
expect("one_stop_queued", len(stops) == 1 and stops[0]["p"]["reason"] == "Local", stops)
print("DONE %d" % len(results))
