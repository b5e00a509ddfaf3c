"""ESP32 DevKitC driver of the board interface (boards/README.md).

PINS below is the one pin table; README.md in this folder shows the same with
the wiring. Any entry can be moved with opts["pins"] = {"name": gpio}.
Analog inputs are on ADC1 (GPIO 32..39): ADC2 cannot be read while Wi-Fi runs.
"""
import binascii
import os

import machine
from machine import Pin

PINS = {
    "cp_out": 25,       # PWM to the +-12 V pilot driver (high = +12 V)
    "cp_adc": 36,       # ADC1_CH0 (VP): pilot through the divider
    "pp_adc": 39,       # ADC1_CH3 (VN): proximity pilot, pulled up to 3.3 V
    "contactor": 26,    # relay driver of the contactor coil, high = closed
    "contactor_fb": 27,  # auxiliary (mirror) contact, optional
    "s0": 34,           # S0 meter (open collector, counted on the falling
                        # edge); input-only pin: needs an external pull-up
    "rcd": 35,          # residual-current monitor fault output, input-only
    "rcd_test": 32,     # residual-current monitor test input, optional
    "lock": 14,         # cable lock actuator, optional
    "led": 2,           # status LED
}

# Pattern per LED state: (frequency Hz, duty 0..65535) of a slow PWM.
LED = {
    "off": (1, 0),
    "idle": (1, 65535),
    "charging": (1, 32768),
    "offline": (1, 6554),
    "fault": (4, 32768),
}


def _opt(opts, key, default):
    v = opts.get(key)
    return default if v is None else v


class Port:
    def __init__(self, opts, pins):
        self.imp_per_kwh = _opt(opts, "imp_per_kwh", 1000)
        # Pilot front end: pilot mV = (ADC mV - cp_zero_mv) * cp_gain_pm / 1000.
        self._zero = _opt(opts, "cp_zero_mv", 1250)
        self._gain = _opt(opts, "cp_gain_pm", 12000)
        # A burst long enough to span one 1 kHz period (read_uv ~ 20 us each).
        self._n = _opt(opts, "cp_samples", 80)
        self._pwm = machine.PWM(Pin(pins["cp_out"], Pin.OUT), freq=1000, duty_u16=65535)
        self._cp = machine.ADC(Pin(pins["cp_adc"]), atten=machine.ADC.ATTN_11DB)
        self._coil = Pin(pins["contactor"], Pin.OUT, value=0)

        self._fb = None
        if opts.get("has_feedback"):
            self._fb = Pin(pins["contactor_fb"], Pin.IN, Pin.PULL_UP)
            self._fb_closed = _opt(opts, "fb_active", 0)

        self._pp = None
        if opts.get("has_pp"):
            self._pp = machine.ADC(Pin(pins["pp_adc"]), atten=machine.ADC.ATTN_11DB)
            self.pp_pullup_ohm = _opt(opts, "pp_pullup_ohm", 1000)
            self.pp_supply_mv = _opt(opts, "pp_supply_mv", 3300)

        # S0: the hardware pulse counter when this MicroPython has it, else an
        # interrupt that only counts.
        s0 = Pin(pins["s0"], Pin.IN)
        self._irq_n = 0
        self._ctr = None
        self._ctr_last = 0
        self._ctr_acc = 0
        Counter = getattr(machine, "Counter", None)
        if Counter is not None and not opts.get("s0_irq"):
            self._ctr = Counter(0, s0, edge=Counter.FALLING, filter_ns=12000)
            self._ctr_last = self._ctr.value()
        else:
            s0.irq(handler=self._s0_irq, trigger=Pin.IRQ_FALLING)

        self._rcd_active = _opt(opts, "rcd_active", 1)
        self._rcd = Pin(pins["rcd"], Pin.IN)
        self._rcd_seen = False
        self._rcd.irq(handler=self._rcd_irq,
                      trigger=Pin.IRQ_RISING if self._rcd_active else Pin.IRQ_FALLING)
        self.has_rcd_test = bool(_opt(opts, "has_rcd_test", True))
        self._test = Pin(pins["rcd_test"], Pin.OUT, value=0) if self.has_rcd_test else None
        self.has_lock = bool(opts.get("has_lock"))
        self._lock = Pin(pins["lock"], Pin.OUT, value=0) if self.has_lock else None

    # Interrupt handlers: count or set a flag, nothing else.
    def _s0_irq(self, pin):
        self._irq_n += 1

    def _rcd_irq(self, pin):
        self._rcd_seen = True

    def pilot_pwm(self, duty_pm):
        self._pwm.duty_u16(duty_pm * 65535 // 1000)

    def pilot_high(self):
        self._pwm.duty_u16(65535)

    def pilot_low(self):
        self._pwm.duty_u16(0)

    def read_pilot(self):
        r = self._cp.read_uv
        hi = lo = r()
        for _ in range(self._n):
            v = r()
            if v > hi:
                hi = v
            elif v < lo:
                lo = v
        z = self._zero
        g = self._gain
        return (hi // 1000 - z) * g // 1000, (lo // 1000 - z) * g // 1000

    def contactor(self, closed):
        self._coil.value(1 if closed else 0)

    def contactor_feedback(self):
        if self._fb is None:
            return None
        return self._fb.value() == self._fb_closed

    def pulses(self):
        c = self._ctr
        if c is None:
            return self._irq_n
        v = c.value()
        d = v - self._ctr_last
        if d < 0:
            # A 16-bit hardware count wrapped; a 64-bit one never goes back.
            d += 65536
        self._ctr_last = v
        self._ctr_acc += d
        return self._ctr_acc

    def rcd_fault(self):
        seen = self._rcd_seen
        self._rcd_seen = False
        return seen or self._rcd.value() == self._rcd_active

    def rcd_test(self, on):
        if self._test is not None:
            self._test.value(1 if on else 0)

    def read_pp(self):
        if self._pp is None:
            return None
        r = self._pp.read_uv
        return (r() + r() + r() + r()) // 4000

    def lock(self, locked):
        if self._lock is None:
            return None
        self._lock.value(1 if locked else 0)
        return True


class Board:
    name = "esp32"
    model = "ESP32-DevKitC"

    def __init__(self, opts=None):
        opts = opts or {}
        pins = dict(PINS)
        if opts.get("pins"):
            pins.update(opts["pins"])
        self.pins = pins
        self.vendor = _opt(opts, "vendor", "DIY-EVSE")[:20]
        self.data_dir = _opt(opts, "data_dir", "/data")
        self.rx_buf = _opt(opts, "rx_buf", 8192)
        self.connectors = 1
        self._port = Port(opts, pins)
        self._led = machine.PWM(Pin(pins["led"], Pin.OUT), freq=1, duty_u16=0)
        self._led_state = None
        self._wdt = None
        try:
            os.mkdir(self.data_dir)
        except OSError:
            pass

    def unique_id(self):
        return binascii.hexlify(machine.unique_id()).decode()

    def port(self, n):
        if n != 1:
            raise ValueError("no connector %r: this board has only connector 1" % (n,))
        return self._port

    def led(self, state):
        if state == self._led_state:
            return
        self._led_state = state
        f, d = LED.get(state, LED["idle"])
        self._led.freq(f)
        self._led.duty_u16(d)

    def wdt_start(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset(self):
        machine.reset()
