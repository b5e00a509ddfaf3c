"""Raspberry Pi Pico W (RP2040) driver of the board interface (boards/README.md).

PINS below is the one pin table; README.md in this folder shows the same with
the wiring. Any entry can be moved with opts["pins"] = {"name": gpio}.
The RP2040 has no pulse-counter peripheral in MicroPython: the S0 meter is
counted by a pin interrupt that only increments a number.
"""
import machine
from machine import Pin

from mport import MachinePort, MachineBoard

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


class Port(MachinePort):
    ZERO_MV = 1650
    GAIN_PM = 10000
    SAMPLES = 150       # read_u16 takes ~10 us from Python: 150 reads span a period

    def _adc(self, pin):
        return machine.ADC(Pin(pin))

    def _raw(self, adc):
        return adc.read_u16

    def _mv(self, u16):
        return u16 * 3300 >> 16

    def _rcd_pin(self, pin, active):
        return Pin(pin, Pin.IN, Pin.PULL_DOWN if active else Pin.PULL_UP)

    def _s0_start(self, opts, pin):
        Pin(pin, Pin.IN, Pin.PULL_UP).irq(handler=self._s0_irq, trigger=Pin.IRQ_FALLING)

    def pulses(self):
        return self._s0_n


class Board(MachineBoard):
    name = "rp2040"
    model = "Pico-W"
    PINS = PINS
    PORT = Port

    def _start_led(self, pins):
        self._led = Pin(pins["led"], Pin.OUT, value=0)
        self._led_period = 1
        self._led_lit = 0
        self._led_phase = 0
        self._timer = machine.Timer()
        try:
            self._timer.init(mode=machine.Timer.PERIODIC, period=LED_TICK_MS,
                             callback=self._led_tick, hard=False)
        except TypeError:
            # Older firmware: callbacks are soft (scheduled) already.
            self._timer.init(mode=machine.Timer.PERIODIC, period=LED_TICK_MS,
                             callback=self._led_tick)

    def _led_tick(self, t):
        # Soft timer callback: advance the pattern, set the pin.
        ph = self._led_phase + 1
        if ph >= self._led_period:
            ph = 0
        self._led_phase = ph
        self._led.value(1 if ph < self._led_lit else 0)

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
        super().wdt_start(min(timeout_ms, 8300))
