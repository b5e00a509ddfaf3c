# Meter values of a single-phase charger, in process: the Transaction.Begin and
# Transaction.End readings of a StopTransaction and a triggered MeterValues
# carry the phase of their currents and voltage as the periodic readings do
# (L1, L1-N). Run by test_metering.py under MicroPython and CPython.
# argv[1]: an empty directory. Prints "PASS name" / "FAIL name: why", "REQ
# <action> <json>" for each message made (schema-checked by the test), "DONE n".
import sys
import json
import log
import board as simboard
from firmware.main import App
from firmware.ocpp.actions import TriggerMessage
from rpcfake import expect, results
from firmware.ocpp.txrecord import each_mv, unpack

ROOT = sys.argv[1]
log.level = log.ERROR + 1
MEASURANDS = "Energy.Active.Import.Register,Current.Import,Current.Offered,Voltage"


def phases(mv):
    # measurand -> its phase, or None, for the currents and the voltage.
    return dict((sv["measurand"], sv.get("phase")) for sv in mv["sampledValue"]
                if sv["unit"] in ("A", "V"))


ONE = {"Current.Import": "L1", "Current.Offered": "L1", "Voltage": "L1-N"}

for n, want in ((1, ONE), (3, {"Current.Import": None, "Current.Offered": None, "Voltage": None})):
    app = App(simboard.Board({"data_dir": "%s/%d" % (ROOT, n), "connectors": 1}),
              {"phases": n, "StopTxnSampledData": MEASURANDS,
               "MeterValuesSampledData": MEASURANDS}, link_up=False)
    cp = app.cp
    conn = cp.conns[1]
    cp.txs.start(conn, "TAG", {"status": "Accepted"})
    conn.stop("Local")
    stop = [each_mv(r["p"], unpack) for _o, r in cp.queue.log.records()
            if r.get("a") == "StopTransaction"][0]
    stop["transactionId"] = 7       # what the queue puts in when it sends it
    print("REQ StopTransaction %s" % json.dumps(stop))
    data = stop.get("transactionData") or [{"sampledValue": []}]
    begin, end = data[0], data[-1]
    expect("begin_%d_phase" % n, [sv["context"] for sv in begin["sampledValue"]][:1] ==
           ["Transaction.Begin"] and phases(begin) == want, begin)
    expect("end_%d_phase" % n, [sv["context"] for sv in end["sampledValue"]][:1] ==
           ["Transaction.End"] and phases(end) == want, end)
    cp.out.online = True
    cp.out.boot = "Accepted"
    TriggerMessage.send(cp, "MeterValues", 1)
    sent = [m[1] for m in cp.out.ram if m[0] == "MeterValues"]
    for p in sent:
        print("REQ MeterValues %s" % json.dumps(p))
    expect("trigger_%d_phase" % n, len(sent) == 1 and phases(sent[0]["meterValue"][0]) == want,
           sent)
print("DONE %d" % len(results))
