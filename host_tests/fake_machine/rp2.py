"""A stand-in for MicroPython's `rp2` module, beside the fake `machine`: PIO
programs are recorded, not run. The contactor interlock (boards/rp2040/board.py), is modelled by what its
program does to the pins: the out pin follows the last command while the
monitor's pin is quiet, and a trip opens it and forgets the command. With the
pilot comparator (the program made by _cmp_program(rcd_high)), the monitor is
the in pin, the comparator the jmp pin: high while the command is "closed"
opens the coil too and pushes a word. The RS-485 driver enable's machine
(_de_timer) raises its pin at a put until elapse(). The emulated chip
(tools/chip/) runs the real programs."""
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


class _Ins:
    def __getitem__(self, delay):       # the delay: jmp(...)[7]
        return self


_OPS = ("wrap_target", "wrap", "label", "pull", "push", "mov", "in_", "out", "jmp", "set",
        "nop", "wait", "irq")
_NAMES = ("x", "y", "osr", "isr", "null", "pins", "pin", "noblock", "block", "not_x", "not_y",
          "x_dec", "y_dec", "x_not_y", "not_osre")


def asm_pio(**kw):
    # As rp2.asm_pio does: the program's body runs with the instructions as its
    # globals, here recorders, so a program made from arguments is recorded as
    # it was made.
    def deco(fn):
        ins = []

        def op(name):
            def emit(*args):
                ins.append((name,) + args)
                return _Ins()
            return emit
        gl = fn.__globals__
        old = dict(gl)
        try:
            for name in _OPS:
                gl[name] = op(name)
            for name in _NAMES:
                gl[name] = name
            gl["invert"] = lambda v: ("invert", v)
            fn()
        finally:
            gl.clear()
            gl.update(old)
        return {"name": fn.__name__, "kw": kw, "ins": ins}
    return deco


class StateMachine:
    def __init__(self, id, prog, freq=None, out_base=None, jmp_pin=None, in_base=None,
                 set_base=None, **kw):
        self.id = id
        self.prog = prog
        self.freq = freq
        self.puts = []
        machines.append(self)
        machine.log.append(("pio", id, "init", prog["name"]))
        if prog["name"] == "_de_timer":
            # The RS-485 driver enable: a put raises the set pin, elapse()
            # is the hold's end.
            self.out = machine._pid(set_base)
            self.on = False
            return
        self.out = machine._pid(out_base)
        self.jmp = machine._pid(jmp_pin)
        # The interlock's polarity is in its name: _interlock_hi trips on high.
        self.trip_level = 1 if prog["name"].endswith("_hi") else 0
        self.cmp = None
        if in_base is not None:
            self.cmp, self.jmp = self.jmp, machine._pid(in_base)
            # Which way the monitor's bit jumps tells its polarity.
            self.trip_level = 1 if ("jmp", "not_y", "quiet") in prog["ins"] else 0
        self.rx = []
        self.x = 0
        self.on = False
        machine.Pin(self.out, machine.Pin.OUT, value=0)

    def active(self, on=None):
        if on is None:
            return self.on
        self.on = bool(on)
        self.run()

    def put(self, v):
        self.puts.append(v)
        if self.prog["name"] == "_de_timer":
            machine.pin_state(self.out)["value"] = 1
            return
        self.x = v & 1
        self.run()

    def elapse(self):
        machine.pin_state(self.out)["value"] = 0

    def run(self):
        if not self.on or self.prog["name"] == "_de_timer":
            return
        if machine.pin_state(self.jmp)["value"] == self.trip_level:
            self.x = 0
        elif self.cmp is not None and self.x and machine.pin_state(self.cmp)["value"]:
            self.x = 0
            if len(self.rx) < 4:
                self.rx.append(0xFFFFFFFF)
        machine.pin_state(self.out)["value"] = self.x

    def rx_fifo(self):
        return len(self.rx)

    def get(self):
        return self.rx.pop(0)


def pins_changed():
    for sm in machines:
        sm.run()


def clear():
    del machines[:]
