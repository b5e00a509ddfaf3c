# TriggerMessage checks, run under MicroPython and CPython by test_trigger.py.
# argv[1]: an empty directory. Prints "PASS name" / "FAIL name: why", "REQ" and
# "RES <action> <json>" lines for the schema check, "DONE n" at the end.
import sys
import asyncio
import log
from rpcfake import expect, results
from realcp import RealCP, call
from firmware.ocpp.actions import TriggerMessage

ROOT = sys.argv[1]
log.level = log.ERROR + 1

PER_CP = (("BootNotification", "boot"), ("DiagnosticsStatusNotification", "diagnostics"),
          ("FirmwareStatusNotification", "firmware"), ("Heartbeat", "heartbeat"))
PER_CONNECTOR = (("StatusNotification", "status"), ("MeterValues", "meter"))
SHORT = dict(PER_CP + PER_CONNECTOR)


class TriggerCP(RealCP):
    def __init__(self, root):
        RealCP.__init__(self, root)
        self.out.boot = "Pending"


# Stands in for TriggerMessage.send(): records that it ran, and after what.
TriggerMessage.send = lambda cp, msg, c: cp.events.append(("trigger", SHORT[msg], c))


async def trig(cp, msg, c=None, show=True):
    """(answer status or error, what ran after the call, in order)."""
    p = {"requestedMessage": msg}
    if c is not None:
        p["connectorId"] = c
    del cp.events[:]
    res, err = await call(cp, "TriggerMessage", p, show=show)
    order = [("answer",) if e[0] == "ws" else e for e in cp.events]
    return (res["status"] if res else err), order


async def main():
    cp = TriggerCP(ROOT + "/a")
    for msg, what in PER_CP:
        st, order = await trig(cp, msg)
        expect("%s_accepted_then_sent" % what, st == "Accepted"
               and order == [("answer",), ("trigger", what, None)], (st, order))
        # 5.17: a connectorId not relevant to the message is ignored, whatever it is.
        for c in (0, 1, 7):
            st, order = await trig(cp, msg, c)
            expect("%s_connector_%d_ignored" % (what, c), st == "Accepted"
                   and order == [("answer",), ("trigger", what, None)], (st, order))

    for msg, what in PER_CONNECTOR:
        st, order = await trig(cp, msg)
        expect("%s_without_connector_means_all" % what, st == "Accepted"
               and order == [("answer",), ("trigger", what, None)], (st, order))
        for c in (0, 1, 2):
            st, order = await trig(cp, msg, c)
            expect("%s_connector_%d" % (what, c), st == "Accepted"
                   and order == [("answer",), ("trigger", what, c)], (st, order))
        for c in (3, -1):
            st, order = await trig(cp, msg, c)
            expect("%s_bad_connector_%d_rejected" % (what, c), st == "Rejected"
                   and order == [("answer",)], (st, order))

    # Errata 3.35: no second BootNotification once Accepted.
    cp.out.boot = "Accepted"
    st, order = await trig(cp, "BootNotification")
    expect("boot_rejected_after_accepted", st == "Rejected" and order == [("answer",)], (st, order))
    st, order = await trig(cp, "Heartbeat")
    expect("heartbeat_still_accepted_after_boot", st == "Accepted" and len(order) == 2, (st, order))

    # Unknown or not implemented: NotImplemented, not a CALLERROR.
    st, order = await trig(cp, "StartTransaction", show=False)
    expect("start_transaction_not_implemented", st == "NotImplemented" and order == [("answer",)],
           (st, order))
    st, order = await trig(cp, "SignChargePointCertificate", 1, show=False)
    expect("unknown_message_not_implemented", st == "NotImplemented" and order == [("answer",)],
           (st, order))
    # Malformed requests get the OCPP-J error and trigger nothing.
    del cp.events[:]
    res, err = await call(cp, "TriggerMessage", {}, show=False)
    expect("missing_requested_message", err is not None and err[0] == "OccurenceConstraintViolation"
           and len(cp.events) == 1, (err, cp.events))
    res, err = await call(cp, "TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": "1"},
                          show=False)
    expect("connector_not_integer", err is not None and err[0] == "TypeConstraintViolation", err)
    res, err = await call(cp, "TriggerMessage", {"requestedMessage": 5}, show=False)
    expect("message_not_string", err is not None and err[0] == "TypeConstraintViolation", err)
    res, err = await call(cp, "TriggerMessage", {"requestedMessage": "Heartbeat", "extra": 1}, show=False)
    expect("extra_field", err is not None and err[0] == "FormationViolation", err)

    # An answer that never left (link down) is not followed by the message.
    cp.ws.broken = True
    del cp.events[:]
    res, err = await call(cp, "TriggerMessage", {"requestedMessage": "Heartbeat"}, show=False)
    expect("no_message_without_answer", cp.events == [], cp.events)
    cp.ws.broken = False
    st, order = await trig(cp, "Heartbeat")
    expect("next_trigger_after_link_back", st == "Accepted" and order == [("answer",), ("trigger", "heartbeat", None)],
           (st, order))
    print("DONE %d" % len(results))


asyncio.run(main())
