"""What the ESP32 and RP2040 drivers share: a connector's hardware on plain
machine.Pin / PWM / ADC, and the board around it. Each board's board.py
subclasses these with its pin table, its ADC scaling, its S0 counting and its
LED; deploy installs this file beside the driver (lib/mport.py).

The safety path (boards/README.md, "Safety without the event loop"): a timer
interrupt samples the pilot about 2,200 times a second, a rate that is no
multiple of the 1 kHz PWM, so the samples walk across its period; each sample
above the -12 V half belongs to the high plateau. While the contactor is closed
("armed"), two such samples in a row outside C (or D with ventilation) open the
coil from the interrupt itself, and so does the residual-current monitor's
interrupt; the controller follows in its next step (tripped()). read_pilot()
gives the plateaus the sampler saw since the last call: no ADC burst holds the
loop any more. The interrupt handlers allocate nothing.
"""
import binascii
import os
from array import array

import machine
from machine import Pin
from boardopts import get as opt


# What tripped() reports.
TRIP_RCD = "rcd"
TRIP_PILOT = "pilot"
_TRIPS = (None, TRIP_RCD, TRIP_PILOT)
_BAD_SAMPLES = 2    # high-plateau samples in a row outside C/D that open the coil
# The safety path's state: one word array that the interrupt handlers update in
# place (no allocation) and that a board may hand to machine code (the RP2040's
# sampler, boards/rp2040/sampler.py, uses the same layout).
ARMED = 0           # 1 while the contactor is closed: the handlers may open it
VENT = 1            # 1: state D lets charging go on
BAD = 2             # high-plateau samples in a row outside the allowed bands
HMAX = 3            # the highest high-plateau sample since read_pilot()
LMIN = 4            # the lowest sample of the -12 V half since read_pilot()
NH = 5              # high-plateau samples since read_pilot()
NL = 6              # low samples since read_pilot()
TICKS = 7           # samples taken: the watchdog's sign of life
C_LO = 8            # the bands, in raw ADC units
C_HI = 9
D_LO = 10
D_HI = 11
HALF = 12           # below: a sample of the -12 V half
TRIP = 13           # 0, or why the handlers opened the coil: 1 rcd, 2 pilot
CHANNEL = 14        # the pilot's ADC input (for machine code reading it directly)
_WORDS = 15
# Pilot bands (firmware/evse/pilot.py: nominal +-1 V); the guard lets C, and D
# with ventilation, through.
_C = (5000, 7000)
_D = (2000, 4000)
_HALF_MV = -6000    # below: a sample of the -12 V half of the PWM


class MachinePort:
    # Subclasses set: ZERO_MV, GAIN_PM, SAMPLES (the pilot front end), and
    # define _adc(pin), _raw(adc) -> a read function, _mv(raw) -> ADC mV,
    # _raw_of(mv) -> the raw reading of ADC mV, _rcd_pin(pin, active),
    # _s0_start(opts, pin), pulses() and _sampler_start(tick) (a periodic
    # interrupt calling tick(arg)). They may override _coil_start(pin, rcd)
    # and _drive(closed) (the RP2040 drives the coil from its PIO).
    SAMPLE_HZ = 2200

    def __init__(self, opts, pins):
        self.imp_per_kwh = opt(opts, "imp_per_kwh")
        # Pilot front end: pilot mV = (ADC mV - cp_zero_mv) * cp_gain_pm / 1000.
        self._zero = opt(opts, "cp_zero_mv", self.ZERO_MV)
        self._gain = opt(opts, "cp_gain_pm", self.GAIN_PM)
        # A burst of reads long enough to span one 1 kHz period.
        self._n = opt(opts, "cp_samples", self.SAMPLES)
        self._pwm = machine.PWM(Pin(pins["cp_out"], Pin.OUT), freq=1000, duty_u16=65535)
        self.cp_pin = pins["cp_adc"]
        self._cp = self._adc(self.cp_pin)
        self._rcd_active = opt(opts, "rcd_active")
        self._rcd = self._rcd_pin(pins["rcd"], self._rcd_active)
        self._rcd_seen = False
        self._st = array("i", [0] * _WORDS)
        self._coil_start(pins["contactor"], pins["rcd"])

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

        trig = Pin.IRQ_RISING if self._rcd_active else Pin.IRQ_FALLING
        if self.HARD_IRQ:
            self._rcd.irq(handler=self._rcd_irq, trigger=trig, hard=True)
        else:
            self._rcd.irq(handler=self._rcd_irq, trigger=trig)
        self.has_rcd_test = bool(opt(opts, "has_rcd_test"))
        self._test = Pin(pins["rcd_test"], Pin.OUT, value=0) if self.has_rcd_test else None
        self.has_lock = bool(opts.get("has_lock"))
        self._lock = Pin(pins["lock"], Pin.OUT, value=0) if self.has_lock else None
        # De-energised at start: one phase until the controller has switched
        # (firmware/evse/phases.py), never under load.
        self.has_phase_switch = bool(opts.get("has_phase_switch"))
        self._phase = Pin(pins["phase_switch"], Pin.OUT, value=0) \
            if self.has_phase_switch else None

        self._guard_levels()
        self._floor = self._raw_of(4000)
        self._st[HMAX] = -1
        self._st[LMIN] = self._floor
        self._hi = self._lo = 0
        self._read = self._raw(self._cp)
        self._sampler_start(self._tick)

    # Pin.irq(hard=True): the handler runs in the interrupt itself. A port
    # without it (ESP32) schedules handlers between bytecodes instead.
    HARD_IRQ = True

    def _coil_start(self, pin, rcd):
        self._coil = Pin(pin, Pin.OUT, value=0)

    def _drive(self, closed):
        self._coil.value(1 if closed else 0)

    def _raw_pilot(self, mv):
        # The raw ADC reading of a pilot voltage (the front end's inverse).
        return self._raw_of(mv * 1000 // self._gain + self._zero)

    def _guard_levels(self):
        r, st = self._raw_pilot, self._st
        st[C_LO], st[C_HI] = r(_C[0]), r(_C[1])
        st[D_LO], st[D_HI] = r(_D[0]), r(_D[1])
        st[HALF] = r(_HALF_MV)

    @property
    def ticks(self):
        return self._st[TICKS]

    # Interrupt handlers: count, set a flag, or open the coil; nothing else.
    def _s0_irq(self, pin):
        self._s0_n += 1

    def _rcd_irq(self, pin):
        self._rcd_seen = True
        st = self._st
        if st[ARMED]:
            st[ARMED] = 0
            self._drive(False)
            st[TRIP] = 1

    def _tick(self, arg):
        st = self._st
        v = self._read()
        st[TICKS] += 1
        if v < st[HALF]:
            if v < st[LMIN]:
                st[LMIN] = v
            st[NL] += 1
            return
        if v > st[HMAX]:
            st[HMAX] = v
        st[NH] += 1
        if not st[ARMED]:
            return
        if st[C_LO] <= v <= st[C_HI] or (st[VENT] and st[D_LO] <= v <= st[D_HI]):
            st[BAD] = 0
            return
        st[BAD] += 1
        if st[BAD] >= _BAD_SAMPLES:
            st[ARMED] = 0
            self._drive(False)
            st[TRIP] = 2

    def tripped(self):
        """Why the safety path opened the contactor since the last call: None,
        TRIP_RCD or TRIP_PILOT."""
        st = self._st
        t = st[TRIP]
        st[TRIP] = 0
        return _TRIPS[t]

    def pilot_pwm(self, duty_pm):
        self._pwm.duty_u16(duty_pm * 65535 // 1000)

    def pilot_high(self):
        self._pwm.duty_u16(65535)

    def pilot_low(self):
        self._pwm.duty_u16(0)

    def read_pilot(self):
        st = self._st
        if not st[TICKS]:
            return self._burst()
        irq = machine.disable_irq()
        hi, lo, nh, nl = st[HMAX], st[LMIN], st[NH], st[NL]
        st[HMAX] = -1
        st[LMIN] = self._floor
        st[NH] = st[NL] = 0
        machine.enable_irq(irq)
        # A constant pilot has one plateau; no sample since the last call keeps
        # what was read then.
        if nh or nl:
            z, g = self._zero, self._gain
            self._hi = (self._mv(hi if nh else lo) - z) * g // 1000
            self._lo = (self._mv(lo if nl else hi) - z) * g // 1000
        return self._hi, self._lo

    def _burst(self):
        # Before the sampler's first tick: a burst of reads spanning a period.
        r = self._read
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

    def contactor(self, closed, vent=False):
        """Closing arms the safety path: from then on the port opens by itself
        when the pilot leaves C (D too with vent) or the residual current trips."""
        st = self._st
        if closed:
            st[VENT] = 1 if vent else 0
            st[BAD] = 0
            st[TRIP] = 0
            st[ARMED] = 1
        else:
            st[ARMED] = 0
        self._drive(closed)

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

    def phase_switch(self, on):
        if self._phase is not None:
            self._phase.value(1 if on else 0)


class MachineBoard:
    # Subclasses set name, model, PINS and PORT (their MachinePort class) and
    # define led(state); they call _start_led(pins) from here.
    def __init__(self, opts=None):
        opts = opts or {}
        pins = dict(self.PINS)
        if opt(opts, "pins"):
            pins.update(opts["pins"])
        self.pins = pins
        self._opts = opts
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

    def modbus_uart(self, baud, parity, layout=None):
        """(uart, de) of the RS-485 transceiver (option rs485): the UART at 8
        data bits, parity "none"/"even"/"odd", one stop bit, with a receive
        ring big enough for any Modbus frame, so polling it every few
        milliseconds loses nothing; de drives the transceiver's DE and /RE
        (high: transmit). layout is for the simulated board only."""
        if not opt(self._opts, "rs485"):
            raise ValueError("no RS-485 transceiver fitted: setup.board(rs485=True) once it is "
                             "wired to the pins rs485_tx, rs485_rx and rs485_de")
        par = {"none": None, "even": 0, "odd": 1}[parity]
        pins = self.pins
        u = machine.UART(opt(self._opts, "rs485_uart", self.RS485_UART), baudrate=baud, bits=8,
                         parity=par, stop=1, tx=Pin(pins["rs485_tx"]), rx=Pin(pins["rs485_rx"]),
                         rxbuf=512, timeout=0)
        return u, Pin(pins["rs485_de"], Pin.OUT, value=0)

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
