# Smart charging arithmetic and rules (firmware/ocpp/smart.py, smart_calc.py),
# run under MicroPython and CPython by test_smart.py. argv[1]: an empty directory.
# Every expected schedule is worked out by hand in the comment above its case.
# Prints "PASS name" / "FAIL name: why", "SCHED <json>" for every composite
# schedule and "REQ <json>" for every SetChargingProfile payload used (both
# checked against the official schemas by the test), then DONE.
import sys
import json
import log
from compat import parse_iso, iso
from firmware.store import Store
from firmware.config import Config
from firmware.ocpp.rpc import CallError
from firmware.ocpp.transaction import Transaction
from firmware.ocpp.smart import Smart

ROOT = sys.argv[1]
log.level = log.ERROR
T0 = parse_iso("2030-01-07T00:00:00Z")     # a Monday, midnight UTC
H = 3600
DAY = 86400
results = []
_n = [0]


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %r" % (name, detail)))


def fresh(defaults=None, n=2, phases=3, name=None):
    _n[0] += 1
    st = Store("%s/%s" % (ROOT, name or ("s%d" % _n[0])))
    return Smart(Config(st, defaults), st, n, 230, phases)


def mk(pid, purpose, stack, periods, kind="Absolute", unit="A", start=None, dur=None,
       rk=None, vf=None, vt=None, tid=None, mcr=None):
    ps = []
    for p in periods:
        d = {"startPeriod": p[0], "limit": p[1]}
        if len(p) > 2:
            d["numberPhases"] = p[2]
        ps.append(d)
    sch = {"chargingRateUnit": unit, "chargingSchedulePeriod": ps}
    if start is not None:
        sch["startSchedule"] = iso(start)
    if dur is not None:
        sch["duration"] = dur
    if mcr is not None:
        sch["minChargingRate"] = mcr
    p = {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sch}
    if rk:
        p["recurrencyKind"] = rk
    if vf is not None:
        p["validFrom"] = iso(vf)
    if vt is not None:
        p["validTo"] = iso(vt)
    if tid is not None:
        p["transactionId"] = tid
    return p


def Tx(tid, start_s):
    # A running transaction as Smart sees it: its id and its start.
    return Transaction(1, {"tag": "T", "start_wh": 0, "ref": 1, "id": tid, "start_s": start_s})


def put(sc, c, prof, tx=None):
    print("REQ %s" % json.dumps({"connectorId": c, "csChargingProfiles": prof}))
    return sc.set(c, prof, tx)


def sched(sc, c, dur, unit, now, txs=None):
    s = sc.composite(c, dur, unit, now, txs)
    if s is not None:
        print("SCHED %s" % json.dumps(s))
    return s


def per(s):
    if s is None:
        return None
    out = []
    for p in s["chargingSchedulePeriod"]:
        if "numberPhases" in p:
            out.append((p["startPeriod"], p["limit"], p["numberPhases"]))
        else:
            out.append((p["startPeriod"], p["limit"]))
    return out


def near(a, b):
    return a is not None and b is not None and abs(a - b) < 1e-6


TXD = "TxDefaultProfile"
TXP = "TxProfile"
CPM = "ChargePointMaxProfile"


def spec_example():
    # Spec 3.13.7: a daily TxDefaultProfile, 11 kW, 6 kW from 08:00 to 20:00.
    sc = fresh()
    p = mk(100, TXD, 0, ((0, 11000, 3), (28800, 6000, 3), (72000, 11000, 3)), "Recurring", "W",
           start=parse_iso("2013-01-01T00:00:00Z"), dur=86400, rk="Daily")
    expect("spec_example_accepted", put(sc, 0, p) == "Accepted")
    s = sched(sc, 1, DAY, "W", T0)
    expect("spec_example_composite_w", per(s) == [(0, 11000, 3), (28800, 6000, 3), (72000, 11000, 3)]
           and s["duration"] == DAY and s["chargingRateUnit"] == "W"
           and s["startSchedule"] == "2030-01-07T00:00:00Z", s)
    # 11000 / (230 x 3) = 15.94 -> 15.9 A, 6000 / 690 = 8.69 -> 8.6 A (rounded down).
    s = sched(sc, 1, DAY, "A", T0)
    expect("spec_example_composite_a", per(s) == [(0, 15.9, 3), (28800, 8.6, 3), (72000, 15.9, 3)], s)
    # From 22:00 across midnight: 11 kW until 08:00 next day (10 h), then 6 kW.
    s = sched(sc, 1, 12 * H, None, T0 + 22 * H)
    expect("spec_example_across_midnight", per(s) == [(0, 11000, 3), (36000, 6000, 3)]
           and s["chargingRateUnit"] == "W", s)
    a, nxt = sc.limit(1, T0 + 7 * H, None)
    expect("spec_example_limit_before_8", near(a, 11000 / 690) and nxt == H, (a, nxt))
    a, nxt = sc.limit(1, T0 + 8 * H, None)
    expect("spec_example_limit_at_8", near(a, 6000 / 690) and nxt == 12 * H, (a, nxt))
    # At 20:00 the next real change is 08:00 tomorrow: midnight restarts at the
    # same 11 kW and is looked past.
    a, nxt = sc.limit(1, T0 + 20 * H, None)
    expect("spec_example_limit_skips_midnight", near(a, 11000 / 690) and nxt == 12 * H, (a, nxt))
    # Connector 0 reports the same: the profile is for all connectors.
    s = sched(sc, 0, DAY, "W", T0)
    expect("spec_example_connector0", per(s) == [(0, 11000, 3), (28800, 6000, 3), (72000, 11000, 3)], s)


def spec_weekly_calendar():
    # Spec 3.13.2: a weekly TxDefaultProfile: full current (16 A) on weekdays from
    # 23:00 to 06:00 and all weekend, 6 A otherwise; a holiday on Wednesday
    # 2030-01-09 as a stack level 1 exception with full current all day.
    sc = fresh()
    ps = [(0, 16)]
    for d in range(5):
        ps.append(((24 * d + 6) * H, 6))
        ps.append(((24 * d + 23) * H, 16))
    expect("weekly_calendar_accepted", put(sc, 0, mk(1, TXD, 0, ps, "Recurring", start=T0, rk="Weekly")) == "Accepted")
    expect("holiday_accepted", put(sc, 0, mk(2, TXD, 1, ((0, 16),), start=T0 + 2 * DAY, dur=DAY)) == "Accepted")
    # Tuesday 12:00 for 48 h: 6 A; 16 A from Tue 23:00 (11 h) through the
    # holiday and the night after it until Thu 06:00 (42 h), then 6 A.
    s = sched(sc, 1, 48 * H, "A", T0 + DAY + 12 * H)
    expect("weekly_with_holiday", per(s) == [(0, 6), (11 * H, 16), (42 * H, 6)], s)
    # The week boundary: Friday 23:00 to Monday 06:00 is full, Monday 06:00 back to 6 A.
    s = sched(sc, 1, 4 * DAY, "A", T0 + 4 * DAY + 12 * H)
    expect("weekly_across_week_boundary", per(s) == [(0, 6), (11 * H, 16), ((11 + 55) * H, 6),
                                                    ((11 + 55 + 17) * H, 16), (90 * H, 6)], s)


def weekly_boundary():
    # Weekly from Monday 00:00: 8 A on weekdays, 13 A from Saturday 00:00.
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 8), (5 * DAY, 13)), "Recurring", start=T0, rk="Weekly"))
    # Sunday 22:00 for 4 h: 13 A, then 8 A from Monday 00:00 (2 h).
    s = sched(sc, 1, 4 * H, "A", T0 + 6 * DAY + 22 * H)
    expect("weekly_sunday_to_monday", per(s) == [(0, 13), (2 * H, 8)], s)
    a, nxt = sc.limit(1, T0 + 13 * DAY + 22 * H, None)
    expect("weekly_limit_second_week", a == 13 and nxt == 2 * H, (a, nxt))
    # Before its anchor a recurring profile does not apply yet.
    a, nxt = sc.limit(1, T0 - 2 * H, None)
    expect("recurring_not_before_anchor", a is None and nxt == 2 * H, (a, nxt))


def daily_short_duration():
    # Errata 3.43: a daily profile of 4 h from 18:00 (6 A) over a stack level 0
    # default of 10 A: outside 18:00-22:00 the lower level applies.
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 10),)))
    put(sc, 1, mk(2, TXD, 1, ((0, 6),), "Recurring", start=parse_iso("2030-01-01T18:00:00Z"),
                  dur=4 * H, rk="Daily"))
    # From Monday 20:00 for 24 h: 6 A to 22:00, 10 A, 6 A again at 18:00 (22 h).
    s = sched(sc, 1, DAY, "A", T0 + 20 * H)
    expect("daily_duration_fallback_across_midnight", per(s) == [(0, 6), (2 * H, 10), (22 * H, 6)], s)
    # Errata 3.44: a period and a duration beyond the day are never executed.
    sc = fresh()
    put(sc, 1, mk(3, TXD, 0, ((0, 7), (90000, 12)), "Recurring", start=T0, dur=100000, rk="Daily"))
    s = sched(sc, 1, 2 * DAY, "A", T0 + 12 * H)
    expect("recurring_tail_beyond_cycle_dropped", per(s) == [(0, 7)] and s["duration"] == 2 * DAY, s)


def stacking():
    # Stack 0: 10 A from T0. Stack 2: 6 A from T0+1h for 2 h. Stack 1: 8 A from
    # T0+2h for 3 h. Hand-worked: 10 / 6 (1h-3h, level 2 above 1) / 8 (3h-5h) / 10.
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 10),), start=T0))
    put(sc, 0, mk(2, TXD, 2, ((0, 6),), start=T0 + H, dur=2 * H))
    put(sc, 0, mk(3, TXD, 1, ((0, 8),), start=T0 + 2 * H, dur=3 * H))
    s = sched(sc, 1, 6 * H, "A", T0)
    expect("stack_levels_overlap", per(s) == [(0, 10), (H, 6), (3 * H, 8), (5 * H, 10)], s)
    a, nxt = sc.limit(1, T0 + 90 * 60, None)
    expect("stack_limit_next_change", a == 6 and nxt == 90 * 60, (a, nxt))
    # Stacking without a duration at the top never falls back (errata 3.7): the
    # lower levels' boundaries are looked past, no change ever comes.
    put(sc, 0, mk(4, TXD, 3, ((0, 7),), start=T0 - H))
    a, nxt = sc.limit(1, T0, None)
    expect("top_level_without_duration", a == 7 and nxt is None, (a, nxt))


def validity():
    # validFrom / validTo bound a stack level 1 profile of 6 A over 10 A.
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 10),), start=T0))
    put(sc, 0, mk(2, TXD, 1, ((0, 6),), start=T0 - DAY, vf=T0 + H, vt=T0 + 2 * H))
    s = sched(sc, 1, 3 * H, "A", T0)
    expect("valid_from_to", per(s) == [(0, 10), (H, 6), (2 * H, 10)], s)
    expect("valid_limit_before", sc.limit(1, T0, None) == (10, H), sc.limit(1, T0, None))
    expect("valid_limit_inside", sc.limit(1, T0 + H, None) == (6, H), sc.limit(1, T0 + H, None))
    expect("valid_limit_after", sc.limit(1, T0 + 2 * H, None) == (10, None), sc.limit(1, T0 + 2 * H, None))


def duration():
    # 8 A for 30 min from T0, nothing after: the charger's own 16 A fills the rest.
    sc = fresh()
    put(sc, 1, mk(1, TXD, 0, ((0, 8), (3600, 9)), start=T0, dur=1800))
    s = sched(sc, 1, H, "A", T0)
    expect("duration_ends_profile", per(s) == [(0, 8), (1800, 16)], s)
    expect("duration_limit", sc.limit(1, T0, None) == (8, 1800), sc.limit(1, T0, None))
    expect("duration_limit_after", sc.limit(1, T0 + 1800, None) == (None, None))
    # A schedule that starts later leaves the time before it unlimited.
    s = sched(sc, 1, H, "A", T0 - 1800)
    expect("absolute_starts_later", per(s) == [(0, 16), (1800, 8)], s)
    expect("nothing_in_window_is_none", sched(sc, 1, H, "A", T0 + 2 * H) is None)
    expect("no_profiles_is_none", fresh().composite(1, H, "A", T0, None) is None)


def relative():
    # A Relative TxProfile runs from the transaction's start: 6 A, 12 A after
    # 10 min. The transaction began 5 min before now.
    sc = fresh()
    tx = Tx(7, T0 - 300)
    expect("relative_tx_accepted", put(sc, 1, mk(1, TXP, 0, ((0, 6), (600, 12)), "Relative", tid=7), tx) == "Accepted")
    s = sched(sc, 1, 1200, "A", T0, T0 - 300)
    expect("relative_from_tx_start", per(s) == [(0, 6), (300, 12)], s)
    expect("relative_limit", sc.limit(1, T0, T0 - 300) == (6, 300), sc.limit(1, T0, T0 - 300))
    # The same profile as a TxDefaultProfile without a transaction: from now in
    # the composite, and limit() holds the first period (it starts when a
    # transaction does).
    sc = fresh()
    put(sc, 1, mk(2, TXD, 0, ((0, 6), (600, 12)), "Relative"))
    s = sched(sc, 1, 1200, "A", T0)
    expect("relative_without_tx_from_now", per(s) == [(0, 6), (600, 12)], s)
    expect("relative_without_tx_limit", sc.limit(1, T0, None) == (6, None), sc.limit(1, T0, None))
    expect("relative_with_tx_limit", sc.limit(1, T0 + 700, T0) == (12, None), sc.limit(1, T0 + 700, T0))


def combined():
    # ChargePointMax 12 A, 8 A from T0+2h; TxDefault 10 A on all connectors;
    # TxProfile on connector 1: 16 A, 6 A from 1 h after the transaction start.
    sc = fresh()
    tx = Tx(42, T0)
    put(sc, 0, mk(1, CPM, 0, ((0, 12), (2 * H, 8)), start=T0))
    put(sc, 0, mk(2, TXD, 0, ((0, 10),), start=T0))
    put(sc, 1, mk(3, TXP, 0, ((0, 16), (H, 6)), "Relative", tid=42), tx)
    # Connector 1 in the transaction: min(12,16)=12, min(12,6)=6, min(8,6)=6.
    s = sched(sc, 1, 3 * H, "A", T0, T0)
    expect("combined_tx", per(s) == [(0, 12), (H, 6)], s)
    # Connector 2, no transaction: min(CPMax, TxDefault) = 10, then 8 at 2 h.
    s = sched(sc, 2, 3 * H, "A", T0, None)
    expect("combined_txdefault", per(s) == [(0, 10), (2 * H, 8)], s)
    # Connector 0: ChargePointMax with the TxDefaultProfile for connector 0.
    s = sched(sc, 0, 3 * H, "A", T0)
    expect("combined_connector0", per(s) == [(0, 10), (2 * H, 8)], s)
    expect("combined_limit", sc.limit(1, T0, T0) == (12, H), sc.limit(1, T0, T0))
    # A TxProfile that ends hands over to the TxDefaultProfile (errata 3.43).
    put(sc, 1, mk(3, TXP, 0, ((0, 4),), "Relative", dur=H), tx)
    s = sched(sc, 1, 3 * H, "A", T0, T0)
    expect("tx_profile_falls_back_to_default", per(s) == [(0, 4), (H, 10), (2 * H, 8)], s)
    # Without the transaction the TxProfile does not count.
    s = sched(sc, 1, 3 * H, "A", T0, None)
    expect("tx_profile_needs_its_tx", per(s) == [(0, 10), (2 * H, 8)], s)
    # Nor for another transaction that started later on the same connector.
    s = sched(sc, 1, 3 * H, "A", T0, T0 + 60)
    expect("tx_profile_not_for_next_tx", per(s) == [(0, 10), (2 * H, 8)], s)


class _Ctl:
    def __init__(self):
        self.limit = "unset"

    def set_limit(self, a):
        self.limit = a


class _Conn:
    def __init__(self, c, start_s=None):
        self.c = c
        self.tx = None if start_s is None else Tx(c, start_s)
        self.ctl = _Ctl()


def sharing():
    # A ChargePointMaxProfile is the whole charge point's (spec 3.13.1).
    from firmware.ocpp.limiter import share, Limiter
    import compat
    expect("share_enough_for_all", share(32, [16, 16], [0, 1]) == [16, 16])
    expect("share_split_equally", share(20, [16, 16], [0, 1]) == [10, 10])
    expect("share_water_filling", share(30, [8, 32, 32], [0, 1, 2]) == [8, 11, 11])
    # 20 / 3: to 0.1 A down, never above the total.
    got = share(20, [16, 16, 16], [2, 0, 1])
    expect("share_rounds_down", sorted(got) == [6.6, 6.7, 6.7] and sum(got) <= 20, got)
    # Not 6 A for each: the earliest transaction keeps charging, the later waits.
    expect("share_earliest_first", share(10, [16, 16], [1, 0]) == [0, 10])
    expect("share_idle_gets_what_is_left", share(30, [16, 16], [0]) == [16, 14]
           and share(20, [16, 16], [0]) == [16, 0])
    expect("share_own_limit_under_6_skipped", share(12, [4, 16, 16], [0, 1, 2]) == [0, 6, 6])
    sc = fresh()
    hw = sc.cfg.get("max_current_a")
    put(sc, 0, mk(1, CPM, 0, ((0, 20), (H, 12)), start=T0))
    conns = [None, _Conn(1, T0 + 5), _Conn(2, T0)]
    lim = Limiter(sc, conns)
    compat.set_wall(T0 + 10)
    nxt = lim.apply(0)
    got = (conns[1].ctl.limit, conns[2].ctl.limit)
    expect("limiter_splits_station_limit", got == (10, 10) and nxt == H - 10, (got, nxt))
    # Connector 1 drops to 6 A at once; connector 2's raise waits until an EV
    # has had the 5 s IEC 61851-1 gives it to follow a lower offer.
    put(sc, 1, mk(2, TXD, 0, ((0, 6),), start=T0))
    nxt = lim.apply(100)
    got = (conns[1].ctl.limit, conns[2].ctl.limit)
    expect("limiter_raise_waits_for_the_cut", got == (6, 10) and abs(nxt - 5) < 0.01,
           (got, nxt))
    lim.apply(5200)
    got = (conns[1].ctl.limit, conns[2].ctl.limit)
    expect("limiter_unused_share_to_the_other", got == (6, 14), got)
    compat.set_wall(T0 + H)
    lim.apply(6000)
    got = (conns[1].ctl.limit, conns[2].ctl.limit)
    expect("limiter_follows_station_period", got == (6, 6), got)
    conns[1].tx = None
    lim.apply(11100)
    got = (conns[1].ctl.limit, conns[2].ctl.limit)
    expect("limiter_idle_offered_nothing_left", got == (0, min(12, hw)), got)
    sc.clear()
    lim.apply(11200)
    got = (conns[1].ctl.limit, conns[2].ctl.limit)
    expect("limiter_no_station_limit_no_sharing", got == (None, None), got)



def units():
    # W -> A with 230 V: 6900 W on 3 phases is 10 A. A period for numberPhases
    # 1 on a charger that cannot switch (no phase contactor) is honoured by
    # the arithmetic: its 6900 W spread over the 3 phases in use, 10 A, not
    # the 30 A a single phase would take (20.7 kW on three).
    sc = fresh()
    put(sc, 1, mk(1, TXD, 0, ((0, 6900),), unit="W"))
    a, _ = sc.limit(1, T0, None)
    expect("w_to_a_three_phases", near(a, 10), a)
    put(sc, 1, mk(1, TXD, 0, ((0, 6900, 1),), unit="W"))
    a, _ = sc.limit(1, T0, None)
    expect("w_to_a_number_phases", near(a, 10), a)
    # With a phase contactor the charger switches to the one phase: 30 A there.
    sc.can_switch[1] = True
    expect("w_to_a_number_phases_switched", sc.limits(1, T0, None) == (30, None, 1),
           sc.limits(1, T0, None))
    sc.can_switch[1] = False
    # Errata 3.34: numberPhases above what a single-phase charger has does not
    # shrink the limit: 6900 W on the one phase is 30 A.
    sc1 = fresh(phases=1)
    put(sc1, 1, mk(1, TXD, 0, ((0, 6900, 3),), unit="W"))
    a, _ = sc1.limit(1, T0, None)
    expect("w_to_a_more_phases_than_charger", near(a, 30), a)
    # A -> W for GetCompositeSchedule: 10 A x 230 V x 3 = 6900 W; x 1 = 2300 W,
    # which a charger without a phase contactor draws on its 3 phases (the
    # numberPhases it reports).
    sc = fresh()
    put(sc, 1, mk(1, TXD, 0, ((0, 10), (H, 10, 1)), mcr=6))
    s = sched(sc, 1, 2 * H, "W", T0)
    expect("a_to_w_composite", per(s) == [(0, 6900), (H, 2300, 3)], s)
    expect("min_charging_rate_converted", s is not None and s.get("minChargingRate") == 4140, s)
    s = sched(sc, 1, 2 * H, "A", T0)
    expect("min_charging_rate_carried", s is not None and s.get("minChargingRate") == 6, s)
    # No unit asked: that of the prevailing profile.
    s = sched(sc, 1, H, None, T0)
    expect("unit_of_prevailing_profile", s is not None and s["chargingRateUnit"] == "A", s)
    # Limits above the charger's 16 A are reported as 16 A (a local limit).
    sc = fresh()
    put(sc, 1, mk(1, TXD, 0, ((0, 32), (H, 12))))
    s = sched(sc, 1, 2 * H, "A", T0)
    expect("composite_capped_by_charger", per(s) == [(0, 16), (H, 12)], s)
    # limit() leaves the cap to the controller. Without a startSchedule the
    # schedule runs from the start of charging: no transaction, first period.
    expect("limit_not_capped", sc.limit(1, T0, None) == (32, None), sc.limit(1, T0, None))
    # Mixed units: the minimum is taken in amperes per phase. 4600 W / 690 = 6.67 A < 8 A.
    put(sc, 0, mk(2, CPM, 0, ((0, 4600),), unit="W"))
    a, _ = sc.limit(1, T0 + H, None)
    expect("mixed_units_minimum", near(a, 4600 / 690), a)
    s = sched(sc, 1, H, "A", T0 + H)
    expect("mixed_units_composite", per(s) == [(0, 6.6)], s)


def key_limits():
    sc = fresh()
    tx = Tx(5, T0)
    r = []
    r.append(("stack_above_max", put(sc, 1, mk(1, TXD, 9, ((0, 10),)))))
    r.append(("negative_stack", put(sc, 1, mk(1, TXD, -1, ((0, 10),)))))
    many = [(i * 60, 10) for i in range(25)]
    r.append(("too_many_periods", put(sc, 1, mk(1, TXD, 0, many))))
    r.append(("cpmax_not_on_connector", put(sc, 1, mk(1, CPM, 0, ((0, 10),)))))
    r.append(("txprofile_without_tx", put(sc, 1, mk(1, TXP, 0, ((0, 10),)))))
    r.append(("txprofile_on_connector0", put(sc, 0, mk(1, TXP, 0, ((0, 10),)), tx)))
    r.append(("txprofile_other_tx", put(sc, 1, mk(1, TXP, 0, ((0, 10),), tid=6), tx)))
    r.append(("transaction_id_on_default", put(sc, 1, mk(1, TXD, 0, ((0, 10),), tid=5))))
    r.append(("first_period_not_0", put(sc, 1, mk(1, TXD, 0, ((60, 10),)))))
    r.append(("periods_not_increasing", put(sc, 1, mk(1, TXD, 0, ((0, 10), (600, 8), (600, 6))))))
    r.append(("negative_limit", put(sc, 1, mk(1, TXD, 0, ((0, -1),)))))
    r.append(("zero_duration", put(sc, 1, mk(1, TXD, 0, ((0, 10),), dur=0))))
    r.append(("recurring_without_kind", put(sc, 1, mk(1, TXD, 0, ((0, 10),), "Recurring", start=T0))))
    r.append(("recurring_without_start", put(sc, 1, mk(1, TXD, 0, ((0, 10),), "Recurring", rk="Daily"))))
    r.append(("valid_to_before_from", put(sc, 1, mk(1, TXD, 0, ((0, 10),), vf=T0, vt=T0))))
    for name, st in r:
        expect("rejected_" + name, st == "Rejected", st)
    expect("rejected_installs_nothing", sc.entries == [] and sc.version == 0, sc.entries)
    try:
        sc.set(3, mk(1, TXD, 0, ((0, 10),)), None)
        expect("bad_connector_callerror", False, "no error")
    except CallError as e:
        expect("bad_connector_callerror", e.code == "PropertyConstraintViolation", e.code)
    # Only "Current" allowed: a profile in W is Rejected, in A accepted.
    sc = fresh({"ChargingScheduleAllowedChargingRateUnit": ("Current",)})
    expect("rejected_unit_not_allowed", put(sc, 1, mk(1, TXD, 0, ((0, 6900),), unit="W")) == "Rejected")
    expect("allowed_unit_accepted", put(sc, 1, mk(1, TXD, 0, ((0, 10),))) == "Accepted")
    # The top stack level and the most periods are allowed.
    sc = fresh()
    expect("max_stack_and_periods_accepted",
           put(sc, 1, mk(1, TXD, 8, [(i * 60, 10) for i in range(24)])) == "Accepted")
    # MaxChargingProfilesInstalled = 8: the ninth is Rejected...
    sc = fresh()
    for i in range(8):
        put(sc, 0, mk(10 + i, TXD, i, ((0, 10),)))
    expect("max_installed_rejected", put(sc, 1, mk(20, TXD, 0, ((0, 10),))) == "Rejected"
           and len(sc.entries) == 8)
    # ...but a replacement still fits, and expired profiles make room.
    expect("replacement_when_full", put(sc, 0, mk(10, TXD, 0, ((0, 9),))) == "Accepted"
           and len(sc.entries) == 8)
    sc = fresh()
    old = parse_iso("2001-01-01T00:00:00Z")
    for i in range(8):
        put(sc, 0, mk(10 + i, TXD, i, ((0, 10),), vf=old - DAY, vt=old))
    expect("expired_make_room", put(sc, 1, mk(20, TXD, 0, ((0, 10),))) == "Accepted"
           and len(sc.entries) == 1)


def replacement():
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 10),)))
    v = sc.version
    # Same id, other stack level: replaced.
    put(sc, 0, mk(1, TXD, 1, ((0, 9),)))
    expect("replace_by_id", len(sc.entries) == 1 and sc.entries[0][2]["stackLevel"] == 1
           and sc.version == v + 1)
    # Same purpose and stack level on the same connector, other id: replaced.
    put(sc, 0, mk(2, TXD, 1, ((0, 8),)))
    expect("replace_by_purpose_and_stack", len(sc.entries) == 1 and sc.entries[0][2]["chargingProfileId"] == 2)
    # A connector's TxDefaultProfile at the same level is installed next to the one
    # for all connectors, and overrides it on that connector only (spec 3.13.1).
    put(sc, 1, mk(3, TXD, 1, ((0, 6),)))
    expect("connector_default_beside_all", len(sc.entries) == 2)
    expect("connector_default_overrides", sc.limit(1, T0, None)[0] == 6 and sc.limit(2, T0, None)[0] == 8,
           (sc.limit(1, T0, None), sc.limit(2, T0, None)))
    # Other purpose at the same level: both stay.
    put(sc, 0, mk(4, CPM, 1, ((0, 7),)))
    expect("other_purpose_same_level_kept", len(sc.entries) == 3)
    # A remote start's TxProfile (no transactionId) is replaced by a
    # SetChargingProfile for that transaction at the same level (spec 5.16.2).
    tx = Tx(None, T0)
    put(sc, 1, mk(5, TXP, 2, ((0, 5),), "Relative"), tx)
    tx.id = 99
    put(sc, 1, mk(6, TXP, 2, ((0, 4),), "Relative", tid=99), tx)
    ids = sorted([e[2]["chargingProfileId"] for e in sc.entries])
    expect("remote_start_profile_replaced", ids == [2, 3, 4, 6], ids)
    expect("remote_start_profile_limit", sc.limit(1, T0, T0)[0] == 4)


def clearing():
    def setup():
        sc = fresh()
        tx = Tx(1, T0)
        put(sc, 0, mk(1, CPM, 0, ((0, 20),)))
        put(sc, 0, mk(2, TXD, 0, ((0, 10),)))
        put(sc, 1, mk(3, TXD, 1, ((0, 9),)))
        put(sc, 2, mk(4, TXD, 0, ((0, 8),)))
        put(sc, 1, mk(5, TXP, 1, ((0, 7),)), tx)
        return sc

    def ids(sc):
        return sorted([e[2]["chargingProfileId"] for e in sc.entries])
    sc = setup()
    v = sc.version
    # An id decides alone: the other fields are ignored (errata 3.26).
    expect("clear_by_id", sc.clear(3, connector=2, purpose=CPM) == "Accepted" and ids(sc) == [1, 2, 4, 5]
           and sc.version == v + 1, ids(sc))
    expect("clear_unknown_id", sc.clear(77) == "Unknown" and sc.version == v + 1)
    sc = setup()
    expect("clear_by_connector", sc.clear(connector=1) == "Accepted" and ids(sc) == [1, 2, 4], ids(sc))
    sc = setup()
    expect("clear_by_purpose", sc.clear(purpose=TXD) == "Accepted" and ids(sc) == [1, 5], ids(sc))
    sc = setup()
    expect("clear_by_stack", sc.clear(stack=1) == "Accepted" and ids(sc) == [1, 2, 4], ids(sc))
    sc = setup()
    expect("clear_and_of_fields", sc.clear(connector=0, purpose=TXD, stack=0) == "Accepted"
           and ids(sc) == [1, 3, 4, 5], ids(sc))
    expect("clear_no_match_unknown", sc.clear(connector=2, purpose=CPM) == "Unknown" and ids(sc) == [1, 3, 4, 5])
    sc = setup()
    expect("clear_all", sc.clear() == "Accepted" and ids(sc) == [])
    expect("clear_all_again_unknown", sc.clear() == "Unknown")


def persistence():
    sc = fresh(name="persist")
    tx = Tx(3, T0)
    put(sc, 0, mk(1, CPM, 0, ((0, 12),)))
    put(sc, 1, mk(2, TXP, 0, ((0, 6),), "Relative"), tx)
    put(sc, 0, mk(3, TXD, 0, ((0, 10), (600, 8)), "Recurring", start=T0, rk="Daily"))
    w = sc.store.writes
    sc2 = fresh(name="persist")
    expect("persisted_across_new_smart", len(sc2.entries) == 3 and sc2.limit(1, T0, T0) == sc.limit(1, T0, T0)
           and sc2.limit(1, T0, T0) == (6, None), sc2.limit(1, T0, T0))
    expect("one_write_per_change", w == 3, w)
    s1 = sc.composite(1, DAY, "W", T0, None)
    s2 = sc2.composite(1, DAY, "W", T0, None)
    expect("persisted_composite_same", s1 == s2 and s1 is not None, (s1, s2))
    # tx_ended drops that connector's TxProfiles, persistently.
    v = sc2.version
    sc2.tx_ended(2)
    expect("tx_ended_other_connector_keeps", len(sc2.entries) == 3 and sc2.version == v + 1)
    sc2.tx_ended(1)
    expect("tx_ended_removes_txprofile", len(sc2.entries) == 2 and sc2.version == v + 2
           and sc2.limit(1, T0, T0) == (10, 600), sc2.limit(1, T0, T0))
    sc3 = fresh(name="persist")
    expect("tx_ended_persisted", len(sc3.entries) == 2)
    sc3.clear()
    expect("clear_persisted", len(fresh(name="persist").entries) == 0)
    # A stored profile on a connector this build lacks is dropped on load.
    sc = fresh(name="shrink", n=2)
    put(sc, 2, mk(1, TXD, 0, ((0, 10),)))
    put(sc, 1, mk(2, TXD, 0, ((0, 10),)))
    expect("load_drops_missing_connector", len(fresh(name="shrink", n=1).entries) == 1)


def truncation():
    # A daily 3-period profile asked for 30 days: the answer stops at
    # ChargingScheduleMaxPeriods (24) periods and says how far it reaches.
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 10), (8 * H, 6), (20 * H, 10)), "Recurring", start=T0, rk="Daily"))
    s = sched(sc, 1, 30 * DAY, "A", T0)
    ps = s["chargingSchedulePeriod"]
    # 10 A from 00:00, then each day k 6 A at 24k+8 h and 10 A at 24k+20 h: the
    # 24th period is 6 A at 11 days 8 h; the 25th (11 days 20 h) no longer fits.
    expect("composite_bounded", len(ps) == 24 and ps[-1]["startPeriod"] == (11 * 24 + 8) * H
           and ps[-1]["limit"] == 6, (len(ps), ps[-1]))
    expect("composite_truncated_duration", s["duration"] == (11 * 24 + 20) * H, s["duration"])


def step_bound():
    # Ten years of a daily profile whose value never changes: the walk stops
    # after 400 boundaries (day starts) and the duration says so.
    sc = fresh()
    put(sc, 0, mk(1, TXD, 0, ((0, 10),), "Recurring", start=T0, rk="Daily"))
    s = sched(sc, 1, 3650 * DAY, "A", T0)
    expect("composite_step_bound", per(s) == [(0, 10)] and s["duration"] == 400 * DAY, s)


def main():
    spec_example()
    spec_weekly_calendar()
    weekly_boundary()
    daily_short_duration()
    stacking()
    validity()
    duration()
    relative()
    combined()
    sharing()
    units()
    key_limits()
    replacement()
    clearing()
    persistence()
    truncation()
    step_bound()
    print("DONE %d" % len(results))


main()
