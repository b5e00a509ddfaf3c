"""Raspberry Pi Pico W (RP2040) driver of the board interface (boards/README.md).

PINS below is the one pin table; README.md in this folder shows the same with
the wiring. Any entry can be moved with opts["pins"] = {"name": gpio}.
The RP2040 has no pulse-counter peripheral in MicroPython: the S0 meter is
counted by a pin interrupt that only increments a number.

Safety without the CPU: the contactor pin belongs to a PIO state machine, a
small program that drives it from the last command while the residual-current
monitor's input is quiet, and opens it by itself, latched until the next close,
the moment that input trips. It runs on while the CPU cannot: during a flash
erase MicroPython disables interrupts for tens of milliseconds. The pilot is
sampled from a hard timer interrupt (machine.Timer(hard=True)), the monitor's
input has a hard pin interrupt too (it records the trip for the controller).
"""
import sys

import machine
import rp2
from machine import Pin

from boardopts import get as opt
from mport import MachinePort, MachineBoard, CHANNEL, ARMED, TRIP

PIO_HZ = 10000000   # 100 ns an instruction: the interlock reacts within 0.5 us


# Interlock, for a monitor whose fault output is active high (its jmp pin):
# each turn takes the newest command (or keeps X), and drives the coil from it
# unless the monitor trips, which opens the coil and forgets the command.
@rp2.asm_pio(out_init=rp2.PIO.OUT_LOW)
def _interlock_hi():
    wrap_target()
    label("top")
    pull(noblock)
    mov(x, osr)
    jmp(pin, "trip")
    mov(pins, x)
    jmp("top")
    label("trip")
    mov(pins, null)
    set(x, 0)
    wrap()


# The same for a fault output that is active low.
@rp2.asm_pio(out_init=rp2.PIO.OUT_LOW)
def _interlock_lo():
    wrap_target()
    label("top")
    pull(noblock)
    mov(x, osr)
    jmp(pin, "ok")
    mov(pins, null)
    set(x, 0)
    jmp("top")
    label("ok")
    mov(pins, x)
    wrap()


# With a pilot comparator (option cp_comparator): the same, and the coil opens
# by itself too when the comparator's output (its jmp pin) says the pilot is
# above +7.5 V twice, 26 us apart, while the command is "closed": the EV went
# from C to B or A. The monitor's output is read as one bit from its in pin.
# A trip by the pilot pushes a word, so the driver learns it (tripped()).
def _cmp_program(rcd_high):
    @rp2.asm_pio(out_init=rp2.PIO.OUT_LOW)
    def prog():
        wrap_target()
        label("top")
        pull(noblock)
        mov(x, osr)
        mov(isr, null)
        in_(pins, 1)
        mov(y, isr)
        if rcd_high:
            jmp(not_y, "quiet")
            jmp("rcd")
        else:
            jmp(not_y, "rcd")
        label("quiet")
        jmp(pin, "above")
        label("drive")
        mov(pins, x)
        jmp("top")
        label("above")
        jmp(not_x, "drive")
        set(y, 31)
        label("settle")
        jmp(y_dec, "settle")[7]
        jmp(pin, "pilot")
        jmp("drive")
        label("pilot")
        mov(isr, invert(null))
        push(noblock)
        label("rcd")
        mov(pins, null)
        set(x, 0)
        wrap()
    return prog


# The RS-485 driver enable (DE and /RE tied; lib/modbus.py's hold_us): the CPU
# puts a request's line time in microseconds just before writing it; the pin
# goes high at once and low that long after, whatever the CPU does meanwhile.
# A flash erase masks interrupts, a hard timer's too, for 45 ms, and a meter
# answers 3.5 characters after the request: a transceiver still driving the
# line then loses the answer's first bytes. At 1 MHz, one loop turn a microsecond.
DE_HZ = 1000000


@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def _de_timer():
    wrap_target()
    pull(block)
    set(pins, 1)
    mov(x, osr)
    label("hold")
    jmp(x_dec, "hold")
    set(pins, 0)
    wrap()


class DriverEnable:
    """What lib/modbus.py drives: hold_us(us) raises the transceiver's DE now
    and the state machine drops it us later; value() reads it."""

    def __init__(self, pin):
        self._pin = Pin(pin, Pin.OUT, value=0)
        # PIO1's first machine: PIO0 holds the interlock.
        self._sm = rp2.StateMachine(4, _de_timer, freq=DE_HZ, set_base=self._pin)
        self._sm.active(1)

    def value(self, v=None):
        # Low unless a hold runs; only the state machine raises it.
        if v is None:
            return self._pin.value()

    def hold_us(self, us):
        self._sm.put(us)


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
    "phase_switch": 15,  # phase contactor on L2/L3, high = three phases, optional
    "led": "LED",       # the Pico W's LED (on the Wi-Fi chip, no PWM)
    "rs485_tx": 8,      # UART1 TX to the RS-485 transceiver's DI (option rs485)
    "rs485_rx": 9,      # UART1 RX from its RO
    "rs485_de": 10,     # its DE and /RE tied together, high = transmit
    "cp_cmp": 14,       # pilot comparator's output, high = pilot above +7.5 V (option cp_comparator)
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

    def _raw_of(self, mv):
        return mv * 65536 // 3300

    def __init__(self, opts, pins):
        self._cmp = Pin(pins["cp_cmp"], Pin.IN) if opt(opts, "cp_comparator") else None
        super().__init__(opts, pins)

    def _coil_start(self, pin, rcd):
        if self._cmp is None:
            prog = _interlock_hi if self._rcd_active else _interlock_lo
            self._sm = rp2.StateMachine(0, prog, freq=PIO_HZ, out_base=Pin(pin),
                                        jmp_pin=Pin(rcd))
        else:
            self._sm = rp2.StateMachine(0, _cmp_program(self._rcd_active), freq=PIO_HZ,
                                        out_base=Pin(pin), in_base=Pin(rcd), jmp_pin=self._cmp)
        self._sm.active(1)

    def tripped(self):
        # The interlock opened on the comparator: the sampler may not have seen
        # it (a flash erase holds its interrupt), so the controller hears it here.
        if self._cmp is not None and self._sm.rx_fifo():
            while self._sm.rx_fifo():
                self._sm.get()
            st = self._st
            if st[ARMED]:
                st[ARMED] = 0
                st[TRIP] = 2
        return super().tripped()

    def _drive(self, closed):
        # Safe in an interrupt: the FIFO is four deep and drained every 0.5 us.
        self._sm.put(1 if closed else 0)

    def _sampler_start(self, tick):
        if sys.platform == "rp2":
            # On the chip, the handler in machine code (sampler.py).
            import sampler
            sampler.state = self._st
            self._st[CHANNEL] = self.cp_pin - 26     # ADC0 is GP26
            tick = sampler.tick
        self._sampler = machine.Timer(mode=machine.Timer.PERIODIC, freq=self.SAMPLE_HZ,
                                      callback=tick, hard=True)

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
    RS485_UART = 1

    def modbus_uart(self, baud, parity, layout=None):
        u, de = super().modbus_uart(baud, parity, layout)
        return u, DriverEnable(self.pins["rs485_de"])

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
