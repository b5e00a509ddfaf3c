# Measurements for the benchmarks, on the simulated board and the emulated chip:
# a probe task that asks to wake every 5 ms and records how late it wakes (the
# event-loop stall), and the peak of the MicroPython heap in use and the least
# heap free, sampled at each wake.
import gc
from compat import ticks_ms, ticks_diff, sleep_ms

PERIOD_MS = 5
_BINS = 1000    # lateness histogram, 1 ms bins; later than that goes in the last


class Probe:
    def __init__(self, collect_ms=0, report_ms=0):
        # collect_ms: collect the garbage this often and keep the least heap free
        # after a collection (the live data's complement); without it, free_min
        # is only the low point before the collector ran, which says little.
        self.hist = [0] * _BINS
        self.count = 0
        self.max_ms = 0
        self.mem_peak = 0
        self.collect_ms = collect_ms
        # report_ms: print each wake that late (the emulated chip's stall
        # recorder, EMU_STALLS, takes the core's recent work from there).
        self.report_ms = report_ms
        if collect_ms:
            gc.collect()
        self.free_first = self.free()   # free heap when the probe started (after boot)
        self.free_min = self.free_first
        self.running = False

    def mem(self):
        try:
            return gc.mem_alloc()
        except AttributeError:
            return None

    def free(self):
        try:
            return gc.mem_free()
        except AttributeError:
            return None

    async def run(self):
        self.running = True
        last = ticks_ms()
        while True:
            t = ticks_ms()
            await sleep_ms(PERIOD_MS)
            late = ticks_diff(ticks_ms(), t) - PERIOD_MS
            if late < 0:
                late = 0
            self.hist[min(late, _BINS - 1)] += 1
            self.count += 1
            if late > self.max_ms:
                self.max_ms = late
            if self.report_ms and late >= self.report_ms:
                print("\x05stall %d" % late)
            if self.collect_ms:
                # Only after a collection: gc.mem_alloc() and mem_free() walk the
                # whole heap's table, a millisecond or two on a board; at every
                # wake they took a quarter of the emulated RP2040's time.
                if ticks_diff(ticks_ms(), last) < self.collect_ms:
                    continue
                gc.collect()
                last = ticks_ms()
            m = self.mem()
            if m is not None and m > self.mem_peak:
                self.mem_peak = m
            f = self.free()
            if f is not None and f < self.free_min:
                self.free_min = f

    def p99(self):
        want = self.count * 99 // 100
        seen = 0
        for i in range(_BINS):
            seen += self.hist[i]
            if seen > want:
                return i
        return _BINS - 1

    def stats(self):
        return {"samples": self.count, "stall_max_ms": self.max_ms, "stall_p99_ms": self.p99(),
                "mem_alloc": self.mem(), "mem_peak": self.mem_peak,
                "mem_free_boot": self.free_first, "mem_free_min": self.free_min}

    def clear(self):
        for i in range(_BINS):
            self.hist[i] = 0
        self.count = 0
        self.max_ms = 0
        self.mem_peak = 0
        self.free_min = self.free()
