# Measurements for the benchmarks, on the simulated board only: a probe task
# that asks to wake every 5 ms and records how late it wakes (the event-loop
# stall), and the peak of the MicroPython heap in use, sampled at each wake.
import gc
from compat import ticks_ms, ticks_diff, sleep_ms

PERIOD_MS = 5
_BINS = 1000    # lateness histogram, 1 ms bins; later than that goes in the last


class Probe:
    def __init__(self):
        self.hist = [0] * _BINS
        self.count = 0
        self.max_ms = 0
        self.mem_peak = 0
        self.running = False

    def mem(self):
        try:
            return gc.mem_alloc()
        except AttributeError:
            return None

    async def run(self):
        self.running = True
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
            m = self.mem()
            if m is not None and m > self.mem_peak:
                self.mem_peak = m

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
                "mem_alloc": self.mem(), "mem_peak": self.mem_peak}

    def clear(self):
        for i in range(_BINS):
            self.hist[i] = 0
        self.count = 0
        self.max_ms = 0
        self.mem_peak = 0
