# Smart charging (spec 3.13, 5.5, 5.7, 5.16, 9.4 and the errata): the installed
# charging profiles, the rules for accepting them, and the limit they put on
# each connector. The arithmetic over time is in smart_calc.py.
#
#   sc = Smart(cfg, store, n_connectors, voltage=230, phases=3)
#   sc.supported()                                      SmartCharging is a supported profile
#   sc.set(c, profile, tx) -> "Accepted" | "Rejected"   (CallError for a bad connector)
#   sc.clear(pid, connector, purpose, stack) -> "Accepted" | "Unknown"
#   sc.tx_ended(c)                                     drops that connector's TxProfiles
#   sc.limit(c, now_s, tx_start_s) -> (amps or None, seconds to next change or None)
#   sc.limits(c, now_s, tx_start_s) -> the same and the numberPhases in force (0: none)
#   sc.composite(c, duration_s, unit, now_s, tx_start_s) -> chargingSchedule or None
#   sc.version                                         bumped on every change
#   sc.local, sc.can_switch[c]   the local limits (firmware/locallimit.py) and which
#                                connectors have a phase contactor (the charge point's)
#
# What is a CALLERROR and what is Rejected: a connectorId outside 0..n is a
# PropertyConstraintViolation (errata 3.39), and so is a value outside an
# enumeration (errata 3.38; check.py answers that before set() is called).
# Everything else that is well-formed but cannot be honoured is Rejected, with
# the reason in the log: a purpose on the wrong connector, a TxProfile without
# (or for another) transaction, the limits of the 9.4 keys, a unit not in
# ChargingScheduleAllowedChargingRateUnit, periods that do not start at 0 or do
# not increase, a negative limit, a duration that is not positive, a Recurring
# profile without recurrencyKind or startSchedule, validTo not after validFrom,
# and no room left (MaxChargingProfilesInstalled, after dropping expired ones).
#
# A profile is kept as the dict received, except that its periods are packed
# into one list of small ints (smart_calc.pack): as parsed JSON a period costs
# about 250 bytes of MicroPython heap, so 8 profiles of 24 periods would hold
# some 60 KB; packed, about 10 KB. They are persisted as one store file on
# every change (errata 3.37). A TxProfile remembers the
# start of the transaction it was set for and applies to that transaction only,
# so one left behind by a power cut never limits the next transaction.
import log
from compat import parse_iso, wall, ticks_ms
from firmware.ocpp.rpc import CallError
from firmware.ocpp import smart_calc as calc

FILE = "profiles"


def _time(s):
    return None if s is None else parse_iso(s)


def _entry(c, txs, prof, flat):
    # Shallow copies of the two outer dicts without the periods: the caller's
    # dict stays whole and the parsed periods are freed with the message.
    sch = {}
    for k, v in prof["chargingSchedule"].items():
        if k != "chargingSchedulePeriod":
            sch[k] = v
    p = {}
    for k, v in prof.items():
        p[k] = v
    p["chargingSchedule"] = sch
    return [c, txs, p, _time(p.get("validFrom")), _time(p.get("validTo")),
            _time(sch.get("startSchedule")), flat]


def _absolute(e):
    kind = e[2]["chargingProfileKind"]
    return kind == "Recurring" or (kind == "Absolute" and e[5] is not None) \
        or e[3] is not None or e[4] is not None


def _waiting(e):
    # The entry as a Relative profile of one period, its lowest limit, in
    # force from the start, for as long as the clock is unknown.
    ps = e[6]     # (startPeriod, limit, numberPhases) flat, smart_calc.pack
    k = 0
    for i in range(1, len(ps) // 3):
        if ps[3 * i + 1] < ps[3 * k + 1]:
            k = i
    p = dict(e[2])
    p["chargingProfileKind"] = "Relative"
    sch = dict(p["chargingSchedule"])
    sch.pop("duration", None)
    p["chargingSchedule"] = sch
    return [e[0], e[1], p, None, None, None, [0, ps[3 * k + 1], ps[3 * k + 2]]]


class Smart:
    def __init__(self, cfg, store, n_connectors, voltage=230, phases=3):
        self.cfg = cfg
        self.store = store
        self.n = n_connectors
        self.voltage = voltage
        self.phases = phases
        self.local = None
        self.can_switch = [False] * (n_connectors + 1)
        self.entries = []
        self.version = 0
        # False while the wall clock is unknown (set by the limiter): periods at
        # absolute times then give their profile's lowest limit (limit()).
        self.clock_known = True
        self._load()

    def supported(self):
        # A build whose SupportedFeatureProfiles leaves SmartCharging out
        # answers its messages NotSupported (errata 3.39).
        return "SmartCharging" in self.cfg.get("SupportedFeatureProfiles")

    # ---- persistence
    def _load(self):
        data = self.store.load(FILE)
        if not isinstance(data, list):
            return
        most = self.cfg.get("MaxChargingProfilesInstalled")
        dropped = 0
        for it in data:
            try:
                c, txs, prof, flat = it
                if not 0 <= c <= self.n:
                    raise ValueError("connector %d is gone" % c)
                # The same rules as on arrival: the keys may differ on this build.
                why = self._check(c, prof, flat, {"id": prof.get("transactionId")})
                if why is not None:
                    raise ValueError(why)
                # A slice is allocated at its exact size; the parser's list grew
                # by doubling.
                e = _entry(c, txs, prof, flat[:])
            except Exception:
                dropped += 1
                continue
            self.entries.append(e)
        if len(self.entries) > most:
            dropped += len(self.entries) - most
            self.entries = self.entries[-most:]
        if dropped:
            log.warn("smart", "%d stored charging profile(s) unusable here; dropped", dropped)
            self._save(self.entries)

    def _save(self, entries):
        self.store.save(FILE, [[e[0], e[1], e[2], e[6]] for e in entries])

    # ---- SetChargingProfile
    def set(self, c, prof, tx):
        if not isinstance(c, int) or not 0 <= c <= self.n:
            raise CallError("PropertyConstraintViolation",
                            "connectorId %s is out of range: this charge point has 0 to %d"
                            % (c, self.n))
        try:
            periods = prof["chargingSchedule"]["chargingSchedulePeriod"]
            most = self.cfg.get("ChargingScheduleMaxPeriods")
            if not 1 <= len(periods) <= most:
                # Before packing them: a schedule of hundreds of periods is refused
                # without a pass over it (that pass takes tens of ms on a board).
                why = "%d periods; 1 to %d allowed (ChargingScheduleMaxPeriods)" % (
                    len(periods), most)
            else:
                flat = calc.pack(periods)
                why = self._check(c, prof, flat, tx)
            if why is None:
                e = _entry(c, tx.start_s if prof["chargingProfilePurpose"] == calc.TX else None,
                           prof, flat)
        except Exception as ex:
            why = "malformed profile (%r)" % (ex,)
        pid = prof.get("chargingProfileId") if isinstance(prof, dict) else None
        if why is not None:
            log.warn("smart", "charging profile %s rejected: %s", pid, why)
            return "Rejected"
        pur = prof["chargingProfilePurpose"]
        stk = prof["stackLevel"]
        keep = []
        for x in self.entries:
            xp = x[2]
            # Same id, or same purpose and stack level on the same connector,
            # replaces (spec 3.13.2, 5.16.3); a connector's TxDefaultProfile does
            # not replace the one for all connectors (spec 3.13.1).
            if xp["chargingProfileId"] == pid or (
                    x[0] == c and xp["chargingProfilePurpose"] == pur and xp["stackLevel"] == stk):
                continue
            keep.append(x)
        most = self.cfg.get("MaxChargingProfilesInstalled")
        if len(keep) >= most:
            now = wall()
            keep = [x for x in keep if x[4] is None or x[4] > now]
            if len(keep) >= most:
                log.warn("smart", "charging profile %s rejected: %d installed, the most "
                         "MaxChargingProfilesInstalled allows; clear one first", pid, len(keep))
                return "Rejected"
        keep.append(e)
        self._save(keep)
        self.entries = keep
        self.version += 1
        log.info("smart", "charging profile %d installed: %s, stack level %d, connector %d",
                 pid, pur, stk, c)
        return "Accepted"

    def _check(self, c, prof, flat, tx):
        """Why the profile cannot be installed, or None."""
        cfg = self.cfg
        pur = prof["chargingProfilePurpose"]
        tid = prof.get("transactionId")
        if pur == calc.CPMAX:
            if c != 0:
                return "a ChargePointMaxProfile goes on connector 0 only"
        elif pur == calc.TX:
            if c == 0:
                return "a TxProfile needs a connector above 0"
            if tx is None:
                return "no transaction on connector %d for a TxProfile" % c
            if tid is not None and tid != tx.id:
                return "transactionId %d is not the transaction on connector %d" % (tid, c)
        elif pur != calc.TXDEF:
            return "unknown purpose %s" % pur
        if tid is not None and pur != calc.TX:
            return "a transactionId goes with a TxProfile only"
        stk = prof["stackLevel"]
        most = cfg.get("ChargeProfileMaxStackLevel")
        if not 0 <= stk <= most:
            return "stackLevel %d is outside 0..%d (ChargeProfileMaxStackLevel)" % (stk, most)
        sch = prof["chargingSchedule"]
        unit = sch["chargingRateUnit"]
        if ("Current" if unit == "A" else "Power") not in cfg.get("ChargingScheduleAllowedChargingRateUnit"):
            return "unit %s is not in ChargingScheduleAllowedChargingRateUnit" % unit
        k = len(flat) // 3
        most = cfg.get("ChargingScheduleMaxPeriods")
        if len(flat) % 3 or not 1 <= k <= most:
            return "%d periods; 1 to %d allowed (ChargingScheduleMaxPeriods)" % (k, most)
        prev = -1
        for i in range(0, len(flat), 3):
            sp = flat[i]
            if prev < 0 and sp != 0:
                return "the first period must start at 0"
            if sp <= prev:
                return "startPeriod %d does not follow %d" % (sp, prev)
            prev = sp
            if flat[i + 1] < 0:
                return "negative limit"
            if flat[i + 2] < 0:
                return "numberPhases below 1"
        dur = sch.get("duration")
        if dur is not None and dur <= 0:
            return "duration must be positive"
        m = sch.get("minChargingRate")
        if m is not None and m < 0:
            return "negative minChargingRate"
        if prof["chargingProfileKind"] == "Recurring":
            if prof.get("recurrencyKind") not in ("Daily", "Weekly"):
                return "a Recurring profile needs recurrencyKind"
            if sch.get("startSchedule") is None:
                return "a Recurring profile needs startSchedule (the start of its cycle)"
        vf = _time(prof.get("validFrom"))
        vt = _time(prof.get("validTo"))
        if vf is not None and vt is not None and vt <= vf:
            return "validTo is not after validFrom"
        return None

    # ---- ClearChargingProfile
    def clear(self, pid=None, connector=None, purpose=None, stack=None):
        # An id alone decides; otherwise every given field must match, and no
        # field at all clears everything (errata 3.25, 3.26).
        keep = []
        for e in self.entries:
            p = e[2]
            if pid is not None:
                hit = p["chargingProfileId"] == pid
            else:
                hit = (connector is None or e[0] == connector) and \
                      (purpose is None or p["chargingProfilePurpose"] == purpose) and \
                      (stack is None or p["stackLevel"] == stack)
            if not hit:
                keep.append(e)
        n = len(self.entries) - len(keep)
        if not n:
            return "Unknown"
        self._save(keep)
        self.entries = keep
        self.version += 1
        log.info("smart", "%d charging profile(s) cleared", n)
        return "Accepted"

    def tx_ended(self, c):
        # A TxProfile ends with its transaction (spec 3.13.1, 7.10).
        keep = [e for e in self.entries
                if e[0] != c or e[2]["chargingProfilePurpose"] != calc.TX]
        if len(keep) != len(self.entries):
            self._save(keep)
            self.entries = keep
        self.version += 1

    # ---- what is in force
    def limit(self, c, now_s, tx_start_s, groups=calc.ALL):
        """(amps or None, seconds until it may change or None); groups:
        calc.ALL, calc.STATION (the charge point's own limit) or calc.OWN.
        While the clock is unknown, a profile whose periods are at absolute
        times (Absolute with startSchedule, Recurring, validFrom or validTo)
        cannot say which period is in force: its lowest limit holds until the
        clock is known."""
        return self.limits(c, now_s, tx_start_s, groups)[:2]

    def limits(self, c, now_s, tx_start_s, groups=calc.ALL):
        real = self.entries
        if self.clock_known:
            return calc.limit(self, c, now_s, tx_start_s, groups)
        self.entries = [_waiting(e) if _absolute(e) else e for e in real]
        try:
            return calc.limit(self, c, now_s, tx_start_s, groups)
        finally:
            self.entries = real

    def composite(self, c, duration_s, unit, now_s, tx_start_s):
        return calc.composite(self, c, duration_s, unit, now_s, tx_start_s,
                              self.cfg.get("ChargingScheduleMaxPeriods"), ticks_ms())
