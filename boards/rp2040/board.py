"""Raspberry Pi Pico W (RP2040) driver of the board interface (boards/README.md).

PINS below is the one pin table; README.md in this folder shows the same with
the wiring. Any entry can be moved with opts["pins"] = {"name": gpio}.
The RP2040 has no pulse-counter peripheral in MicroPython: the S0 meter is
counted by a pin interrupt that only increments a number.
"""
import binascii
import os

import machine
from machine import Pin

PINS = {
    "cp_out": 16,       # PWM to the +-12 V pilot driver (high = +12 V)
    "cp_adc": 26,       # ADC0: pilot through the divider
    "pp_adc": 27,       # ADC1: proximity pilot, pulled up to 3.3 V
    "contactor": 17,    # relay driver of the contactor coil, high = closed
    "contactor_fb": 18,  # auxiliary (mirror) contact, optional
    "s0": 19,           # S0 meter (open collector, falling edge), pulled up
    "rcd": 20,          # residual-current monitor fault output
    "rcd_test": 21,     # residual-current monitor test input, optional
    "lock": 22,         # cable lock actuator, optional
    "led": "LED",       # the Pico W's LED (on the Wi-Fi chip, no PWM)
}

LED_TICK_MS = 100
# Blink pattern per state: (period, lit) in LED ticks.
LED = {
    "off": (1, 0),
    "idle": (1, 1),
    "charging": (20, 10),
    "offline": (10, 1),
    "fault": (4, 2),
}


def _opt(opts, key, default):
    v = opts.get(key)
    return default if v is None else v


class Port:
    def __init__(self, opts, pins):
        self.imp_per_kwh = _opt(opts, "imp_per_kwh", 1000)
        # Pilot front end: pilot mV = (ADC mV - cp_zero_mv) * cp_gain_pm / 1000.
        self._zero = _opt(opts, "cp_zero_mv", 1650)
        self._gain = _opt(opts, "cp_gain_pm", 10000)
        # read_u16 takes ~10 us from Python: 150 reads span a 1 kHz period.
        self._n = _opt(opts, "cp_samples", 150)
        self._pwm = machine.PWM(Pin(pins["cp_out"], Pin.OUT), freq=1000, duty_u16=65535)
        self._cp = machine.ADC(Pin(pins["cp_adc"]))
        self._coil = Pin(pins["contactor"], Pin.OUT, value=0)

        self._fb = None
        if opts.get("has_feedback"):
            self._fb = Pin(pins["contactor_fb"], Pin.IN, Pin.PULL_UP)
            self._fb_closed = _opt(opts, "fb_active", 0)

        self._pp = None
        if opts.get("has_pp"):
            self._pp = machine.ADC(Pin(pins["pp_adc"]))
            self.pp_pullup_ohm = _opt(opts, "pp_pullup_ohm", 1000)
            self.pp_supply_mv = _opt(opts, "pp_supply_mv", 3300)

        self._s0_n = 0
        Pin(pins["s0"], Pin.IN, Pin.PULL_UP).irq(handler=self._s0_irq,
                                                  trigger=Pin.IRQ_FALLING)

        self._rcd_active = _opt(opts, "rcd_active", 1)
        self._rcd = Pin(pins["rcd"], Pin.IN,
                        Pin.PULL_DOWN if self._rcd_active else Pin.PULL_UP)
        self._rcd_seen = False
        self._rcd.irq(handler=self._rcd_irq,
                      trigger=Pin.IRQ_RISING if self._rcd_active else Pin.IRQ_FALLING)
        self.has_rcd_test = bool(_opt(opts, "has_rcd_test", True))
        self._test = Pin(pins["rcd_test"], Pin.OUT, value=0) if self.has_rcd_test else None
        self.has_lock = bool(opts.get("has_lock"))
        self._lock = Pin(pins["lock"], Pin.OUT, value=0) if self.has_lock else None

    # Interrupt handlers: count or set a flag, nothing else.
    def _s0_irq(self, pin):
        self._s0_n += 1

    def _rcd_irq(self, pin):
        self._rcd_seen = True

    def pilot_pwm(self, duty_pm):
        self._pwm.duty_u16(duty_pm * 65535 // 1000)

    def pilot_high(self):
        self._pwm.duty_u16(65535)

    def pilot_low(self):
        self._pwm.duty_u16(0)

    def read_pilot(self):
        r = self._cp.read_u16
        hi = lo = r()
        for _ in range(self._n):
            v = r()
            if v > hi:
                hi = v
            elif v < lo:
                lo = v
        z = self._zero
        g = self._gain
        return ((hi * 3300 >> 16) - z) * g // 1000, ((lo * 3300 >> 16) - z) * g // 1000

    def contactor(self, closed):
        self._coil.value(1 if closed else 0)

    def contactor_feedback(self):
        if self._fb is None:
            return None
        return self._fb.value() == self._fb_closed

    def pulses(self):
        return self._s0_n

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
        r = self._pp.read_u16
        return ((r() + r() + r() + r()) * 3300 >> 18)

    def lock(self, locked):
        if self._lock is None:
            return None
        self._lock.value(1 if locked else 0)
        return True


class Board:
    name = "rp2040"
    model = "Pico-W"

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
        self._led = Pin(pins["led"], Pin.OUT, value=0)
        self._led_period = 1
        self._led_lit = 0
        self._led_phase = 0
        self._led_state = None
        self._timer = machine.Timer()
        try:
            self._timer.init(mode=machine.Timer.PERIODIC, period=LED_TICK_MS,
                             callback=self._led_tick, hard=False)
        except TypeError:
            # Older firmware: callbacks are soft (scheduled) already.
            self._timer.init(mode=machine.Timer.PERIODIC, period=LED_TICK_MS,
                             callback=self._led_tick)
        self._wdt = None
        try:
            os.mkdir(self.data_dir)
        except OSError:
            pass

    def _led_tick(self, t):
        # Soft timer callback: advance the pattern, set the pin.
        ph = self._led_phase + 1
        if ph >= self._led_period:
            ph = 0
        self._led_phase = ph
        self._led.value(1 if ph < self._led_lit else 0)

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
        p, lit = LED.get(state, LED["idle"])
        self._led_period = p
        self._led_lit = lit
        self._led_phase = p - 1
        self._led.value(1 if lit else 0)

    def wdt_start(self, timeout_ms):
        # The RP2040 watchdog cannot wait longer than 8.3 s.
        self._wdt = machine.WDT(timeout=min(timeout_ms, 8300))

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset(self):
        machine.reset()
