# SendLocalList and GetLocalListVersion through the RPC layer, run under
# MicroPython and CPython by test_locallist.py. argv[1]: an empty directory.
# Prints "PASS name" / "FAIL name: why", "RES <action> <json>" for every
# CALLRESULT payload (checked against the official schemas by the test) and
# "DONE n".
import sys
import json
import asyncio
import log
from rpcfake import expect, results, call
from realcp import RealCP

ROOT = sys.argv[1]
log.level = log.WARN
lines = []
log.add_sink(lambda lvl, line: lines.append(line))


class ListCP(RealCP):
    def __init__(self, root, **defaults):
        RealCP.__init__(self, root, **defaults)
        self.list_updates = 0
        self.accepted = 0       # Accepted SendLocalList answers seen by send()
        told = self.conns[0].list_updated

        def list_updated():
            # Connector 0 clears a reported LocalListConflict here.
            self.list_updates += 1
            told()
        self.conns[0].list_updated = list_updated


def ent(tag, status="Accepted", **more):
    info = {"status": status}
    info.update(more)
    return {"idTag": tag, "idTagInfo": info}


async def send(cp, version, kind, entries=None):
    p = {"listVersion": version, "updateType": kind}
    if entries is not None:
        p["localAuthorizationList"] = entries
    res, err = await call(cp, "SendLocalList", p)
    if res == {"status": "Accepted"}:
        cp.accepted += 1
    return res, err


async def version(cp):
    res, err = await call(cp, "GetLocalListVersion", {})
    return res["listVersion"] if res else err


async def main():
    cp = ListCP(ROOT + "/a")
    expect("version_empty_0", await version(cp) == 0)
    res, err = await send(cp, 3, "Full", [ent("AA11", expiryDate="2030-05-06T07:08:09Z", parentIdTag="G"),
                                          ent("bb22", "Blocked")])
    expect("full_accepted", res == {"status": "Accepted"} and await version(cp) == 3
           and cp.locallist.lookup("aa11") == {"status": "Accepted", "expiryDate": "2030-05-06T07:08:09Z",
                                               "parentIdTag": "G"}, (res, err))
    res, err = await send(cp, 4, "Differential", [{"idTag": "BB22"}, ent("cc33", "Invalid")])
    expect("differential_accepted", res == {"status": "Accepted"} and await version(cp) == 4
           and cp.locallist.lookup("bb22") is None and cp.locallist.lookup("CC33") == {"status": "Invalid"},
           (res, err))
    res, err = await send(cp, 4, "Differential", [ent("dd44")])
    expect("differential_same_version_mismatch", res == {"status": "VersionMismatch"}
           and await version(cp) == 4 and cp.locallist.lookup("dd44") is None, (res, err))
    res, err = await send(cp, 5, "Full", [{"idTag": "EE55"}])
    expect("full_without_idtaginfo_failed", res == {"status": "Failed"} and await version(cp) == 4,
           (res, err))
    res, err = await send(cp, 5, "Full", [ent("x1"), ent("X1")])
    expect("duplicates_failed", res == {"status": "Failed"}, (res, err))
    res, err = await send(cp, 6, "Differential")
    expect("differential_without_list", res == {"status": "Accepted"} and await version(cp) == 6
           and cp.locallist.count == 2, (res, err))
    res, err = await send(cp, 7, "Full")
    expect("full_without_list_empties", res == {"status": "Accepted"} and await version(cp) == 0
           and cp.locallist.count == 0, (res, err))

    most = cp.cfg.get("SendLocalListMaxLength")
    res, err = await send(cp, 8, "Full", [ent("m%d" % i) for i in range(most)])
    expect("max_per_message_accepted", res == {"status": "Accepted"} and cp.locallist.count == most,
           (res, err))
    res, err = await send(cp, 9, "Full", [ent("n%d" % i) for i in range(most + 1)])
    expect("over_send_max_callerror", res is None and err[0] == "OccurenceConstraintViolation"
           and "SendLocalListMaxLength is %d" % most in err[1] and cp.locallist.version == 8, (res, err))

    # Malformed requests: the CALLERROR of OCPP-J 1.6, the list untouched.
    bad = (
        ("missing_update_type", {"listVersion": 9}, "OccurenceConstraintViolation"),
        ("missing_version", {"updateType": "Full"}, "OccurenceConstraintViolation"),
        ("missing_idtag", {"listVersion": 9, "updateType": "Full",
                           "localAuthorizationList": [{"idTagInfo": {"status": "Accepted"}}]},
         "OccurenceConstraintViolation"),
        ("missing_status", {"listVersion": 9, "updateType": "Full",
                            "localAuthorizationList": [{"idTag": "a", "idTagInfo": {}}]},
         "OccurenceConstraintViolation"),
        ("bad_update_type", {"listVersion": 9, "updateType": "Partial"}, "PropertyConstraintViolation"),
        ("bad_status", {"listVersion": 9, "updateType": "Full",
                        "localAuthorizationList": [ent("a", "Nope")]}, "PropertyConstraintViolation"),
        ("idtag_too_long", {"listVersion": 9, "updateType": "Full",
                            "localAuthorizationList": [ent("x" * 21)]}, "PropertyConstraintViolation"),
        ("parent_too_long", {"listVersion": 9, "updateType": "Full",
                             "localAuthorizationList": [ent("a", parentIdTag="p" * 21)]},
         "PropertyConstraintViolation"),
        ("bad_expiry", {"listVersion": 9, "updateType": "Full",
                        "localAuthorizationList": [ent("a", expiryDate="soon")]},
         "PropertyConstraintViolation"),
        ("version_not_int", {"listVersion": "9", "updateType": "Full"}, "TypeConstraintViolation"),
        ("list_not_array", {"listVersion": 9, "updateType": "Full", "localAuthorizationList": {}},
         "TypeConstraintViolation"),
        ("extra_field", {"listVersion": 9, "updateType": "Full", "hash": "x"}, "FormationViolation"),
        ("extra_info_field", {"listVersion": 9, "updateType": "Full",
                              "localAuthorizationList": [ent("a", note="x")]}, "FormationViolation"),
    )
    for name, payload, code in bad:
        res, err = await call(cp, "SendLocalList", payload)
        expect("callerror_" + name, res is None and err[0] == code and cp.locallist.version == 8
               and cp.locallist.count == most, (res, err))
    res, err = await call(cp, "GetLocalListVersion", {"x": 1})
    expect("get_version_extra_field", res is None and err[0] == "FormationViolation", (res, err))
    # Told of every Accepted update, of no other answer.
    expect("charge_point_told_of_accepted_updates", cp.list_updates == cp.accepted >= 4,
           (cp.list_updates, cp.accepted))

    # Disabled: reported as no list (-1) and updates NotSupported (issue 5).
    cp.cfg.set("LocalAuthListEnabled", "false", "ocpp")
    res, err = await send(cp, 10, "Differential", [ent("late")])
    expect("disabled_still_updates", res == {"status": "NotSupported"} and await version(cp) == -1, (res, err))

    # Not supported: -1 and NotSupported.
    cp2 = ListCP(ROOT + "/b", SupportedFeatureProfiles="Core,RemoteTrigger")
    expect("unsupported_version_minus_1", await version(cp2) == -1)
    res, err = await send(cp2, 1, "Full", [ent("a")])
    expect("unsupported_not_supported", res == {"status": "NotSupported"}, (res, err))


asyncio.run(main())
print("DONE %d" % len(results))
