"""One connector as OCPP sees it: its status (spec 4.9 with the errata's status
table), which follows from the EVSE controller, its transaction, its
authorisation and the reservations; its availability (ChangeAvailability, 5.2,
kept on flash); and the authorisation that waits for an EV to plug in. What a
transaction is and does is firmware/ocpp/transaction.py's; conns[0] is the
charge point as a whole (Zero).

    conn = Connector(c, ctl, cfg, store, conns, reservations, txs, changed)
    conn.status() -> (status, errorCode)    conn.state(): the same before reservations
    conn.free()                 may a tag or a remote start take this connector?
    conn.authorized(tag, info)  a tag (or a remote start) may charge here
    conn.stop(reason, tag=None) end its transaction
    conn.set_operative(on)      ChangeAvailability; conn.scheduled: one waiting for the end
    conn.on_evse(event, detail) from the controller's listener; never blocks
    conn.tick()                 ConnectionTimeOut
    pick(conns, tag, parent)    the connector a tag should charge on

changed(c) is told whenever what status() answers may have changed (the outbox
reports it). The file "avail" (store.FILES) is one JSON array: for connector 0
and then each connector, whether it is operative.
"""
import log
from compat import ticks_ms, ticks_diff

AVAIL = "avail"

# Faults of the EVSE controller that make the connector Faulted; any other
# error code (EVCommunicationError) is a warning shown with the current status.
FAULTED = ("GroundFailure", "PowerSwitchFailure", "OverCurrentFailure", "InternalError",
           "ConnectorLockFailure", "HighTemperature", "OtherError")


class Connector:
    def __init__(self, c, ctl, cfg, store, conns, reservations, txs, changed):
        self.c = c
        self.ctl = ctl
        self.cfg = cfg
        self.store = store
        self.conns = conns
        self.res = reservations
        self.txs = txs
        self.changed = changed
        self.tx = None            # the running Transaction (firmware/ocpp/transaction.py)
        self.auth = None          # (idTag, idTagInfo, ticks) authorised, waiting for a plug
        self.operative = True
        self.scheduled = None     # availability to apply when the transaction ends
        self.finishing = False    # a transaction ended here and the EV is still plugged
        self.remote_profile = None  # a RemoteStartTransaction's profile, for the tx it starts

    # ---- status
    def state(self):
        """(status, errorCode) before reservations: what reservation.py counts
        as Available."""
        ctl = self.ctl
        fault = ctl.fault if ctl else None
        err = fault or "NoError"
        if fault in FAULTED:
            return "Faulted", fault
        plugged = ctl.ev_connected if ctl else False
        if self.tx is not None:
            if ctl is None or ctl.charging:
                return "Charging", err
            if ctl.cp == "B" and ctl.offered_a > 0 or not plugged:
                return "SuspendedEV", err
            return "SuspendedEVSE", err
        if not self.operative:
            return "Unavailable", err
        if plugged and self.finishing:
            return "Finishing", err
        if plugged or self.auth is not None:
            return "Preparing", err
        return "Available", err

    def status(self):
        st, err = self.state()
        if (st == "Available" or st == "Preparing") and self.res.reserved(self.c):
            return "Reserved", err
        return st, err

    def free(self):
        """No transaction here and nothing against one: a tag or a remote start
        may take the connector (Available, Preparing, Reserved, and Finishing,
        where a user may start again, spec 4.9 F2). Whose tag a reserved one
        takes is the reservations' call."""
        return self.tx is None and self.state()[0] not in ("Faulted", "Unavailable")

    # ---- events from the controller (called from its listener; never blocks)
    def on_evse(self, event, detail):
        tx = self.tx
        if event == "state" and tx is not None and tx.resuming is not None and detail != "?":
            self.txs.resume(self, detail in ("B", "C", "D"))
        elif event == "state":
            if detail == "A":
                self._unplugged()
            elif detail in ("B", "C", "D"):
                self._plugged()
        self.changed(self.c)

    def _plugged(self):
        if self.tx is not None or self.finishing:
            return
        if self.auth is not None:
            tag, info, _t = self.auth
            self.auth = None
            self.txs.start(self, tag, info)
        elif self.cfg.get("free_vend") and self.operative:
            # Free vend: every plug-in charges, still as a transaction the
            # central system sees, under a fixed idTag.
            tag = self.cfg.get("free_vend_tag")
            if self.res.allows(self.c, tag, None)[0]:
                self.txs.start(self, tag, {"status": "Accepted"})

    def _unplugged(self):
        self.finishing = False
        # A transaction from before a restart ends as the restart ended it
        # (transaction.py: at its meter's first reading), not by this.
        if self.tx is not None and self.tx.ending is None:
            if self.cfg.get("StopTransactionOnEVSideDisconnect"):
                self.stop("EVDisconnected")
            else:
                # The transaction goes on; the EV may come back (spec 3.6.2).
                self.ctl.permit(False)
        if self.cfg.get("UnlockConnectorOnEVSideDisconnect") and self.ctl is not None:
            self.ctl.unlock()

    def tick(self):
        # ConnectionTimeOut: an authorisation waiting for a plug lapses.
        if self.auth is not None:
            to = self.cfg.get("ConnectionTimeOut")
            if ticks_diff(ticks_ms(), self.auth[2]) > to * 1000:
                log.info("cp", "connector %d: no EV plugged within %d s; authorisation dropped",
                         self.c, to)
                self.auth = None
                # A remote start's profile was for that transaction alone.
                self.remote_profile = None
                self.changed(self.c)

    # ---- authorised to charge
    def authorized(self, tag, info):
        """A tag (or a remote start) authorised charging on this connector."""
        if self.tx is not None:
            return False
        self.finishing = False
        if self.ctl is not None and self.ctl.ev_connected:
            self.txs.start(self, tag, info)
        else:
            self.auth = (tag, info, ticks_ms())
        self.changed(self.c)
        return True

    def meter_wh(self):
        return int(self.ctl.energy_wh) if self.ctl is not None else 0

    def stop(self, reason, tag=None, before=False):
        """before: the transaction is one from before a restart, ended late
        (its meter's first reading): an EV plugged in since is a new arrival."""
        if not self.txs.stop(self, reason, tag):
            return False
        self.finishing = not before and self.ctl is not None and self.ctl.ev_connected
        if self.scheduled is not None:
            self.set_operative(self.scheduled)
        self.changed(self.c)
        if before and self.ctl is not None and self.ctl.ev_connected:
            self._plugged()
        return True

    # ---- availability
    def set_operative(self, on):
        had = self.scheduled
        self.scheduled = None
        if self.operative != on:
            self.operative = on
            self.save_availability()
            self.changed(self.c)
        elif had is not None:
            self.save_availability()     # the scheduled change on flash is void

    def save_availability(self):
        # Of every connector, in one file. A scheduled change is saved as done:
        # after a restart the transaction it waited for has ended (or resumes,
        # and the change waits for its end).
        self.store.save(AVAIL, [k.operative if k.scheduled is None else k.scheduled
                                for k in self.conns])


class Zero(Connector):
    """Connector 0, the charge point as a whole (spec 4.9): Available or
    Unavailable, and LocalListConflict (3.5.2) from when the central system's
    answer contradicted the local list until it sends a list again."""

    def __init__(self, cfg, store, conns, changed):
        Connector.__init__(self, 0, None, cfg, store, conns, None, None, changed)
        self.conflict = False

    def state(self):
        return ("Available" if self.operative else "Unavailable",
                "LocalListConflict" if self.conflict else "NoError")

    status = state

    def list_conflict(self, tag, listed, given):
        log.warn("cp", "local list says %s for %s, the central system %s: LocalListConflict",
                 listed, tag, given)
        self.conflict = True
        self.changed(0, True)

    def list_updated(self):
        if self.conflict:
            self.conflict = False
            self.changed(0, True)


def load_availability(store, conns):
    a = store.load(AVAIL)
    if isinstance(a, list) and len(a) == len(conns):
        for c in range(len(conns)):
            conns[c].operative = bool(a[c])


def pick(conns, tag, parent, any_tag=False):
    """The connector a tag should charge on: one with an EV waiting first,
    then a free one; never one reserved for somebody else (any_tag: ignore
    reservations, to see whether asking the central system is worth it)."""
    best = None
    for conn in conns[1:]:
        if conn.free():
            if not any_tag and not conn.res.allows(conn.c, tag, parent)[0]:
                continue
            if conn.ctl is not None and conn.ctl.ev_connected and not conn.finishing:
                return conn
            if best is None and conn.auth is None:
                best = conn
    return best
