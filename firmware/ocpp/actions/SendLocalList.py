# SendLocalList (spec 5.15, 6.41, errata 3.52): Full or Differential update of
# the local authorization list; firmware/ocpp/locallist.py decides the status
# and says in the log why an update Failed.
#
# More entries than SendLocalListMaxLength: the spec gives that key as the
# maximum number of elements of localAuthorizationList, a cardinality, so the
# answer is the CALLERROR for a violated occurrence constraint, naming the
# limit (as GetConfiguration does for GetConfigurationMaxKeys); the central
# system can send the list in parts: a Full, then Differentials.
from firmware.ocpp.check import I, S, T, E, O, A, REQ
from firmware.ocpp.rpc import CallError
from firmware.ocpp.locallist import STATUSES

_INFO = {"status": (E | REQ, STATUSES), "expiryDate": (T,), "parentIdTag": (S, 20)}
SCHEMA = {"listVersion": (I | REQ,),
          "localAuthorizationList": (A, (O, {"idTag": (S | REQ, 20), "idTagInfo": (O, _INFO)})),
          "updateType": (E | REQ, ("Differential", "Full"))}


def handle(cp, p):
    ll = cp.locallist
    if not ll.supported():
        return {"status": "NotSupported"}
    entries = p.get("localAuthorizationList")
    most = cp.cfg.get("SendLocalListMaxLength")
    if entries and len(entries) > most:
        raise CallError("OccurenceConstraintViolation",
                        "%d entries sent; SendLocalListMaxLength is %d: send a Full update "
                        "and then Differential ones" % (len(entries), most))
    status = ll.update(p["listVersion"], p["updateType"], entries)
    if status == "Accepted":
        # A new list answers a LocalListConflict this charger reported.
        cp.conns[0].list_updated()
    return {"status": status}
