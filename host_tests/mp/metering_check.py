# Meter value checks, run under MicroPython and CPython by test_metering.py.
# Prints "PASS name" / "FAIL name: why" per case, "MV <connector> <json>" for
# every meter value made (the test validates them against the official
# schema), "TX <json>" for transaction data, and "DONE n" at the end.
import json
import asyncio
import log
from compat import iso
from firmware.config import Config
from firmware.ocpp import metering
from firmware.ocpp.metering import Metering
from firmware.ocpp.metervalue import (meter_value, fmt, SAMPLE_CLOCK, SAMPLE_PERIODIC,
                                      TRANSACTION_BEGIN, TRANSACTION_END)

log.level = log.ERROR + 1     # the skipped-reading warnings are expected here

E = "Energy.Active.Import.Register"
P = "Power.Active.Import"
I = "Current.Import"
O = "Current.Offered"
V = "Voltage"
ALL = (E, P, I, O, V)
# 2025-03-01 23:40:00 UTC
BASE = 1740872400
MIDNIGHT = 1740873600


class MemStore:
    def load(self, name, default=None):
        return default

    def save(self, name, obj):
        pass

    def remove(self, name):
        pass


class FakeCtl:
    def __init__(self, energy=1000.0, power=0, current=0.0, offered=0, voltage=230):
        self.energy_wh = energy
        self.power_w = power
        self.current_a = current
        self.offered_a = offered
        self.voltage_v = voltage
        self.contactor_closed = False
        self.cp = "A"


results = []


def expect(name, cond, detail=""):
    results.append(name)
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, detail)))


def show(c, mv):
    print("MV %d %s" % (c, json.dumps(mv)))


def sv_map(mv):
    out = {}
    for sv in mv["sampledValue"]:
        out[sv["measurand"]] = sv
    return out


class Rec:
    def __init__(self, sim=None):
        self.got = []
        self.sim = sim

    def __call__(self, c, mv, kind):
        show(c, mv)
        now = self.sim.now if self.sim else 0
        self.got.append((c, mv, kind, now))

    def kind(self, kind, c=None):
        return [g for g in self.got if g[2] == kind and (c is None or g[0] == c)]

    def stamps(self, kind, c=None):
        return [g[1]["timestamp"] for g in self.kind(kind, c)]


class Sim:
    # Drives tick/due_ms like Metering.run does, on a fake clock.
    def __init__(self, m, base=BASE, now=0, cap=1000, float_wall=False):
        self.m = m
        self.base = base
        self.now = now
        self.cap = cap
        self.float_wall = float_wall
        self.wakes = 0

    def wall(self):
        if self.float_wall:
            return self.base + self.now / 1000
        return self.base + self.now // 1000

    def until(self, end, hook=None):
        while self.now <= end:
            if hook:
                hook(self.now)
            self.m.tick(self.now, self.wall())
            d = self.m.due_ms(self.now, self.wall())
            if d is None or d > self.cap:
                d = self.cap
            self.now += d if d > 0 else 1
            self.wakes += 1


def make(defaults=None, n=1, ctls=None):
    d = {"ClockAlignedDataInterval": 0, "MeterValueSampleInterval": 0}
    if defaults:
        for k in defaults:
            d[k] = defaults[k]
    cfg = Config(MemStore(), d)
    if ctls is None:
        ctls = [None] + [FakeCtl() for _ in range(n)]
    rec = Rec()
    m = Metering(cfg, ctls, rec)
    return cfg, ctls, rec, m


def t_values():
    ctl = FakeCtl(energy=1234.7, power=3679.6, current=15.94, offered=16, voltage=230)
    mv = meter_value(ctl, ALL, TRANSACTION_BEGIN, ts=BASE)
    show(1, mv)
    s = sv_map(mv)
    expect("values_timestamp", mv["timestamp"] == "2025-03-01T23:40:00Z", mv["timestamp"])
    expect("values_order", [x["measurand"] for x in mv["sampledValue"]] == list(ALL), mv)
    want = {E: ("1234", "Wh"), P: ("3680", "W"), I: ("15.9", "A"), O: ("16.0", "A"),
            V: ("230.0", "V")}
    ok = True
    for k in want:
        sv = s[k]
        if (sv["value"], sv["unit"]) != want[k] or sv["context"] != TRANSACTION_BEGIN \
                or sv["format"] != "Raw":
            ok = False
    expect("values_units_context_format", ok, mv)
    expect("values_energy_location_outlet", s[E].get("location") == "Outlet", s[E])
    expect("values_three_phase_no_phase", not [x for x in mv["sampledValue"] if "phase" in x], mv)
    one = FakeCtl(energy=1234.7, power=3679.6, current=15.94, offered=16, voltage=230)
    one.phases = 1
    mv1 = meter_value(one, (I, O, V, E), TRANSACTION_END, ts=BASE)
    show(1, mv1)
    s1 = sv_map(mv1)
    expect("values_single_phase", s1[I].get("phase") == "L1" and s1[O].get("phase") == "L1"
           and s1[V].get("phase") == "L1-N" and "phase" not in s1[E], mv1)
    expect("values_context_end", s1[E]["context"] == TRANSACTION_END, mv1)
    # The meter cannot give SoC; a None reading is not made up either.
    ctl.current_a = None
    mv2 = meter_value(ctl, ("SoC", I, E), SAMPLE_PERIODIC, ts=BASE)
    show(1, mv2)
    expect("values_unknown_and_none_skipped",
           [x["measurand"] for x in mv2["sampledValue"]] == [E], mv2)
    expect("values_nothing_is_none", meter_value(ctl, ("SoC",), SAMPLE_PERIODIC) is None
           and meter_value(ctl, (), SAMPLE_PERIODIC) is None)
    mv3 = meter_value(ctl, (E,), SAMPLE_PERIODIC)
    expect("values_now_timestamp", len(mv3["timestamp"]) == 20 and mv3["timestamp"][:2] == "20",
           mv3["timestamp"])
    f = fmt
    got = [f(2.9999999999, -1), f(1234.99, -1), f(0, -1), f(0.04, 1), f(-0.04, 1), f(-3.26, 1),
           f(7359.5, 0), f(12.25, 2), f(5, 1)]
    expect("values_rounding", got == ["3", "1234", "0", "0.0", "0.0", "-3.3", "7360", "12.25",
                                      "5.0"], got)


def t_real_controller_attrs():
    # The real controller's properties (energy from pulses, current from power).
    import sys
    sys.path.append("host_tests/fake_machine")
    try:
        from firmware.evse.controller import Controller
        import fakeport
    except ImportError as e:
        expect("real_controller", False, "cannot import: %r" % (e,))
        return
    port = fakeport.FakePort()
    ctl = Controller(port, {"max_current_a": 16, "energy_base_wh": 5000})
    mv = meter_value(ctl, ALL, SAMPLE_PERIODIC, ts=BASE)
    show(1, mv)
    s = sv_map(mv)
    expect("real_controller", s[E]["value"] == "5000" and s[P]["value"] == "0"
           and s[I]["value"] == "0.0" and s[O]["value"] == "0.0" and s[V]["value"] == "230.0",
           mv)


def t_aligned_midnight():
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 900,
                              "MeterValuesAlignedData": "Energy.Active.Import.Register"})
    sim = Sim(m)
    rec.sim = sim
    sim.until(40 * 60 * 1000)       # 23:40 -> 00:20
    st = rec.stamps("aligned")
    expect("aligned_quarters_across_midnight",
           st == ["2025-03-01T23:45:00Z", "2025-03-02T00:00:00Z", "2025-03-02T00:15:00Z"], st)
    late = [BASE + g[3] // 1000 - metering._slot_time(
        metering._slot(BASE + g[3] // 1000, 900), 900) for g in rec.kind("aligned")]
    expect("aligned_on_time", late == [0, 0, 0], late)
    ctx = [sv["context"] for g in rec.got for sv in g[1]["sampledValue"]]
    expect("aligned_context_clock", ctx and ctx == [SAMPLE_CLOCK] * len(ctx), ctx)
    expect("aligned_no_sampled_without_tx", not rec.kind("sampled"), rec.got)
    expect("aligned_one_connector_no_sum", [g[0] for g in rec.got] == [1, 1, 1], rec.got)
    # Woken about once a second, like run(): a changed key shows within it.
    expect("aligned_wakeups", 2300 < sim.wakes < 2500, sim.wakes)


def t_aligned_exact_wakeups():
    # Scheduled by due_ms alone (no one-second cap), with a sub-second wall clock.
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 300})
    sim = Sim(m, now=123, cap=10 ** 9, float_wall=True)
    rec.sim = sim
    sim.until(21 * 60 * 1000)
    st = rec.stamps("aligned")
    expect("due_aligned_stamps", st == ["2025-03-01T23:45:00Z", "2025-03-01T23:50:00Z",
                                        "2025-03-01T23:55:00Z", "2025-03-02T00:00:00Z"], st)
    at = [g[3] for g in rec.kind("aligned")]
    expect("due_aligned_exact", at == [300000, 600000, 900000, 1200000], at)
    expect("due_aligned_few_wakeups", sim.wakes <= 8, sim.wakes)


def t_aligned_uneven_interval():
    # 420 s does not divide a day: the last interval is short, 00:00 starts again.
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 420})
    sim = Sim(m, base=MIDNIGHT - 600)
    rec.sim = sim
    sim.until(20 * 60 * 1000)
    st = rec.stamps("aligned")
    expect("aligned_restart_at_midnight",
           st == ["2025-03-01T23:55:00Z", "2025-03-02T00:00:00Z", "2025-03-02T00:07:00Z"], st)


def t_aligned_sum_and_average():
    a = FakeCtl(energy=100.0, power=1111)
    b = FakeCtl(energy=2000.0, power=2222)
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 900,
                              "MeterValuesAlignedData": "Energy.Active.Import.Register,"
                                                        "Power.Active.Import,Current.Import,Voltage"},
                             ctls=[None, a, b])
    sim = Sim(m, base=BASE + 300)     # 23:45, on a boundary: the first interval is whole

    def grow(now):
        # Connector 1 takes 1 kWh per quarter hour (4 kW), connector 2 nothing.
        a.energy_wh = 100.0 + now / 900000 * 1000

    rec.sim = sim
    sim.until(30 * 60 * 1000, grow)
    al = rec.kind("aligned")
    cs = [g[0] for g in al]
    expect("sum_connector_zero", cs == [1, 2, 0, 1, 2, 0], cs)
    last = [g[1] for g in al[3:]]
    s1, s2, s0 = sv_map(last[0]), sv_map(last[1]), sv_map(last[2])
    expect("sum_energy", s0[E]["value"] == str(int(a.energy_wh + b.energy_wh + 0.001))
           and s0[E]["location"] == "Inlet", (s0, a.energy_wh, b.energy_wh))
    expect("sum_only_energy_power", sorted(s0) == sorted([E, P]), s0)
    # The instantaneous estimate says 1111 W; the register says 4 kW on average.
    p1 = float(s1[P]["value"])
    expect("aligned_power_averaged", 3990 <= p1 <= 4010, s1[P])
    expect("aligned_current_averaged", s1[I]["value"] == "5.8", s1[I])
    expect("aligned_idle_average_zero", s2[P]["value"] == "0" and s2[I]["value"] == "0.0", s2)
    expect("sum_power_averaged", 3990 <= float(s0[P]["value"]) <= 4010, s0[P])


def t_aligned_off_and_clock():
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 0})
    sim = Sim(m)
    sim.until(3600 * 1000)
    expect("aligned_off_when_zero", not rec.got, rec.got)
    expect("due_none_when_nothing", m.due_ms(sim.now, sim.wall()) is None)
    # A board RTC that was never set (year 2000): nothing aligned.
    cfg.set("ClockAlignedDataInterval", "60")
    sim = Sim(m, base=946684800)
    sim.until(300 * 1000)
    expect("aligned_not_before_clock_set", not rec.got, rec.got)
    # The clock is set forward (BootNotification): the boundary it jumps over is
    # not reported late, the next one is on time.
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 60})
    m.tick(0, BASE + 10)
    m.tick(1000, BASE + 1000 + 37)
    m.tick(2000, BASE + 1000 + 38)
    expect("aligned_jump_skipped", not rec.got, rec.got)
    m.tick(44000, BASE + 1080)
    expect("aligned_after_jump", rec.stamps("aligned") == [iso(BASE + 1080)], rec.got)
    # Set back: nothing at once, then the boundaries of the corrected clock.
    m.tick(45000, BASE + 1000)
    m.tick(46000, BASE + 1001)
    expect("aligned_back_nothing_at_once", len(rec.got) == 1, rec.got)
    m.tick(65000, BASE + 1020)
    expect("aligned_after_back", rec.stamps("aligned")[1:] == [iso(BASE + 1020)], rec.got)


def t_sampled():
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 60,
                              "MeterValuesSampledData": "Energy.Active.Import.Register,"
                                                        "Power.Active.Import,Current.Offered"})
    sim = Sim(m, now=5000, cap=777)
    rec.sim = sim
    sim.until(100000)
    expect("sampled_none_without_tx", not rec.got, rec.got)
    start = sim.now
    m.tx_started(1, start)
    ctls[1].power_w = 7360
    ctls[1].offered_a = 32
    sim.until(start + 185000)
    at = [g[3] - start for g in rec.kind("sampled")]
    expect("sampled_from_tx_start", at == [60000, 120000, 180000], at)
    s = sv_map(rec.got[0][1])
    expect("sampled_context_values", s[P]["value"] == "7360" and s[P]["context"] == SAMPLE_PERIODIC
           and s[O]["value"] == "32.0" and sorted(s) == sorted([E, P, O]), s)
    expect("sampled_kind_connector", [g[0] for g in rec.got] == [1, 1, 1], rec.got)
    ts = rec.got[0][1]["timestamp"]
    expect("sampled_timestamp_now", ts == iso(BASE + (start + 60000) // 1000), ts)
    m.tx_stopped(1)
    n = len(rec.got)
    sim.until(sim.now + 200000)
    expect("sampled_stops_with_tx", len(rec.got) == n, rec.got[n:])
    # Exact wake-ups from due_ms alone, interval 0 means off.
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 15})
    sim = Sim(m, now=1234, cap=10 ** 9)
    rec.sim = sim
    m.tx_started(1, 1234)
    sim.until(1234 + 61000)
    at = [g[3] - 1234 for g in rec.got]
    expect("due_sampled_exact", at == [15000, 30000, 45000, 60000] and sim.wakes <= 6,
           (at, sim.wakes))
    cfg.set("MeterValueSampleInterval", "0")
    sim.cap = 1000
    sim.until(sim.now + 120000)
    expect("sampled_off_when_zero", len(rec.got) == 4, rec.got[4:])
    expect("due_none_when_sampling_off", m.due_ms(sim.now, sim.wall()) is None)


def t_sampled_two_connectors():
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 10}, n=2)
    sim = Sim(m, cap=10 ** 9)
    rec.sim = sim
    m.tx_started(1, 0)
    sim.until(3000)
    m.tx_started(2, 3000)
    sim.until(31000)
    got = [(g[0], g[3]) for g in rec.got]
    expect("sampled_per_connector_start", got == [(1, 10000), (2, 13000), (1, 20000), (2, 23000),
                                                  (1, 30000)], got)


def t_change_configuration():
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 60})
    sim = Sim(m)
    rec.sim = sim
    m.tx_started(1, 0)
    sim.until(70000)
    st, msg = cfg.set("MeterValueSampleInterval", "25")
    expect("change_accepted", st == "Accepted", msg)
    sim.until(130000)
    at = [g[3] for g in rec.kind("sampled")]
    # Still counted from the start: 75 s, 100 s, 125 s.
    expect("change_sample_interval", at == [60000, 75000, 100000, 125000], at)
    cfg.set("MeterValuesSampledData", "Voltage,Power.Active.Import")
    sim.until(151000)
    last = rec.got[-1][1]
    expect("change_sampled_measurands",
           [x["measurand"] for x in last["sampledValue"]] == [V, P], last)
    # Clock-aligned switched on: the next whole minute, not at once.
    expect("change_no_aligned_yet", not rec.kind("aligned"), rec.got)
    cfg.set("ClockAlignedDataInterval", "60")
    t_on = sim.now
    sim.until(t_on + 125000)
    st = rec.stamps("aligned")
    w0 = BASE + t_on // 1000
    first = (w0 // 60 + 1) * 60
    expect("change_aligned_on", st == [iso(first), iso(first + 60)], (st, iso(first)))
    cfg.set("ClockAlignedDataInterval", "0")
    n = len(rec.kind("aligned"))
    sim.until(sim.now + 180000)
    expect("change_aligned_off", len(rec.kind("aligned")) == n)


def t_tx_data():
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 10, "StopTransactionMaxMeterValues": 5,
                              "StopTxnSampledData": "Energy.Active.Import.Register",
                              "MeterValuesSampledData": ""})
    ctl = ctls[1]
    sim = Sim(m, cap=10 ** 9)
    m.tx_started(1, 0)
    expect("txdata_empty_at_start", m.tx_data(1) == [], m.tx_data(1))

    def grow(now):
        ctl.energy_wh = 1000.0 + now // 1000      # 1 Wh per second

    sim.until(1000000, grow)                      # 100 samples
    expect("txdata_nothing_sent_with_empty_list", not rec.got, rec.got[:2])
    st = m._tx[1]
    expect("txdata_buffer_bounded", len(st.buf) == 5, len(st.buf))
    d = m.tx_data(1)
    print("TX %s" % json.dumps(d))
    vals = [int(x["sampledValue"][0]["value"]) for x in d]
    expect("txdata_bounded", len(d) == 5, len(d))
    expect("txdata_first_and_latest", vals[0] == 1010 and vals[-1] == 2000, vals)
    expect("txdata_in_order", vals == sorted(vals), vals)
    gaps = [vals[i + 1] - vals[i] for i in range(4)]
    expect("txdata_spread", max(gaps) <= 500, vals)
    ctxs = [x["sampledValue"][0]["context"] for x in d]
    expect("txdata_context", ctxs == [SAMPLE_PERIODIC] * 5, ctxs)
    stamps = [x["timestamp"] for x in d]
    expect("txdata_timestamps", stamps[0] == iso(BASE + 10) and stamps[-1] == iso(BASE + 1000),
           stamps)
    r = m.tx_data(1, reserve=2)
    rv = [int(x["sampledValue"][0]["value"]) for x in r]
    expect("txdata_reserve", len(r) == 3 and rv[0] == 1010 and rv[-1] == 2000, rv)
    expect("txdata_reserve_keeps_store", len(m.tx_data(1)) == 5)
    out = m.tx_stopped(1)
    expect("txdata_stopped_returns", out == d, out)
    expect("txdata_freed", m.tx_data(1) == [] and m._tx[1] is None)
    expect("txdata_stopped_twice", m.tx_stopped(1) == [])


def t_tx_data_limits():
    for most, want in ((1, [1100]), (2, [1010, 1100]), (0, [])):
        cfg, ctls, rec, m = make({"MeterValueSampleInterval": 10,
                                  "StopTransactionMaxMeterValues": most,
                                  "StopTxnSampledData": "Energy.Active.Import.Register"})
        ctl = ctls[1]
        sim = Sim(m, cap=10 ** 9)
        m.tx_started(1, 0)

        def grow(now):
            ctl.energy_wh = 1000.0 + now // 1000
        sim.until(100000, grow)
        vals = [int(x["sampledValue"][0]["value"]) for x in m.tx_data(1)]
        expect("txdata_max_%d" % most, vals == want, vals)
    # No StopTxn keys: no transaction data at all (spec 3.16.5).
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 10, "ClockAlignedDataInterval": 60})
    sim = Sim(m)
    m.tx_started(1, 0)
    sim.until(300000)
    expect("txdata_none_without_keys", m.tx_stopped(1) == [] and len(rec.got) > 30, len(rec.got))


def t_tx_data_aligned():
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 0, "ClockAlignedDataInterval": 60,
                              "StopTxnAlignedData": "Energy.Active.Import.Register,Voltage",
                              "MeterValuesAlignedData": "Power.Active.Import"}, n=2)
    sim = Sim(m, base=BASE + 30)
    rec.sim = sim
    sim.until(40000)
    m.tx_started(2, sim.now)
    sim.until(215000)
    d = m.tx_stopped(2)
    print("TX %s" % json.dumps(d))
    expect("txdata_aligned_count", len(d) == 3, d)
    ok = True
    for x in d:
        s = sv_map(x)
        if sorted(s) != sorted([E, V]) or s[E]["context"] != SAMPLE_CLOCK:
            ok = False
    expect("txdata_aligned_context", ok, d)
    expect("txdata_aligned_stamps", [x["timestamp"] for x in d] ==
           [iso(BASE + 120), iso(BASE + 180), iso(BASE + 240)], [x["timestamp"] for x in d])
    # MeterValues with MeterValuesAlignedData, not the StopTxn list.
    one = rec.kind("aligned", 1)
    expect("aligned_own_list", one and sorted(sv_map(one[0][1])) == [P], one[:1])
    expect("txdata_other_connector_empty", m.tx_data(1) == [])


def t_emit_failure():
    calls = []

    def emit(c, mv, kind):
        calls.append(c)
        if c == 1:
            raise RuntimeError("queue full")
    cfg = Config(MemStore(), {"ClockAlignedDataInterval": 60, "MeterValueSampleInterval": 0})
    m = Metering(cfg, [None, FakeCtl(), FakeCtl()], emit)
    m.tick(0, BASE)
    m.tick(60000, BASE + 60)
    expect("emit_failure_contained", calls == [1, 2, 0], calls)


def t_none_controller():
    cfg, ctls, rec, m = make({"ClockAlignedDataInterval": 60}, ctls=[None, None, FakeCtl()])
    m.tick(0, BASE)
    m.tick(60000, BASE + 60)
    expect("skips_missing_controller", [g[0] for g in rec.got] == [2], rec.got)


def t_memory():
    # A long transaction with everything kept: the heap stops growing once the
    # transaction data is full (MicroPython only: CPython has no gc.mem_alloc).
    import gc
    if not hasattr(gc, "mem_alloc"):
        return
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 10, "StopTransactionMaxMeterValues": 20,
                              "StopTxnSampledData": ",".join(ALL), "MeterValuesSampledData": ""})
    ctl = ctls[1]
    m.tx_started(1, 0)
    gc.collect()
    before = gc.mem_alloc()
    now = 0
    marks = []
    for k in range(2000):
        now += 10000
        ctl.energy_wh = 1000.0 + k * 3
        ctl.power_w = 7000 + k % 50
        m.tick(now, BASE + now // 1000)
        if k in (99, 1999):
            gc.collect()
            marks.append(gc.mem_alloc() - before)
    print("INFO tx buffer of 20 readings x 5 measurands: %d bytes" % marks[0])
    expect("memory_bounded", len(m._tx[1].buf) == 20 and marks[1] - marks[0] < 512, marks)
    expect("memory_small", marks[0] < 6000, marks)


async def t_run():
    cfg, ctls, rec, m = make({"MeterValueSampleInterval": 1,
                              "MeterValuesSampledData": "Energy.Active.Import.Register"})
    task = asyncio.create_task(m.run())
    await asyncio.sleep(0.05)
    m.tx_started(1)
    await asyncio.sleep(2.5)
    task.cancel()
    try:
        await task
    except BaseException:
        pass
    n = len(rec.kind("sampled"))
    expect("run_samples", n == 2, rec.got)


def main():
    t_values()
    t_real_controller_attrs()
    t_aligned_midnight()
    t_aligned_exact_wakeups()
    t_aligned_uneven_interval()
    t_aligned_sum_and_average()
    t_aligned_off_and_clock()
    t_sampled()
    t_sampled_two_connectors()
    t_change_configuration()
    t_tx_data()
    t_tx_data_limits()
    t_tx_data_aligned()
    t_emit_failure()
    t_none_controller()
    t_memory()
    asyncio.run(t_run())


try:
    main()
except Exception as e:
    import sys
    print("FAIL crashed: %r" % (e,))
    sys.print_exception(e) if hasattr(sys, "print_exception") else __import__("traceback").print_exc()
print("DONE %d" % len(results))
