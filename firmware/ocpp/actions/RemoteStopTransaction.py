# RemoteStopTransaction (spec 5.12): stops the transaction as if its tag had
# been presented; an unknown transaction is Rejected.
from firmware.ocpp.check import I, REQ

SCHEMA = {"transactionId": (I | REQ,)}


def handle(cp, p):
    conn = cp.txs.find(p["transactionId"])
    if conn is None:
        return {"status": "Rejected"}
    cp.rpc.later(lambda: conn.stop("Remote"))
    return {"status": "Accepted"}
