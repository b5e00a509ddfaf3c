# One connector as OCPP sees it: its transaction, its pending authorisation,
# its availability and the status that follows from them and from the EVSE
# controller (spec 4.9 with the errata's status table). Transactions are
# started and stopped here; their messages go through the flash queue.
import log
from compat import ticks_ms, ticks_diff, wall, iso

# Faults of the EVSE controller that make the connector Faulted; any other
# error code (EVCommunicationError) is a warning shown with the current status.
# How long a transaction from before a power cut waits for the first reading
# of the pilot to tell whether the EV is still there.
_RESUME_WAIT_MS = 10000

FAULTED = ("GroundFailure", "PowerSwitchFailure", "OverCurrentFailure", "InternalError",
            "ConnectorLockFailure", "HighTemperature", "OtherError")


class Connector:
    def __init__(self, cp, c, ctl):
        self.cp = cp
        self.c = c
        self.ctl = ctl
        self.tx = None            # running transaction: dict, see _start
        self.auth = None          # (idTag, idTagInfo, ticks) authorised, waiting for a plug
        self.operative = True
        self.scheduled = None     # availability to apply when the transaction ends
        self.finishing = False    # a transaction ended here and the EV is still plugged
        self.invalid = False      # the central system refused the tag of the running tx
        self.remote_profile = None
        self._energy_cap = None   # Wh at which charging stops (MaxEnergyOnInvalidId)
        self.resuming = None      # ticks: self.tx is from before a power cut, the pilot decides

    # ---- status
    def status(self):
        ctl = self.ctl
        fault = ctl.fault if ctl else None
        err = fault or "NoError"
        if fault in FAULTED:
            return "Faulted", fault
        plugged = ctl.ev_connected if ctl else False
        if self.tx is not None:
            if ctl is None:
                return "Charging", err
            if ctl.charging:
                return "Charging", err
            if ctl.cp == "B" and ctl.offered_a > 0:
                return "SuspendedEV", err
            if not plugged:
                return "SuspendedEV", err
            return "SuspendedEVSE", err
        if not self.operative:
            return "Unavailable", err
        if plugged and self.finishing:
            return "Finishing", err
        if self.cp.reserved(self.c):
            return "Reserved", err
        if plugged or self.auth is not None:
            return "Preparing", err
        return "Available", err

    # ---- events from the controller (called from its listener; never blocks)
    def on_evse(self, event, detail):
        if event == "state" and self.resuming is not None and detail != "?":
            self._resume(detail in ("B", "C", "D"))
        elif event == "state":
            if detail == "A":
                self._unplugged()
            elif detail in ("B", "C", "D"):
                self._plugged()
        self.cp.status_changed(self.c)

    def _plugged(self):
        if self.tx is not None or self.finishing:
            return
        if self.auth is not None:
            tag, info, _t = self.auth
            self.auth = None
            self.start(tag, info)
        elif self.cp.cfg.get("free_vend") and self.operative:
            # Free vend: every plug-in charges, still as a transaction the
            # central system sees, under a fixed idTag.
            tag = self.cp.cfg.get("free_vend_tag")
            if self.cp.allowed(self, tag, None):
                self.start(tag, {"status": "Accepted"})

    def _unplugged(self):
        self.finishing = False
        if self.tx is not None:
            if self.cp.cfg.get("StopTransactionOnEVSideDisconnect"):
                self.stop("EVDisconnected")
            else:
                # The transaction goes on; the EV may come back (spec 3.6.2).
                self.ctl.permit(False)
        if self.cp.cfg.get("UnlockConnectorOnEVSideDisconnect") and self.ctl is not None:
            self.ctl.unlock()

    def _resume(self, ev_there):
        self.resuming = None
        tx = self.tx
        if tx is None:
            return      # stopped meanwhile (a tag, a reset, a refused Start)
        if not ev_there:
            log.warn("cp", "connector %d: transaction of %s ended by the power cut (PowerLoss): "
                     "the EV is gone", self.c, tx["tag"])
            self.stop("PowerLoss")
            return
        log.info("cp", "connector %d: transaction of %s resumed after the power cut at %d Wh",
                 self.c, tx["tag"], self.meter_wh())
        self.cp.tx_started(self)
        # A tag the central system refused before the cut stays refused: no
        # energy (StopTransactionOnInvalidId false), or only up to its cap.
        self.invalid = bool(tx.get("invalid"))
        cap = tx.get("cap")
        self._energy_cap = cap
        if self.ctl is not None and (not self.invalid or (cap is not None and cap > self.meter_wh())):
            self.ctl.permit(True)
        self.cp.status_changed(self.c)

    def tick(self):
        if self.resuming is not None and ticks_diff(ticks_ms(), self.resuming) > _RESUME_WAIT_MS:
            # No pilot reading at all: nobody can tell whether the EV is there.
            self._resume(False)
        # ConnectionTimeOut: an authorisation waiting for a plug lapses.
        if self.auth is not None:
            to = self.cp.cfg.get("ConnectionTimeOut")
            if ticks_diff(ticks_ms(), self.auth[2]) > to * 1000:
                log.info("cp", "connector %d: no EV plugged within %d s; authorisation dropped",
                         self.c, to)
                self.auth = None
                # A remote start's profile was for that transaction alone.
                self.remote_profile = None
                self.cp.status_changed(self.c)
        if self.tx is not None and self._energy_cap is not None and self.ctl is not None:
            if self.ctl.energy_wh >= self._energy_cap:
                self._energy_cap = None
                self.ctl.permit(False)
                log.info("cp", "connector %d: MaxEnergyOnInvalidId reached", self.c)
                self.cp.status_changed(self.c)

    # ---- authorised to charge
    def authorized(self, tag, info):
        """A tag (or a remote start) authorised charging on this connector."""
        if self.tx is not None:
            return False
        self.finishing = False
        if self.ctl is not None and self.ctl.ev_connected:
            self.start(tag, info)
        else:
            self.auth = (tag, info, ticks_ms())
            self.cp.status_changed(self.c)
        return True

    def meter_wh(self):
        return int(self.ctl.energy_wh) if self.ctl is not None else 0

    def start(self, tag, info):
        cp = self.cp
        tx = {"tag": tag, "parent": (info or {}).get("parentIdTag"), "start_wh": self.meter_wh(),
              "start_s": wall(), "id": None, "ref": None}
        begin = cp.begin_reading(self)
        if begin is not None:
            tx["begin"] = begin
        payload = {"connectorId": self.c, "idTag": tag, "meterStart": tx["start_wh"],
                   "timestamp": iso(tx["start_s"])}
        res = cp.reservation_for(self.c, tag, tx["parent"])
        if res is not None:
            payload["reservationId"] = res
        # The transaction file goes to flash before its StartTransaction: a power
        # cut between the two leaves a file whose Start is not in the queue, which
        # the restart recognises as a transaction that never began.
        tx["ref"] = cp.queue.next_ref()
        self.tx = tx
        cp.save_tx(self)
        cp.queue.push("StartTransaction", None, payload, self.c)
        self.invalid = False
        self._energy_cap = None
        cp.tx_started(self)
        if self.ctl is not None:
            self.ctl.permit(True)
        log.info("cp", "connector %d: transaction started for %s at %d Wh", self.c, tag, tx["start_wh"])
        cp.status_changed(self.c)

    def on_start_conf(self, tid, info):
        """StartTransaction.conf arrived: the real transactionId and the verdict
        on the tag."""
        tx = self.tx
        if tx is None:
            return
        tx["id"] = tid
        status = (info or {}).get("status", "Accepted")
        if status != "Accepted":
            self.invalid = True
            tx["invalid"] = True
            if self.cp.cfg.get("StopTransactionOnInvalidId"):
                self.cp.save_tx(self)
                log.info("cp", "connector %d: tag %s is %s; stopping", self.c, tx["tag"], status)
                self.stop("DeAuthorized")
                return
            cap = self.cp.cfg.get("MaxEnergyOnInvalidId")
            used = self.meter_wh() - tx["start_wh"]
            if cap > used:
                self._energy_cap = tx["start_wh"] + cap
                tx["cap"] = self._energy_cap
            elif self.ctl is not None:
                self.ctl.permit(False)
            self.cp.status_changed(self.c)
        # The verdict goes to flash with the id: a transaction resumed after a
        # power cut must not charge again on a refused tag.
        self.cp.save_tx(self)

    def stop(self, reason, tag=None):
        tx = self.tx
        if tx is None:
            return False
        cp = self.cp
        if self.ctl is not None:
            self.ctl.permit(False)
        stop_wh = max(self.meter_wh(), tx["start_wh"])
        payload = {"meterStop": stop_wh, "timestamp": iso(), "reason": reason,
                   "transactionId": tx["id"]}
        if tag:
            payload["idTag"] = tag
        data = cp.tx_data(self)
        if data:
            payload["transactionData"] = data
        cp.queue.push("StopTransaction", tx["ref"], payload, self.c)
        self.tx = None
        self._energy_cap = None
        self.resuming = None
        self.finishing = self.ctl is not None and self.ctl.ev_connected
        cp.tx_stopped(self)
        log.info("cp", "connector %d: transaction stopped (%s), %d Wh", self.c, reason,
                 stop_wh - tx["start_wh"])
        if self.scheduled is not None:
            self.set_operative(self.scheduled)
        cp.status_changed(self.c)
        return True

    def set_operative(self, on):
        had = self.scheduled
        self.scheduled = None
        if self.operative != on:
            self.operative = on
            self.cp.save_availability()
            self.cp.status_changed(self.c)
        elif had is not None:
            self.cp.save_availability()     # the scheduled change on flash is void
