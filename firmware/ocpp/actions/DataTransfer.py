# DataTransfer from the central system. Vendor extensions register a handler in
# cp.vendors: vendorId -> fn(messageId or None, data or None) -> (status, data or None),
# status one of Accepted, Rejected, UnknownMessageId. Unknown vendors answer
# UnknownVendorId (spec 4.3 / 5.5).
from firmware.ocpp.check import S, REQ

SCHEMA = {"vendorId": (S | REQ, 255), "messageId": (S, 50), "data": (S, 1 << 30)}


def handle(cp, p):
    fn = cp.vendors.get(p["vendorId"])
    if fn is None:
        return {"status": "UnknownVendorId"}
    status, data = fn(p.get("messageId"), p.get("data"))
    res = {"status": status}
    if data is not None:
        res["data"] = data
    return res
