"""One OCPP 1.6 MeterValue from a meter (spec 7.43, 9.1): what the meter gives,
how each value is written, the sampledValue objects. No clock, no schedule:
firmware/ocpp/metering.py decides when, and re-exports meter_value,
add_measurand and the contexts for the rest of the firmware.

    mv = meter_value(ctl, ("Energy.Active.Import.Register", "Voltage"), TRANSACTION_BEGIN)
        -> {"timestamp": "2026-11-21T23:31:35Z", "sampledValue": [...]}, or None
           when the meter gives none of the measurands (a MeterValue needs one);
           written for the controller's phases (phases_of)

The meter gives, one sampledValue each (format Raw, with context, measurand,
unit): Energy.Active.Import.Register (whole Wh rounded down, as a register
shows them, with the location), Power.Active.Import (whole W), Current.Import,
Current.Offered (A) and Voltage (V) with one decimal, Frequency (Hz, no
unit in 1.6) with two when a Modbus meter gives it. A Modbus meter measures
each phase (src.per_phase): then Current.Import, Voltage (L1-N..) and
Power.Active.Import go out once per phase. The controller meters
one S0 register and derives the current from the power, so on 3 phases the
current is the per-phase value of a balanced load, sent without a phase (7.43:
an overall value); on 1 phase currents say L1 and the voltage L1-N.
add_measurand() teaches the meter more.
"""
from compat import iso
from firmware import config_keys

SAMPLE_PERIODIC = "Sample.Periodic"
SAMPLE_CLOCK = "Sample.Clock"
TRANSACTION_BEGIN = "Transaction.Begin"
TRANSACTION_END = "Transaction.End"
TRIGGER = "Trigger"

# (measurand, controller attribute, unit, decimals (-1: register, whole units
# rounded down), location: "" the meter's own, None omitted, or a fixed one).
# add_measurand appends in place: importers keep the same list.
TABLE = [
    ("Energy.Active.Import.Register", "energy_wh", "Wh", -1, ""),
    ("Power.Active.Import", "power_w", "W", 0, None),
    ("Current.Import", "current_a", "A", 1, None),
    ("Current.Offered", "offered_a", "A", 1, None),
    ("Voltage", "voltage_v", "V", 1, None),
    # 1.6 has no unit for it (errata 3.84): Hz, sent without one.
    ("Frequency", "frequency_hz", None, 2, None),
]


def add_measurand(name, attr, unit, decimals=1, location=None):
    """Report `name` from the controller attribute `attr` (None = not now), and
    let the configuration keys name it. Call before the first Config is made."""
    for m in TABLE:
        if m[0] == name:
            return
    TABLE.append((name, attr, unit, decimals, location))
    if name not in config_keys.MEASURANDS:
        config_keys.MEASURANDS.append(name)


def fmt(x, d):
    if d < 0:
        if x >= 0:
            # The small margin keeps 999.9999 (float pulses) at 1000.
            return str(int(x + 0.001))
        d = 0
    neg = x < 0
    if neg:
        x = -x
    p = 10 ** d
    n = int(x * p + 0.5)
    if d:
        f = str(n % p)
        s = "%d.%s" % (n // p, "0" * (d - len(f)) + f)
    else:
        s = str(n)
    # %-formatting of floats differs between the runtimes; integers do not.
    return "-" + s if neg and n else s


PHASE = 32     # an index + PHASE * k (k = 1..3) is phase Lk's value


def read(src, measurands):
    # (TABLE indices, value texts), or None when the meter gives none. A
    # meter that measures each phase (src.per_phase, a Modbus meter) gives one
    # value per phase where it has them, as 7.43 asks.
    idx = []
    vals = []
    pp = getattr(src, "per_phase", None)
    for name in measurands:
        for i in range(len(TABLE)):
            m = TABLE[i]
            if m[0] == name:
                per = pp.get(m[1]) if pp is not None else None
                if per is not None and per[0] is not None:
                    for k in range(3):
                        if per[k] is not None:
                            idx.append(i + PHASE * (k + 1))
                            vals.append(fmt(per[k], m[3]))
                    break
                v = getattr(src, m[1], None)
                if v is not None:
                    idx.append(i)
                    vals.append(fmt(v, m[3]))
                break
    return (idx, vals) if idx else None


def build(ts, idx, vals, context, phases, location):
    """The MeterValue of a read(): ts in wall seconds (None: now)."""
    out = []
    for k in range(len(idx)):
        ph = idx[k] // PHASE
        name, _a, unit, _d, loc = TABLE[idx[k] % PHASE]
        sv = {"value": vals[k], "context": context, "format": "Raw",
              "measurand": name}
        if unit:
            sv["unit"] = unit
        if loc is not None:
            sv["location"] = loc or location
        if ph:
            sv["phase"] = ("L1", "L2", "L3")[ph - 1] + ("-N" if unit == "V" else "")
        elif phases == 1:
            if unit == "A":
                sv["phase"] = "L1"
            elif unit == "V":
                sv["phase"] = "L1-N"
        out.append(sv)
    return {"timestamp": iso(ts), "sampledValue": out}


def meter_value(src, measurands, context, ts=None):
    """One MeterValue of the meter src (a controller, or metering's view of
    one) with the measurands it gives, in the order asked, written for the
    phases it has; ts: wall seconds (None: now). None when there is nothing to
    report. Every MeterValue the charge point sends is made here or, from
    readings kept for later, by build()."""
    r = read(src, measurands)
    if r is None:
        return None
    return build(ts, r[0], r[1], context, phases_of(src), getattr(src, "location", "Outlet"))


def phases_of(ctl):
    p = getattr(ctl, "phases", None)
    if p is None:
        s = getattr(ctl, "s", None)
        if isinstance(s, dict):
            p = s.get("phases")
    return p or 3
