# The arithmetic of smart charging (spec 3.13, 7.8-7.14 and errata 3.7, 3.8,
# 3.34, 3.43, 3.44): which installed profile prevails at a moment, its limit in
# amperes per phase, when that can change next, and the composite schedule.
# Everything steps from one period boundary to the next, never per second, so a
# week of a daily profile costs a handful of steps and no arrays.
#
# An entry is the list smart.py keeps per installed profile:
#   [connectorId, tx_start_s or None, profile dict as received but without its
#    chargingSchedulePeriod, validFrom_s, validTo_s, startSchedule_s (each None
#    or seconds), periods]
# periods is one flat list of small ints, three per period: startPeriod, limit
# in tenths (the schema's multipleOf 0.1), numberPhases (0: not given). Parsed
# JSON costs about 250 bytes per period on the 64-bit unix port, this 24.
from compat import iso

DAY = 86400
WEEK = 604800
CPMAX = "ChargePointMaxProfile"
TXDEF = "TxDefaultProfile"
TX = "TxProfile"

# A limit() that meets this many boundaries without a change reports the last
# one anyway: the caller just asks again then.
_LOOKAHEAD = 64
# A composite stops after this many boundaries and says how far it got, so a
# request for years of a daily profile cannot hold the event loop for long.
_MAX_STEPS = 400


def _min(a, b):
    if a is None:
        return b
    if b is None or a < b:
        return a
    return b


def pack(ps):
    """The flat periods list of a chargingSchedulePeriod array. A negative limit
    or numberPhases below 1 is kept as -1 for smart.py to refuse; a field of the
    wrong type raises."""
    out = [0] * (3 * len(ps))
    i = 0
    for p in ps:
        sp = p["startPeriod"]
        lim = p["limit"]
        n = p.get("numberPhases", 0)
        if not (isinstance(sp, int) and isinstance(n, int)):
            raise ValueError("startPeriod and numberPhases are integers")
        if "numberPhases" in p and n < 1:
            n = -1
        out[i] = sp
        # Tenths rounded down: never above the limit given.
        out[i + 1] = int(lim * 10 + 1e-6) if lim >= 0 else -1
        out[i + 2] = n
        i += 3
    return out


def prof_at(e, t, rel, floating):
    """(i, next): the index of the period of entry e in force at t (None when
    the profile gives no limit then), and the first time after t at which that may change
    (None: never). rel is where Relative schedules start; floating means there is
    no transaction and a Relative schedule starts whenever one would (so it holds
    its first period and has no boundaries of its own)."""
    vf = e[3]
    vt = e[4]
    if vf is not None and t < vf:
        return None, vf
    if vt is not None and t >= vt:
        return None, None
    prof = e[2]
    sch = prof["chargingSchedule"]
    dur = sch.get("duration")
    kind = prof["chargingProfileKind"]
    restart = None
    if kind == "Recurring":
        a = e[5]
        if t < a:
            return None, _min(a, vt)
        cyc = DAY if prof.get("recurrencyKind") == "Daily" else WEEK
        start = t - (t - a) % cyc
        restart = start + cyc
        # Periods and durations beyond the recurrence are not executed (errata 3.44).
        end = restart if dur is None or dur > cyc else start + dur
    else:
        # An Absolute schedule without startSchedule is relative to the start of
        # charging (spec 7.13), like a Relative one.
        if kind == "Absolute" and e[5] is not None:
            start = e[5]
        elif floating:
            return 0, vt
        else:
            start = rel
        if t < start:
            return None, _min(start, vt)
        end = None if dur is None else start + dur
    if end is not None and t >= end:
        # After its duration a profile gives no limit: the next lower stack level
        # or purpose applies (errata 3.43).
        return None, _min(restart, vt)
    ps = e[6]
    off = t - start
    k = len(ps) // 3
    i = k - 1
    while i > 0 and ps[3 * i] > off:
        i -= 1
    nxt = end
    if i + 1 < k:
        nxt = _min(start + ps[3 * i + 3], end)
    return i, _min(nxt, vt)


def _above(e, best):
    # Highest stackLevel wins; at the same level a connector's own
    # TxDefaultProfile overrides the one for all connectors (spec 3.13.1).
    s = e[2]["stackLevel"]
    sb = best[2]["stackLevel"]
    return s > sb or (s == sb and e[0] > best[0])


def _group(e, c, txs):
    # Which purpose group an entry counts in for connector c: 0 ChargePointMax,
    # 1 TxDefault, 2 TxProfile; -1 when it does not apply there.
    pur = e[2]["chargingProfilePurpose"]
    ec = e[0]
    if pur == TX:
        # A TxProfile belongs to the transaction it was set for.
        if c == 0 or ec != c or txs is None or (e[1] is not None and e[1] != txs):
            return -1
        return 2
    if pur == TXDEF:
        return 1 if ec == c or ec == 0 else -1
    return 0 if ec == 0 else -1


# Scratch for at(): one walk step allocates no lists (nothing here awaits, so
# no two callers share them at once).
_win = [None, None, None]
_per = [None, None, None]
_wnx = [None, None, None]


# Purpose groups for at() and limit(): bit g set counts group g.
ALL = 7
STATION = 1     # the ChargePointMaxProfile alone
OWN = 6         # a connector's TxDefault/TxProfile, without the station's limit


def at(entries, c, t, rel, floating, txs, groups=ALL):
    """(e0, p0, e1, p1, next): the prevailing ChargePointMaxProfile entry and
    period, the prevailing TxProfile (or else TxDefaultProfile) entry and period,
    each None when none applies, and the next moment the outcome may change.
    txs is the running transaction's start (None: no transaction, TxProfiles
    do not apply)."""
    win = _win
    per = _per
    wnx = _wnx
    for g in range(3):
        win[g] = per[g] = wnx[g] = None
    for e in entries:
        g = _group(e, c, txs)
        if g < 0 or not (groups >> g) & 1:
            continue
        p, n = prof_at(e, t, rel, floating)
        if p is not None and (win[g] is None or _above(e, win[g])):
            win[g] = e
            per[g] = p
            wnx[g] = n
    # Only the winners' own changes and profiles above them that may start can
    # change the outcome; levels below a winner, and TxDefaultProfiles while a
    # TxProfile prevails, cannot.
    nxt = None
    for e in entries:
        g = _group(e, c, txs)
        if g < 0 or not (groups >> g) & 1 or (g == 1 and win[2] is not None):
            continue
        w = win[g]
        if w is e:
            nxt = _min(nxt, wnx[g])
        elif w is None or _above(e, w):
            nxt = _min(nxt, prof_at(e, t, rel, floating)[1])
    if win[2] is not None:
        return win[0], per[0], win[2], per[2], nxt
    return win[0], per[0], win[1], per[1], nxt


def _tenths(q):
    return q // 10 if q % 10 == 0 else q / 10


def used_phases(sc, c, n):
    """The phases connector c charges on during a period for n phases (0: the
    period does not say). With a phase contactor the charger switches to the
    fewest of the wired phases, the local limits' (MQTT) and the period's;
    without one it stays on the wired phases."""
    p = sc.phases
    if sc.can_switch[c]:
        lp = sc.local.phases(c) if sc.local is not None else None
        if lp is not None and lp < p:
            p = lp
        if 0 < n < p:
            p = n
    return p


def amps(sc, c, e, i):
    """The amperes per phase that period i of entry e allows connector c.
    A numberPhases above the phases in use does not scale the limit (errata
    3.34). One below them, on a charger that cannot switch, is honoured by the
    arithmetic: the period's power spread over the phases in use, so a
    6900 W period for one phase is 10 A on three, never 30."""
    ps = e[6]
    q = ps[3 * i + 1]
    n = ps[3 * i + 2]
    p = used_phases(sc, c, n)
    if e[2]["chargingSchedule"]["chargingRateUnit"] == "W":
        return q / (10 * sc.voltage * p)
    a = _tenths(q)
    if 0 < n < p:
        return a * n / p
    return a


def pick(sc, c, e0, p0, e1, p1):
    """(entry, period, amps) of the lower of the two, or (None, None, None)."""
    if e1 is None:
        if e0 is None:
            return None, None, None
        return e0, p0, amps(sc, c, e0, p0)
    a1 = amps(sc, c, e1, p1)
    if e0 is not None:
        a0 = amps(sc, c, e0, p0)
        if a0 < a1:
            return e0, p0, a0
    return e1, p1, a1


def _given(e, i):
    return e[6][3 * i + 2] if e is not None else 0


def number(r):
    """The fewest phases the prevailing periods of at()'s r give, 0: none does."""
    a = _given(r[0], r[1])
    b = _given(r[2], r[3])
    if a == 0 or (b and b < a):
        return b
    return a


def limit(sc, c, now, txs, groups=ALL):
    """(amps or None, seconds until that or the numberPhases in force may
    change or None, that numberPhases, 0 when no period gives one)."""
    floating = txs is None
    rel = now if floating else txs
    r = at(sc.entries, c, now, rel, floating, txs, groups)
    a = pick(sc, c, r[0], r[1], r[2], r[3])[2]
    n = number(r)
    nxt = r[4]
    steps = 0
    # Boundaries of profiles that do not prevail change nothing: look past them.
    while nxt is not None and steps < _LOOKAHEAD:
        r = at(sc.entries, c, nxt, rel, floating, txs, groups)
        if pick(sc, c, r[0], r[1], r[2], r[3])[2] != a or number(r) != n:
            break
        if r[4] is None:
            return a, None, n
        nxt = r[4]
        steps += 1
    return a, (None if nxt is None else nxt - now), n


def _round(x):
    # Down to the 0.1 the schemas allow (multipleOf 0.1): never above the limit.
    q = int(x * 10 + 1e-6)
    if q % 10 == 0:
        return q // 10
    return q / 10


def _convert(a, p, unit, sc):
    if unit == "A":
        return a
    return a * sc.voltage * p


def _local(sc, c, t, now, now_ms):
    # The local limits at wall time t: (amps or None, the wall time they may
    # change or None); for connector 0, every connector's.
    if sc.local is None:
        return None, None
    a, _n, dt = sc.local.amps(c, now_ms + (t - now) * 1000)
    if a is not None and c == 0:
        a = a * sc.n
    return a, (None if dt is None else t + (dt + 999) // 1000)


def composite(sc, c, duration, unit, now, txs, max_periods, now_ms=0):
    """The GetCompositeSchedule.conf chargingSchedule from now for duration
    seconds, or None when neither a profile nor a local limit applies in that
    time. The charger's own maximum caps them (a local limit, spec 5.7), and so
    do the local limits (MQTT, firmware/locallimit.py); numberPhases says the
    phases in use when a period or a local limit sets them. now_ms: the ticks
    of now, for the local limits."""
    rel = now if txs is None else txs
    hw = sc.cfg.get("max_current_a") * (sc.n if c == 0 else 1)
    r = at(sc.entries, c, now, rel, False, txs)
    if unit is None:
        e = r[2] or r[0]
        unit = e[2]["chargingSchedule"]["chargingRateUnit"] if e is not None else "A"
    first = r[2]
    end = now + duration
    t = now
    out = []
    used = False
    last = None
    steps = 0
    lt = lnx = None
    while True:
        e, p, a = pick(sc, c, r[0], r[1], r[2], r[3])
        if lt is None or (lnx is not None and t >= lnx):
            la, lnx = _local(sc, c, t, now, now_ms)
            lt = t
        n = _given(e, p)
        k = used_phases(sc, c, n)
        if e is not None or la is not None or k != sc.phases:
            used = True
        if la is not None and (a is None or la < a):
            a = la
            e = None
        if a is None or a > hw:
            lim = _convert(hw, k, unit, sc)
        elif e is not None and e[2]["chargingSchedule"]["chargingRateUnit"] == unit \
                and (unit == "W" or n == 0 or n >= k):
            lim = _tenths(e[6][3 * p + 1])
        else:
            lim = _convert(a, k, unit, sc)
        lim = _round(lim)
        ph = k if (n or k != sc.phases) else None
        if last is None or lim != last[0] or ph != last[1]:
            if len(out) >= max_periods:
                # Cut where the periods run out rather than send a wrong tail.
                end = t
                break
            d = {"startPeriod": t - now, "limit": lim}
            if ph is not None:
                d["numberPhases"] = ph
            out.append(d)
            last = (lim, ph)
        t = r[4]
        if lnx is not None and (t is None or lnx < t):
            t = lnx
        if t is None or t >= end:
            break
        steps += 1
        if steps >= _MAX_STEPS:
            end = t
            break
        r = at(sc.entries, c, t, rel, False, txs)
    if not used:
        return None
    res = {"duration": end - now, "startSchedule": iso(now), "chargingRateUnit": unit,
           "chargingSchedulePeriod": out}
    if first is not None:
        sch = first[2]["chargingSchedule"]
        m = sch.get("minChargingRate")
        if m is not None:
            k = sc.phases
            if sch["chargingRateUnit"] != unit:
                m = m * sc.voltage * k if unit == "W" else m / (sc.voltage * k)
            res["minChargingRate"] = _round(m)
    return res
