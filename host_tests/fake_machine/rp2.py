"""A stand-in for MicroPython's `rp2` module, beside the fake `machine`: PIO
programs are recorded, not run. The one state machine the RP2040 driver makes,
the contactor interlock (boards/rp2040/board.py), is modelled by what its
program does to the pins: the out pin follows the last command while the jmp
pin is quiet, and a trip opens it and forgets the command. The emulated chip
(tools/chip/) runs the real program."""
import machine

machines = []


class PIO:
    OUT_LOW = 0
    OUT_HIGH = 1
    IN_LOW = 0
    IN_HIGH = 1
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2


def asm_pio(**kw):
    def deco(fn):
        return {"name": fn.__name__, "kw": kw}
    return deco


class StateMachine:
    def __init__(self, id, prog, freq=None, out_base=None, jmp_pin=None, **kw):
        self.id = id
        self.prog = prog
        self.out = machine._pid(out_base)
        self.jmp = machine._pid(jmp_pin)
        # The interlock's polarity is in its name: _interlock_hi trips on high.
        self.trip_level = 1 if prog["name"].endswith("_hi") else 0
        self.x = 0
        self.on = False
        self.puts = []
        machine.Pin(self.out, machine.Pin.OUT, value=0)
        machines.append(self)
        machine.log.append(("pio", id, "init", prog["name"]))

    def active(self, on=None):
        if on is None:
            return self.on
        self.on = bool(on)
        self.run()

    def put(self, v):
        self.puts.append(v)
        self.x = v & 1
        self.run()

    def run(self):
        if not self.on:
            return
        if machine.pin_state(self.jmp)["value"] == self.trip_level:
            self.x = 0
        machine.pin_state(self.out)["value"] = self.x


def pins_changed():
    for sm in machines:
        sm.run()


def clear():
    del machines[:]
