"""What the ESP32 and RP2040 drivers share: a connector's hardware on plain
machine.Pin / PWM / ADC, and the board around it. Each board's board.py
subclasses these with its pin table, its ADC scaling, its S0 counting and its
LED; deploy installs this file beside the driver (lib/mport.py)."""
import binascii
import os

import machine
from machine import Pin
from boardopts import get as opt


class MachinePort:
    # Subclasses set: ZERO_MV, GAIN_PM, SAMPLES (the pilot front end), and
    # define _adc(pin), _raw(adc) -> a read function, _mv(raw) -> ADC mV,
    # _rcd_pin(pin, active), _s0_start(opts, pin) and pulses().
    def __init__(self, opts, pins):
        self.imp_per_kwh = opt(opts, "imp_per_kwh")
        # Pilot front end: pilot mV = (ADC mV - cp_zero_mv) * cp_gain_pm / 1000.
        self._zero = opt(opts, "cp_zero_mv", self.ZERO_MV)
        self._gain = opt(opts, "cp_gain_pm", self.GAIN_PM)
        # A burst of reads long enough to span one 1 kHz period.
        self._n = opt(opts, "cp_samples", self.SAMPLES)
        self._pwm = machine.PWM(Pin(pins["cp_out"], Pin.OUT), freq=1000, duty_u16=65535)
        self._cp = self._adc(pins["cp_adc"])
        self._coil = Pin(pins["contactor"], Pin.OUT, value=0)

        self._fb = None
        if opts.get("has_feedback"):
            self._fb = Pin(pins["contactor_fb"], Pin.IN, Pin.PULL_UP)
            self._fb_closed = opt(opts, "fb_active")

        self._pp = None
        if opts.get("has_pp"):
            self._pp = self._adc(pins["pp_adc"])
            self.pp_pullup_ohm = opt(opts, "pp_pullup_ohm")
            self.pp_supply_mv = opt(opts, "pp_supply_mv")

        self._s0_n = 0
        self._s0_start(opts, pins["s0"])

        self._rcd_active = opt(opts, "rcd_active")
        self._rcd = self._rcd_pin(pins["rcd"], self._rcd_active)
        self._rcd_seen = False
        self._rcd.irq(handler=self._rcd_irq,
                      trigger=Pin.IRQ_RISING if self._rcd_active else Pin.IRQ_FALLING)
        self.has_rcd_test = bool(opt(opts, "has_rcd_test"))
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
        r = self._raw(self._cp)
        hi = lo = r()
        for _ in range(self._n):
            v = r()
            if v > hi:
                hi = v
            elif v < lo:
                lo = v
        z = self._zero
        g = self._gain
        return (self._mv(hi) - z) * g // 1000, (self._mv(lo) - z) * g // 1000

    def contactor(self, closed):
        self._coil.value(1 if closed else 0)

    def contactor_feedback(self):
        if self._fb is None:
            return None
        return self._fb.value() == self._fb_closed

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
        r = self._raw(self._pp)
        return self._mv(r() + r() + r() + r()) // 4

    def lock(self, locked):
        if self._lock is None:
            return None
        self._lock.value(1 if locked else 0)
        return True


class MachineBoard:
    # Subclasses set name, model, PINS and PORT (their MachinePort class) and
    # define led(state); they call _start_led(pins) from here.
    def __init__(self, opts=None):
        opts = opts or {}
        pins = dict(self.PINS)
        if opt(opts, "pins"):
            pins.update(opts["pins"])
        self.pins = pins
        self.vendor = opt(opts, "vendor")[:20]
        self.data_dir = opts.get("data_dir") or "/data"
        self.rx_buf = opt(opts, "rx_buf")
        self.connectors = 1
        self._port = self.PORT(opts, pins)
        self._led_state = None
        self._wdt = None
        self._start_led(pins)
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

    def wdt_start(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset(self):
        machine.reset()
