"""ESP32 DevKitC driver of the board interface (boards/README.md).

PINS below is the one pin table; README.md in this folder shows the same with
the wiring. Any entry can be moved with opts["pins"] = {"name": gpio}.
Analog inputs are on ADC1 (GPIO 32..39): ADC2 cannot be read while Wi-Fi runs.
"""
import machine
from machine import Pin

from mport import MachinePort, MachineBoard

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
    "phase_switch": 33,  # phase contactor on L2/L3, high = three phases, optional
    "led": 2,           # status LED
    "rs485_tx": 17,     # UART2 TX to the RS-485 transceiver's DI (option rs485)
    "rs485_rx": 16,     # UART2 RX from its RO
    "rs485_de": 4,      # its DE and /RE tied together, high = transmit
}

# Pattern per LED state: (frequency Hz, duty 0..65535) of a slow PWM.
LED = {
    "off": (1, 0),
    "idle": (1, 65535),
    "charging": (1, 32768),
    "offline": (1, 6554),
    "fault": (4, 32768),
}


class Port(MachinePort):
    ZERO_MV = 1250
    GAIN_PM = 12000
    SAMPLES = 80        # read_uv takes ~20 us: 80 reads span a 1 kHz period
    # The ESP32 port has no hard interrupts from Python (Pin.irq takes no hard
    # argument, machine.Timer(hard=True) raises): the pilot sampler and the
    # monitor's handler are scheduled, they run between two bytecodes even
    # while a task computes, but not inside one long C call (a TLS handshake, a
    # json.loads of a big frame). Wire the monitor's relay output in series
    # with the contactor coil as well (README, wiring).
    HARD_IRQ = False
    SAMPLE_HZ = 1123    # a scheduled callback costs more; still no multiple of 1 kHz

    def __init__(self, opts, pins):
        if opts.get("cp_comparator"):
            raise ValueError("cp_comparator: the ESP32 has no PIO to watch a pilot comparator; "
                             "wire its output into the coil driver instead")
        super().__init__(opts, pins)

    def _adc(self, pin):
        # 11 dB attenuation: the whole 0..3.3 V range (read_uv is calibrated).
        return machine.ADC(Pin(pin), atten=machine.ADC.ATTN_11DB)

    def _raw(self, adc):
        return adc.read_uv

    def _mv(self, uv):
        return uv // 1000

    def _raw_of(self, mv):
        return mv * 1000

    def _sampler_start(self, tick):
        self._sampler = machine.Timer(0, mode=machine.Timer.PERIODIC, freq=self.SAMPLE_HZ,
                                      callback=tick)

    def _rcd_pin(self, pin, active):
        return Pin(pin, Pin.IN)     # input-only GPIO: the monitor drives it

    def _s0_start(self, opts, pin):
        # S0: the hardware pulse counter when this MicroPython has it, else an
        # interrupt that only counts.
        s0 = Pin(pin, Pin.IN)
        self._ctr = None
        self._ctr_last = 0
        self._ctr_acc = 0
        Counter = getattr(machine, "Counter", None)
        if Counter is not None and not opts.get("s0_irq"):
            self._ctr = Counter(0, s0, edge=Counter.FALLING, filter_ns=12000)
            self._ctr_last = self._ctr.value()
        else:
            s0.irq(handler=self._s0_irq, trigger=Pin.IRQ_FALLING)

    def pulses(self):
        c = self._ctr
        if c is None:
            return self._s0_n
        v = c.value()
        d = v - self._ctr_last
        if d < 0:
            # A 16-bit hardware count wrapped; a 64-bit one never goes back.
            d += 65536
        self._ctr_last = v
        self._ctr_acc += d
        return self._ctr_acc


class Board(MachineBoard):
    name = "esp32"
    model = "ESP32-DevKitC"
    PINS = PINS
    PORT = Port
    RS485_UART = 2

    def _start_led(self, pins):
        self._led = machine.PWM(Pin(pins["led"], Pin.OUT), freq=1, duty_u16=0)

    def led(self, state):
        if state == self._led_state:
            return
        self._led_state = state
        f, d = LED.get(state, LED["idle"])
        self._led.freq(f)
        self._led.duty_u16(d)
