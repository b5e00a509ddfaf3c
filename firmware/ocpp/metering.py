"""Meter values of the OCPP 1.6 Core profile (spec 3.16, 4.7, 6.31, 7.43, 9.1 and
the errata's StopTransactionMaxMeterValues).

    m = Metering(cfg, controllers, emit)   controllers[1..N]: EVSE controllers
    m.tx_started(c)        sample connector c every MeterValueSampleInterval
    m.tx_data(c, reserve=0)  meter values for StopTransaction.transactionData
    m.tx_stopped(c)        stop sampling c; returns tx_data(c) and frees it
    m.due_ms(now_ms, wall_s)  ms until something is due, None when nothing is
    m.tick(now_ms, wall_s)    emit what is due (tests drive it on a fake clock)
    await m.run()          the task: tick, sleep until due (at most a second)

emit(connector_id, meter_value, kind) must not block (it queues a MeterValues
message); kind is "sampled" or "aligned". The caller adds the transactionId.

What the meter gives and how each value is written is firmware/ocpp/metervalue.py
(meter_value, which the transactions and TriggerMessage use too); this module
decides when.

Sampled (Sample.Periodic): only during a transaction, at each multiple of
MeterValueSampleInterval from its start (monotonic clock), with
MeterValuesSampledData; StopTxnSampledData at the same instants goes to the
transaction data; 0 turns both off. A changed interval keeps the grid anchored
at the start. Samples missed by a stalled loop are not made up.

Clock-aligned (Sample.Clock): at each multiple of ClockAlignedDataInterval from
midnight UTC (every day restarts at 00:00, so an interval that does not divide
a day ends short); 0 turns it off. For every connector with a controller, in a
transaction or not (it is the grid operator's data), with
MeterValuesAlignedData; StopTxnAlignedData goes to running transactions' data.
With more than one connector, connector 0 (the main meter, 4.7) gets the sum of
their energy and power, location Inlet: there is no separate main meter, and
with one connector it would only repeat connector 1. The timestamp is the
boundary (the register is read at :15:00). Power, and the current derived
from it, is the average over the interval from the register (9.1.5 "averaged
across the entire interval"); over less than min(60 s, half the interval),
after a (re)start, the instantaneous value is sent. A boundary read more than
LATE_S after it (clock set by BootNotification, long stall) is skipped rather
than sent with a wrong time; nothing is aligned while the wall clock is not
known in this boot (compat.wall_known: a board's RTC after a power cut, or the
provisional clock, is no time to align to).

Transaction data: at most StopTransactionMaxMeterValues readings, one compact
tuple each (no dicts until tx_data). Past that, the middle reading whose
removal leaves the smallest time gap goes: the first and the latest stay and
the rest thin out evenly over the transaction (errata 9.1.23); with a maximum
of 1 the latest stays. Transaction.Begin / Transaction.End readings are the
transaction code's (meter_value with TRANSACTION_BEGIN / TRANSACTION_END);
tx_data(c, reserve=2) leaves room for them within the maximum.
"""
import log
from compat import ticks_ms, ticks_diff, wall, wall_known, retime, iso, sleep_ms, EPOCH_2020
from firmware.ocpp.metervalue import (SAMPLE_PERIODIC, SAMPLE_CLOCK, TABLE, read, build,
                                      phases_of, meter_value)

LATE_S = 10              # an aligned reading later than this is skipped
AVG_MIN_MS = 60000       # shorter intervals are too coarse at one pulse per Wh
MAX_SLEEP_MS = 1000      # a changed key, a new transaction or a set clock shows within it


def _slot(w, every):
    # Intervals restart at each midnight UTC: slots per day, the last one short.
    d, s = divmod(w, 86400)
    return d * ((86400 + every - 1) // every) + s // every


def _slot_time(slot, every):
    d, i = divmod(slot, (86400 + every - 1) // every)
    return d * 86400 + i * every


def _thin(buf, most):
    while len(buf) > most:
        n = len(buf)
        if most < 2:
            buf.pop(0)
            continue
        best = 1
        gap = None
        for i in range(1, n - 1):
            g = buf[i + 1][0] - buf[i - 1][0]
            if gap is None or g < gap:
                best = i
                gap = g
        buf.pop(best)


class _View:
    # What an aligned reading reports for one connector (or the sum at 0);
    # one per connector, refilled at each boundary.
    def __init__(self, location):
        self.location = location
        self.phases = 3


class _Tx:
    # Time since the start accumulates tick by tick: the sample grid stays
    # exact for transactions longer than ticks_diff can span (days on a board).
    def __init__(self, now, every):
        self.last = now
        self.ms = 0
        self.every = every
        self.slot = 0
        self.buf = []

    def elapsed(self, now):
        return self.ms + ticks_diff(now, self.last)


class Metering:
    def __init__(self, cfg, controllers, emit):
        self.cfg = cfg
        self.ctl = controllers
        self.emit = emit
        n = len(controllers)
        self._conns = [c for c in range(1, n) if controllers[c] is not None]
        self._sum = len(self._conns) > 1
        self._tx = [None] * n
        self._views = [_View("Inlet" if c == 0 else "Outlet") for c in range(n)]
        self._e0 = [None] * n        # energy at the last aligned boundary
        self.aligned_ok = True       # False while the wall clock is not known (run())
        self._t0 = [0] * n
        self._a_every = 0
        self._a_slot = None

    # ---- transactions ----------------------------------------------------------
    def tx_started(self, c, now_ms=None):
        if self._tx[c] is not None:
            log.warn("meter", "connector %d: transaction started twice; sampling restarts", c)
        self._tx[c] = _Tx(ticks_ms() if now_ms is None else now_ms,
                          self.cfg.get("MeterValueSampleInterval"))

    def tx_stopped(self, c):
        st = self._tx[c]
        self._tx[c] = None
        return self._expand(c, st, 0)

    def tx_data(self, c, reserve=0):
        return self._expand(c, self._tx[c], reserve)

    def _expand(self, c, st, reserve):
        if st is None:
            return []
        most = self.cfg.get("StopTransactionMaxMeterValues") - reserve
        buf = st.buf
        if most <= 0:
            return []
        if len(buf) > most:
            buf = list(buf)
            _thin(buf, most)
        ctl = self.ctl[c]
        ph = phases_of(ctl)
        loc = getattr(ctl, "location", "Outlet")
        # A reading kept while the clock was unknown gets its real time once known.
        return [build(retime(e[1]), e[3], e[4].split(","), e[2], ph, loc) for e in buf]

    def _keep(self, st, ts, ctx, r):
        if r is None:
            return
        most = self.cfg.get("StopTransactionMaxMeterValues")
        if most <= 0:
            return
        # Indices as bytes and the values as one text: a third of the heap
        # that a tuple of strings per reading takes.
        st.buf.append((st.ms, ts, ctx, bytes(r[0]), ",".join(r[1])))
        _thin(st.buf, most)

    # ---- scheduling ------------------------------------------------------------
    def due_ms(self, now_ms, wall_s):
        best = None
        every = self.cfg.get("ClockAlignedDataInterval")
        if every > 0 and self._conns and wall_s >= EPOCH_2020 and self.aligned_ok:
            # Out of step with the keys or the clock: a tick must take that in now.
            if self._a_every != every or self._a_slot is None \
                    or _slot(int(wall_s), every) < self._a_slot:
                best = 0
            else:
                # To the nearest ms: a float wall clock is not exact to the ms,
                # and waking a hair early only costs one more 1 ms sleep.
                best = int((_slot_time(self._a_slot + 1, every) - wall_s) * 1000 + 0.5)
                if best < 0:
                    best = 0
        every = self.cfg.get("MeterValueSampleInterval")
        if every > 0:
            step = every * 1000
            for st in self._tx:
                if st is None:
                    continue
                d = 0
                if st.every == every:
                    d = (st.slot + 1) * step - st.elapsed(now_ms)
                    if d < 0:
                        d = 0
                if best is None or d < best:
                    best = d
        return best

    def tick(self, now_ms, wall_s):
        for st in self._tx:
            if st is not None:
                st.ms = st.elapsed(now_ms)
                st.last = now_ms
        self._aligned(now_ms, wall_s)
        self._sampled(wall_s)

    def _sampled(self, wall_s):
        every = self.cfg.get("MeterValueSampleInterval")
        meas = txm = None
        for c in self._conns:
            st = self._tx[c]
            if st is None:
                continue
            if every <= 0:
                st.every = 0
                continue
            slot = st.ms // (every * 1000)
            if st.every != every:
                # Changed: the next multiple of the new interval from the start.
                st.every = every
                st.slot = slot
                continue
            if slot <= st.slot:
                continue
            st.slot = slot
            if meas is None:
                meas = self.cfg.get("MeterValuesSampledData")
                txm = self.cfg.get("StopTxnSampledData")
            ctl = self.ctl[c]
            self._out(c, ctl, meas, SAMPLE_PERIODIC, wall_s, "sampled")
            if txm:
                self._keep(st, int(wall_s), SAMPLE_PERIODIC, read(ctl, txm))

    def _aligned(self, now, wall_s):
        every = self.cfg.get("ClockAlignedDataInterval")
        if every <= 0 or wall_s < EPOCH_2020 or not self._conns or not self.aligned_ok:
            self._a_every = 0
            self._a_slot = None
            return
        w = int(wall_s)
        slot = _slot(w, every)
        if every != self._a_every or self._a_slot is None or slot < self._a_slot:
            # Switched on, changed, or the clock went back: this interval is
            # partial and its end is the first boundary reported.
            self._a_every = every
            self._a_slot = slot
            self._mark(now)
            return
        if slot == self._a_slot:
            return
        self._a_slot = slot
        ts = _slot_time(slot, every)
        if w - ts > LATE_S:
            log.warn("meter", "clock-aligned reading of %s skipped: %d s late (clock set or loop stalled)",
                     iso(ts), w - ts)
            self._mark(now)
            return
        meas = self.cfg.get("MeterValuesAlignedData")
        txm = self.cfg.get("StopTxnAlignedData")
        for c in self._conns:
            v = self._fill(c, now, every)
            self._out(c, v, meas, SAMPLE_CLOCK, ts, "aligned")
            st = self._tx[c]
            if st is not None and txm:
                self._keep(st, ts, SAMPLE_CLOCK, read(v, txm))
        if self._sum:
            v = self._fill(0, now, every)
            self._out(0, v, meas, SAMPLE_CLOCK, ts, "aligned")

    def _energy(self, c):
        if c:
            return getattr(self.ctl[c], "energy_wh", None)
        e = 0
        for k in self._conns:
            x = getattr(self.ctl[k], "energy_wh", None)
            if x is None:
                return None
            e += x
        return e

    def _mark(self, now):
        for c in self._conns + [0]:
            self._e0[c] = self._energy(c)
            self._t0[c] = now

    def _fill(self, c, now, every):
        v = self._views[c]
        if c:
            src = self.ctl[c]
            for m in TABLE:
                setattr(v, m[1], getattr(src, m[1], None))
            v.per_phase = getattr(src, "per_phase", None)
            v.phases = phases_of(src)
            v.location = getattr(src, "location", "Outlet")
        else:
            for m in TABLE:
                setattr(v, m[1], None)
            v.per_phase = None
            v.energy_wh = self._energy(0)
            v.power_w = sum([getattr(self.ctl[k], "power_w", 0) or 0 for k in self._conns])
        e = v.energy_wh
        e0 = self._e0[c]
        dt = ticks_diff(now, self._t0[c])
        if e is not None and e0 is not None and e >= e0 and dt > 0 \
                and dt >= min(AVG_MIN_MS, every * 500):
            p = (e - e0) * 3600000 / dt
            v.power_w = p
            volt = v.voltage_v
            if c and v.current_a is not None and volt:
                # The controller's own rule: current = power / (V x phases).
                v.current_a = p / (volt * v.phases)
        self._e0[c] = e
        self._t0[c] = now
        return v

    def _out(self, c, src, meas, ctx, ts, kind):
        if not meas:
            return
        mv = meter_value(src, meas, ctx, ts)
        if mv is None:
            return
        log.debug("meter", "connector %d %s: %d value(s)", c, kind, len(mv["sampledValue"]))
        try:
            self.emit(c, mv, kind)
        except Exception as e:
            log.error("meter", "connector %d: sending %s meter values failed: %r", c, kind, e)

    async def run(self):
        while True:
            d = None
            try:
                # Nothing is aligned on a clock that is not known.
                self.aligned_ok = wall_known()
                self.tick(ticks_ms(), wall())
                d = self.due_ms(ticks_ms(), wall())
            except Exception as e:
                log.error("meter", "meter values failed: %r", e)
            if d is None or d > MAX_SLEEP_MS:
                d = MAX_SLEEP_MS
            await sleep_ms(d if d > 0 else 1)
