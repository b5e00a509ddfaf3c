# The messages TriggerMessage can ask for, sent after its answer. While the
# boot is still Pending they go out too: spec 4.2 lets a Pending charge point
# send what the central system triggered, and nothing else.
from compat import iso
from firmware.ocpp import metering


def boot(cp):
    cp.boot_requested = True
    cp.wake.set()


def heartbeat(cp):
    cp.send("Heartbeat", {}, None, True)


def status(cp, c):
    for k in range(cp.n + 1) if c is None else (c,):
        if cp.boot == "Accepted":
            cp.mark_status(k)
        else:
            cp.send("StatusNotification", {"connectorId": k, "errorCode": cp.error[k],
                                           "status": cp.status[k], "timestamp": iso()}, None, True)


def meter(cp, c):
    ms = cp.cfg.get("MeterValuesSampledData")
    for k in range(1, cp.n + 1) if not c else (c,):
        conn = cp.conns[k]
        if conn.ctl is None:
            continue
        mv = metering.meter_value(conn.ctl, ms, metering.TRIGGER)
        if mv is None:
            continue
        p = {"connectorId": k, "meterValue": [mv]}
        if conn.tx is not None and conn.tx["id"] is not None:
            p["transactionId"] = conn.tx["id"]
        cp.send("MeterValues", p, None, True)


def diagnostics(cp):
    cp.send("DiagnosticsStatusNotification", {"status": "Idle"}, None, True)


def firmware(cp):
    cp.send("FirmwareStatusNotification", {"status": "Idle"}, None, True)
