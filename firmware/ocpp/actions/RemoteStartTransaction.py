# RemoteStartTransaction (spec 5.11): Accepted when a connector can take it.
# With AuthorizeRemoteTxRequests the tag is authorised first, after the answer;
# otherwise it counts as authorised. A connector reserved for a group is
# Accepted for a tag nobody here knows, and used once the central system names
# the tag's parentIdTag. A charging profile in the request is for
# the transaction it starts (TxProfile, smart charging). A connector takes the
# request when it is free (Connector.free: also Finishing, where a user may
# start again, as with a tag at the reader: 5.11 asks to behave as if the tag
# were presented there).
import asyncio
import log
from firmware.ocpp.check import I, S, REQ
from firmware.ocpp.profile_schema import PROFILE
from firmware.ocpp.connector import pick

SCHEMA = {"connectorId": (I,), "idTag": (S | REQ, 20), "chargingProfile": PROFILE}


def handle(cp, p):
    c = p.get("connectorId")
    tag = p["idTag"]
    known = cp.auth.lookup(tag)
    parent = known.get("parentIdTag") if known else None
    # Spec 5.13: a tag neither the local list nor the cache knows may still
    # belong to a reservation's group; its parentIdTag then comes from an
    # Authorize.req, sent after this answer (ask).
    rs = cp.reservations
    ask = known is None and cp.out.can_send() and rs.for_group(c)
    if c is not None:
        if not 1 <= c <= cp.n:
            return {"status": "Rejected"}
        conn = cp.conns[c]
        if not conn.free() or not (rs.allows(c, tag, parent)[0] or ask):
            return {"status": "Rejected"}
    else:
        conn = pick(cp.conns, tag, parent) or (ask and pick(cp.conns, tag, None, True)) or None
        if conn is None:
            return {"status": "Rejected"}
    prof = p.get("chargingProfile")
    if prof is not None and prof["chargingProfilePurpose"] != "TxProfile":
        return {"status": "Rejected"}
    # None: conn may take tag; else the parent must be learnt first (True: any
    # connector the parent allows will do).
    reserved = None if rs.allows(conn.c, tag, parent)[0] else c is None
    cp.rpc.later(lambda: asyncio.create_task(_start(cp, conn, tag, reserved, prof)))
    return {"status": "Accepted"}


async def _start(cp, conn, tag, reserved, prof):
    asked = False
    if cp.cfg.get("AuthorizeRemoteTxRequests"):
        info = await cp.auth.authorize(tag)
        if info.get("status") != "Accepted":
            log.info("cp", "remote start for %s refused: %s", tag, info.get("status"))
            return
        asked = True
    else:
        info = {"status": "Accepted"}
    if reserved is not None:
        parent = info.get("parentIdTag")
        if parent is None and not asked:
            # Only a valid answer vouches for the tag's group.
            known = cp.auth.lookup(tag)
            if known is None and cp.out.can_send():
                known = await cp.auth.ask(tag)
            if known is not None and known.get("status") in ("Accepted", "ConcurrentTx"):
                parent = known.get("parentIdTag")
        if parent:
            info = {"status": "Accepted", "parentIdTag": parent}
        took = pick(cp.conns, tag, parent) if reserved else conn
        if took is None or not cp.reservations.allows(took.c, tag, parent)[0]:
            log.info("cp", "remote start for %s dropped: connector %d is reserved for "
                     "another group", tag, conn.c)
            return
        conn = took
    # The profile is bound only now, to the connector that takes the tag: never
    # to a reservation owner's transaction started meanwhile.
    conn.remote_profile = prof
    conn.authorized(tag, info)
