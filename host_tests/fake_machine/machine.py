"""A stand-in for MicroPython's `machine` module, so the board drivers run on
the host (CPython and the MicroPython unix port alike).

Put this folder first on the import path. It records what a driver does in
`log` (tuples (kind, id, what, value)) and returns scripted readings:

    set_adc(pin_id, values)   ADC readings, millivolts at the pin: a list
                              (cycled) or a function of no argument
    set_pin(pin_id, level)    drive an input; fires its irq handler on a
                              matching edge, like the hardware
    pulse(pin_id, n=1)        n rising edges on a pin (counted by a Counter
                              on that pin or by its irq handler)
    pin_state(pin_id)         the dict kept for a pin (value, mode, pull, irq)
    pwms[pin_id]              the last PWM object made on a pin
    timers                    Timer objects made, in order (fire() calls back)
    wdts                      WDT objects made, in order
    clear()                   forget everything (call between tests)
"""

import sys

log = []
pwms = {}
timers = []
wdts = []
_pins = {}
_adc = {}
_counters = []
UNIQUE_ID = b"\x24\x6f\x28\xa1\xb2\xc3"


class MachineReset(Exception):
    pass


def clear():
    rp2 = sys.modules.get("rp2")
    if rp2 is not None and hasattr(rp2, "clear"):
        rp2.clear()
    del log[:]
    pwms.clear()
    del timers[:]
    del wdts[:]
    _pins.clear()
    _adc.clear()
    del _counters[:]


def _pid(p):
    return p.id if isinstance(p, Pin) else p


def pin_state(pin_id):
    return _pins[pin_id]


def set_adc(pin_id, values):
    _adc[pin_id] = [values, 0]


def set_pin(pin_id, level):
    st = _pins[pin_id]
    old = st["value"]
    st["value"] = level
    rp2 = sys.modules.get("rp2")
    if rp2 is not None and hasattr(rp2, "pins_changed"):
        rp2.pins_changed()      # a PIO program watching this pin reacts first
    h = st["irq"]
    if h is not None and old != level:
        edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if st["trigger"] & edge:
            h(st["obj"])


def pulse(pin_id, n=1):
    for _ in range(n):
        for c in _counters:
            if c.src is not None and c.src.id == pin_id:
                c._n += 1
        st = _pins.get(pin_id)
        if st is not None and st["irq"] is not None:
            set_pin(pin_id, 1)
            set_pin(pin_id, 0)


class Pin:
    IN = 1
    OUT = 2
    OPEN_DRAIN = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        st = _pins.get(id)
        if st is None:
            st = {"value": 0, "mode": None, "pull": None, "irq": None,
                  "trigger": 0, "obj": self}
            _pins[id] = st
        st["obj"] = self
        if mode != -1:
            st["mode"] = mode
        if pull != -1:
            st["pull"] = pull
        if value is not None:
            st["value"] = 1 if value else 0
        log.append(("pin", id, "init", (mode, pull, value)))

    def value(self, v=None):
        st = _pins[self.id]
        if v is None:
            return st["value"]
        st["value"] = 1 if v else 0
        log.append(("pin", self.id, "value", st["value"]))

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(0 if _pins[self.id]["value"] else 1)

    def irq(self, handler=None, trigger=12, hard=False):
        st = _pins[self.id]
        st["irq"] = handler
        st["trigger"] = trigger
        log.append(("pin", self.id, "irq", trigger))


class UART:
    # What boards/common/mport.py's modbus_uart() asks of machine.UART.
    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None,
                 rxbuf=256, timeout=0):
        self.id = id
        self.args = {"baudrate": baudrate, "bits": bits, "parity": parity, "stop": stop,
                     "tx": _pid(tx), "rx": _pid(rx), "rxbuf": rxbuf, "timeout": timeout}
        self.sent = b""
        log.append(("uart", id, "init", self.args))

    def write(self, b):
        self.sent += bytes(b)
        return len(b)

    def any(self):
        return 0

    def readinto(self, mv):
        return 0


class PWM:
    def __init__(self, pin, freq=None, duty_u16=None, **kw):
        self.id = _pid(pin)
        self._freq = freq
        self._duty = duty_u16
        self.live = True
        pwms[self.id] = self
        log.append(("pwm", self.id, "init", (freq, duty_u16)))

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        log.append(("pwm", self.id, "freq", f))

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 out of range")
        self._duty = d
        log.append(("pwm", self.id, "duty_u16", d))

    def deinit(self):
        self.live = False
        log.append(("pwm", self.id, "deinit", None))


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.id = _pid(pin)
        self.atten = atten
        log.append(("adc", self.id, "init", atten))

    def _next_mv(self):
        s = _adc.get(self.id)
        if s is None:
            return 0
        src = s[0]
        if callable(src):
            return src()
        v = src[s[1] % len(src)]
        s[1] += 1
        return v

    def read_u16(self):
        mv = self._next_mv()
        v = mv * 65535 // 3300
        return 0 if v < 0 else (65535 if v > 65535 else v)

    def read_uv(self):
        return self._next_mv() * 1000


class Counter:
    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = -1

    def __init__(self, id, src=None, edge=1, filter_ns=0, **kw):
        self.id = id
        self.src = src
        self.edge = edge
        self.filter_ns = filter_ns
        self._n = 0
        _counters.append(self)
        log.append(("counter", id, "init", (_pid(src), edge, filter_ns)))

    def value(self, v=None):
        n = self._n
        if v is not None:
            self._n = v
        return n


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        wdts.append(self)
        log.append(("wdt", id, "init", timeout))

    def feed(self):
        self.feeds += 1
        log.append(("wdt", None, "feed", None))


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self.id = id
        self.callback = None
        self.period = None
        timers.append(self)
        if kw:
            self.init(**kw)

    def init(self, mode=1, period=-1, freq=-1, callback=None, hard=False, tick_hz=1000):
        self.mode = mode
        self.period = period
        self.tick_hz = tick_hz
        self.freq = freq
        self.callback = callback
        self.hard = hard
        log.append(("timer", self.id, "init", period if period != -1 else freq))

    def deinit(self):
        self.callback = None
        log.append(("timer", self.id, "deinit", None))

    def fire(self):
        if self.callback is not None:
            self.callback(self)


def reset():
    log.append(("machine", None, "reset", None))
    raise MachineReset()


def unique_id():
    return UNIQUE_ID


def disable_irq():
    return 1


def enable_irq(state=1):
    pass


def freq(f=None):
    return 240000000
