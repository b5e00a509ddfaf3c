# RemoteStartTransaction (spec 5.11): Accepted when a connector can take it.
# With AuthorizeRemoteTxRequests the tag is authorised first, after the answer;
# otherwise it counts as authorised. A charging profile in the request is for
# the transaction it starts (TxProfile, smart charging).
from firmware.ocpp.check import I, S, REQ
from firmware.ocpp.profile_schema import PROFILE

SCHEMA = {"connectorId": (I,), "idTag": (S | REQ, 20), "chargingProfile": PROFILE}


def handle(cp, p):
    c = p.get("connectorId")
    tag = p["idTag"]
    known = cp.auth.lookup(tag)
    parent = known.get("parentIdTag") if known else None
    if c is not None:
        if not 1 <= c <= cp.n:
            return {"status": "Rejected"}
        conn = cp.conns[c]
        if not _free(conn) or not cp.allowed(conn, tag, parent):
            return {"status": "Rejected"}
    else:
        conn = cp.pick_connector(tag, parent)
        if conn is None:
            return {"status": "Rejected"}
    prof = p.get("chargingProfile")
    if prof is not None and prof["chargingProfilePurpose"] != "TxProfile":
        return {"status": "Rejected"}
    conn.remote_profile = prof
    cp.rpc.later(lambda: cp.remote_start(conn, tag))
    return {"status": "Accepted"}


def _free(conn):
    return conn.tx is None and conn.operative and conn.status()[0] not in (
        "Faulted", "Unavailable", "Finishing")
