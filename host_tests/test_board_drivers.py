"""boards/esp32 and boards/rp2040 drivers under the fake `machine` module
(host_tests/fake_machine): what they do to pins, PWM, ADC, Counter, WDT, and
the controller running on top of them; on CPython and on MicroPython."""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT, "host_tests", "fake_machine")
for _p in (FAKE, ROOT, os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", "common")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import machine  # noqa: E402  (the fake)
import rp2  # noqa: E402  (the fake)
from firmware.evse import pilot  # noqa: E402
from firmware.evse.controller import Controller  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
assert hasattr(machine, "set_adc"), "the fake machine module must shadow any other"

# Per board: pilot front end (zero mV, gain) and the pins the tests poke.
FRONT = {"esp32": (1250, 12), "rp2040": (1650, 10)}


def load(name):
    spec = importlib.util.spec_from_file_location(
        "board_" + name, os.path.join(ROOT, "boards", name, "board.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(params=["esp32", "rp2040"])
def kind(request):
    machine.clear()
    return request.param


def make(kind, tmp_path, **opts):
    mod = load(kind)
    opts.setdefault("data_dir", str(tmp_path / "data"))
    b = mod.Board(opts)
    return mod, b, b.pins


def adc_mv(kind, pilot_mv):
    zero, gain = FRONT[kind]
    return zero + pilot_mv / gain


def test_identity_and_basics(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    assert b.name == kind and len(b.vendor) <= 20 and len(b.model) <= 20
    assert b.unique_id() == "246f28a1b2c3"
    assert b.connectors == 1 and b.rx_buf == 8192
    assert os.path.isdir(b.data_dir)
    assert b.port(1) is b.port(1)
    with pytest.raises(ValueError):
        b.port(2)
    with pytest.raises(machine.MachineReset):
        b.reset()
    assert ("machine", None, "reset", None) in machine.log


def test_pin_table_is_the_one_in_code_and_can_be_overridden(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path, pins={"contactor": 4})
    assert pins["contactor"] == 4 and mod.PINS["contactor"] != 4
    assert machine.pin_state(4)["mode"] == machine.Pin.OUT
    readme = open(os.path.join(ROOT, "boards", kind, "README.md")).read()
    for name, gpio in mod.PINS.items():
        assert "`%s`" % name in readme, name
        assert str(gpio) in readme, (name, gpio)


def test_starts_safe_pilot_high_contactor_open(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    pwm = machine.pwms[pins["cp_out"]]
    assert pwm.freq() == 1000 and pwm.duty_u16() == 65535
    c = machine.pin_state(pins["contactor"])
    assert c["mode"] == machine.Pin.OUT and c["value"] == 0


def test_pilot_outputs(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    p = b.port(1)
    pwm = machine.pwms[pins["cp_out"]]
    p.pilot_pwm(266)
    assert pwm.duty_u16() == 266 * 65535 // 1000
    p.pilot_low()
    assert pwm.duty_u16() == 0
    p.pilot_high()
    assert pwm.duty_u16() == 65535


@pytest.mark.parametrize("hi,lo", [(12000, 12000), (9000, -12000), (6000, -12000),
                                   (3000, -12000), (0, 0), (-12000, -12000), (6000, -5600)])
def test_read_pilot_keeps_max_and_min_of_a_burst(kind, tmp_path, hi, lo):
    mod, b, pins = make(kind, tmp_path)
    reads = []
    wave = [adc_mv(kind, hi)] * 3 + [adc_mv(kind, lo)] * 7

    def adc():
        reads.append(1)
        return int(wave[len(reads) % len(wave)])
    machine.set_adc(pins["cp_adc"], adc)
    h, l = b.port(1).read_pilot()
    assert abs(h - hi) <= 60 and abs(l - lo) <= 60, (h, l)
    assert pilot.classify(h) == pilot.classify(hi)
    assert len(reads) >= 50, "a burst must span a PWM period"


def sampler():
    return [t for t in machine.timers if t.period == -1][0]


def feed(kind, pins, mv, n):
    """n ticks of the pilot sampler reading `mv` (pilot millivolts)."""
    machine.set_adc(pins["cp_adc"], [int(adc_mv(kind, mv))])
    t = sampler()
    for _ in range(n):
        t.fire()


def coil(pins):
    return machine.pin_state(pins["contactor"])["value"]


def test_the_sampler_gives_the_plateaus_without_a_burst(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    t = sampler()
    assert t.freq == mod.Port.SAMPLE_HZ and t.freq % 1000 != 0
    assert t.hard is (kind == "rp2040"), "the ESP32 port has no hard timers"
    wave = [adc_mv(kind, 6000)] * 3 + [adc_mv(kind, -12000)] * 7
    reads = []

    def adc():
        reads.append(1)
        return int(wave[len(reads) % len(wave)])
    machine.set_adc(pins["cp_adc"], adc)
    for _ in range(44):
        t.fire()
    n = len(reads)
    h, l = b.port(1).read_pilot()
    assert len(reads) == n, "read_pilot takes what the sampler saw: no ADC read of its own"
    assert pilot.classify(h) == "C" and l < -11000, (h, l)
    # A constant pilot: one plateau for both.
    feed(kind, pins, 9000, 10)
    assert pilot.classify(b.port(1).read_pilot()[1]) == "B"
    feed(kind, pins, -12000, 10)
    assert b.port(1).read_pilot()[0] < -11000


@pytest.mark.parametrize("vent", [False, True])
def test_the_pilot_leaving_c_opens_the_coil_from_the_interrupt(kind, tmp_path, vent):
    mod, b, pins = make(kind, tmp_path)
    p = b.port(1)
    feed(kind, pins, 6000, 5)
    p.contactor(True, vent)
    assert coil(pins) == 1
    feed(kind, pins, -12000, 20)        # the other half of the PWM: no matter
    feed(kind, pins, 6000, 20)
    assert coil(pins) == 1 and p.tripped() is None
    feed(kind, pins, 3000, 1)           # D: allowed only with ventilation
    feed(kind, pins, 3000, 1)
    if not vent:
        assert coil(pins) == 0 and p.tripped() == "pilot" and p.tripped() is None
        return
    assert coil(pins) == 1
    feed(kind, pins, 9000, 1)           # one sample is not enough (noise)
    feed(kind, pins, 6000, 1)
    assert coil(pins) == 1
    feed(kind, pins, 9000, 2)           # B twice: open, without the controller
    assert coil(pins) == 0 and p.tripped() == "pilot"
    feed(kind, pins, 9000, 5)           # disarmed until the next close
    p.contactor(False)
    assert p.tripped() is None


@pytest.mark.parametrize("active", [1, 0])
def test_a_residual_current_trip_opens_the_coil_without_the_loop(kind, tmp_path, active):
    mod, b, pins = make(kind, tmp_path, rcd_active=active)
    p = b.port(1)
    machine.set_pin(pins["rcd"], 1 - active)
    p.contactor(True)
    assert coil(pins) == 1
    machine.set_pin(pins["rcd"], active)
    assert coil(pins) == 0
    assert p.tripped() == "rcd" and p.rcd_fault()
    if kind == "rp2040":
        # The interlock holds it open while the monitor says so, whatever the
        # CPU commands, and forgets the close command it had.
        p.contactor(True)
        assert coil(pins) == 0
        machine.set_pin(pins["rcd"], 1 - active)
        assert coil(pins) == 0
        p.contactor(True)
        assert coil(pins) == 1


def test_rp2040_interlock_and_interrupts_are_hard(tmp_path):
    machine.clear()
    import rp2
    for active, prog in ((1, "_interlock_hi"), (0, "_interlock_lo")):
        rp2.clear()
        mod, b, pins = make("rp2040", tmp_path, rcd_active=active)
        sm = rp2.machines[-1]
        assert sm.prog["name"] == prog and sm.out == pins["contactor"] and sm.jmp == pins["rcd"]
        assert ("pin", pins["rcd"], "irq", machine.Pin.IRQ_RISING if active
                else machine.Pin.IRQ_FALLING) in machine.log


def test_rp2040_pilot_comparator_opens_the_coil_from_the_pio(tmp_path):
    # With cp_comparator the interlock also watches the comparator (its jmp
    # pin; the monitor moves to its in pin): above +7.5 V while closed opens the
    # coil with no interrupt and no step of the controller, and the driver
    # reports it as a pilot trip. The monitor still trips it, either polarity.
    import rp2
    for active in (1, 0):
        machine.clear()
        rp2.clear()
        mod, b, pins = make("rp2040", tmp_path, rcd_active=active, cp_comparator=True)
        sm = rp2.machines[-1]
        assert sm.cmp == pins["cp_cmp"] and sm.jmp == pins["rcd"] and sm.trip_level == active
        p = b.port(1)
        machine.set_pin(pins["rcd"], 1 - active)
        coil = lambda: machine.pin_state(pins["contactor"])["value"]
        machine.set_pin(pins["cp_cmp"], 1)
        p.contactor(True)
        assert coil() == 0, "closing in state B: the interlock keeps it open"
        assert p.tripped() == "pilot"
        machine.set_pin(pins["cp_cmp"], 0)
        p.contactor(True)
        assert coil() == 1 and p.tripped() is None
        machine.set_pin(pins["cp_cmp"], 1)
        assert coil() == 0 and p.tripped() == "pilot"
        assert p.tripped() is None, "reported once"
        machine.set_pin(pins["cp_cmp"], 0)
        assert coil() == 0, "latched until the next close"
        p.contactor(True)
        machine.set_pin(pins["rcd"], active)
        assert coil() == 0 and p.tripped() == "rcd"


def test_esp32_refuses_the_pilot_comparator(tmp_path):
    machine.clear()
    with pytest.raises(ValueError, match="cp_comparator"):
        make("esp32", tmp_path, cp_comparator=True)


def test_esp32_reads_adc1_only(tmp_path):
    machine.clear()
    mod, b, pins = make("esp32", tmp_path, has_pp=True)
    for name in ("cp_adc", "pp_adc"):
        assert 32 <= pins[name] <= 39, "ADC2 is blocked while Wi-Fi runs"
    adcs = [e for e in machine.log if e[0] == "adc"]
    assert {e[1] for e in adcs} == {pins["cp_adc"], pins["pp_adc"]}
    assert all(e[3] == machine.ADC.ATTN_11DB for e in adcs)


def test_contactor_and_feedback(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path, has_feedback=True)
    p = b.port(1)
    p.contactor(True)
    assert machine.pin_state(pins["contactor"])["value"] == 1
    machine.set_pin(pins["contactor_fb"], 0)
    assert p.contactor_feedback() is True
    machine.set_pin(pins["contactor_fb"], 1)
    assert p.contactor_feedback() is False
    p.contactor(False)
    assert machine.pin_state(pins["contactor"])["value"] == 0
    mod, b, pins = make(kind, tmp_path)
    assert b.port(1).contactor_feedback() is None


def test_s0_pulses(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path, imp_per_kwh=800)
    p = b.port(1)
    assert p.imp_per_kwh == 800 and p.pulses() == 0
    machine.pulse(pins["s0"], 7)
    assert p.pulses() == 7
    machine.pulse(pins["s0"], 5)
    assert p.pulses() == 12


def test_esp32_counts_s0_with_the_hardware_counter(tmp_path):
    machine.clear()
    mod, b, pins = make("esp32", tmp_path)
    ctr = [e for e in machine.log if e[0] == "counter"]
    assert ctr and ctr[0][3][0] == pins["s0"]
    assert machine.pin_state(pins["s0"])["irq"] is None
    p = b.port(1)
    c = machine._counters[0]
    c._n = 32760
    p.pulses()
    c._n = -32766            # a 16-bit count wrapped after 10 more pulses
    assert p.pulses() == 32770


def test_esp32_falls_back_to_an_irq_without_counter(tmp_path, monkeypatch):
    machine.clear()
    monkeypatch.delattr(machine, "Counter")
    mod, b, pins = make("esp32", tmp_path)
    assert machine.pin_state(pins["s0"])["trigger"] == machine.Pin.IRQ_FALLING
    machine.pulse(pins["s0"], 3)
    assert b.port(1).pulses() == 3


def test_rcd_input_and_a_short_trip_between_reads(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    p = b.port(1)
    assert p.rcd_fault() is False
    machine.set_pin(pins["rcd"], 1)
    assert p.rcd_fault() is True and p.rcd_fault() is True
    machine.set_pin(pins["rcd"], 0)
    assert p.rcd_fault() is False
    machine.set_pin(pins["rcd"], 1)
    machine.set_pin(pins["rcd"], 0)
    assert p.rcd_fault() is True, "a trip shorter than a step is not lost"
    assert p.rcd_fault() is False
    assert p.has_rcd_test
    p.rcd_test(True)
    assert machine.pin_state(pins["rcd_test"])["value"] == 1
    p.rcd_test(False)
    assert machine.pin_state(pins["rcd_test"])["value"] == 0


def test_optional_pp_and_lock(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    p = b.port(1)
    assert p.read_pp() is None and p.lock(True) is None and not p.has_lock
    mod, b, pins = make(kind, tmp_path, has_pp=True, has_lock=True)
    p = b.port(1)
    machine.set_adc(pins["pp_adc"], [595])
    assert abs(p.read_pp() - 595) <= 2
    assert pilot.cable_amps(pilot.pp_ohms(p.read_pp(), p.pp_pullup_ohm, p.pp_supply_mv)) == 32
    assert p.lock(True) is True and machine.pin_state(pins["lock"])["value"] == 1
    assert p.lock(False) is True and machine.pin_state(pins["lock"])["value"] == 0


def test_watchdog(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    b.wdt_feed()
    assert not machine.wdts
    b.wdt_start(20000 if kind == "esp32" else 5000)
    b.wdt_feed()
    b.wdt_feed()
    w = machine.wdts[0]
    assert w.feeds == 2 and w.timeout == (20000 if kind == "esp32" else 5000)


def test_rp2040_watchdog_is_capped(tmp_path):
    machine.clear()
    mod, b, pins = make("rp2040", tmp_path)
    b.wdt_start(30000)
    assert machine.wdts[0].timeout == 8300


def test_esp32_led_patterns(tmp_path):
    machine.clear()
    mod, b, pins = make("esp32", tmp_path)
    led = machine.pwms[pins["led"]]
    b.led("fault")
    assert (led.freq(), led.duty_u16()) == (4, 32768)
    b.led("off")
    assert led.duty_u16() == 0
    b.led("idle")
    assert led.duty_u16() == 65535


def test_rp2040_led_blinks_from_a_soft_timer(tmp_path):
    machine.clear()
    mod, b, pins = make("rp2040", tmp_path)
    t = [x for x in machine.timers if x.period == 100][0]
    assert t.hard is False
    b.led("charging")
    seen = []
    for _ in range(40):
        t.fire()
        seen.append(machine.pin_state("LED")["value"])
    assert seen[:20].count(1) == 10 and seen[20:] == seen[:20]
    b.led("off")
    t.fire()
    assert machine.pin_state("LED")["value"] == 0


def run_controller(kind, b, pins, ms):
    """Step a controller over the driver with a scripted EV on the pilot ADC and
    a monitor that trips while its test input is driven."""
    pwm = machine.pwms[pins["cp_out"]]
    ev = {"ready": True, "n": 0}

    def cp_adc():
        # The EV goes to C only once it sees PWM; the ADC burst alternates
        # between the plateaus while PWM runs.
        d = pwm.duty_u16()
        ev["n"] += 1
        if d == 65535:
            return int(adc_mv(kind, 9000))
        level = 6000 if ev["ready"] else 9000
        return int(adc_mv(kind, level if ev["n"] % 4 == 0 else -12000))
    machine.set_adc(pins["cp_adc"], cp_adc)
    ctl = Controller(b.port(1), {"free_vend": True, "max_current_a": 20})
    t = 0
    while t < ms:
        t += 20
        machine.set_pin(pins["rcd"], machine.pin_state(pins["rcd_test"])["value"])
        ctl.step(t)
    return ctl, ev


def test_controller_charges_through_the_driver(kind, tmp_path):
    mod, b, pins = make(kind, tmp_path)
    ctl, ev = run_controller(kind, b, pins, 600)
    assert ctl.fault is None and ctl.cp == "C" and ctl.contactor_closed
    assert machine.pin_state(pins["contactor"])["value"] == 1
    assert machine.pwms[pins["cp_out"]].duty_u16() == 333 * 65535 // 1000
    tests = [e for e in machine.log if e[0] == "pin" and e[1] == pins["rcd_test"]
             and e[2] == "value"]
    assert [e[3] for e in tests] == [1, 0], "one residual-current self-test per plug-in"


DRIVER_SCRIPT = r'''
import sys
import machine
import board
from firmware.evse.controller import Controller
import log
log.level = 99
kind = sys.argv[1]
zero, gain = {"esp32": (1250, 12), "rp2040": (1650, 10)}[kind]
b = board.Board({"data_dir": sys.argv[2], "has_feedback": True})
pins = b.pins
p = b.port(1)
def check(name, ok):
    print(("PASS " if ok else "FAIL ") + name)
check("name", b.name == kind and b.unique_id() == "246f28a1b2c3")
pwm = machine.pwms[pins["cp_out"]]
check("pilot starts high", pwm.freq() == 1000 and pwm.duty_u16() == 65535)
machine.set_adc(pins["cp_adc"], [zero + 9000 // gain] * 2 + [zero - 12000 // gain] * 5)
hi, lo = p.read_pilot()
check("burst max/min", abs(hi - 9000) <= 60 and abs(lo + 12000) <= 60)
machine.pulse(pins["s0"], 4)
check("s0", p.pulses() == 4)
machine.set_pin(pins["rcd"], 1); machine.set_pin(pins["rcd"], 0)
check("rcd flag", p.rcd_fault() is True and p.rcd_fault() is False)
n = [0]
def cp():
    n[0] += 1
    if pwm.duty_u16() == 65535:
        return zero + 9000 // gain
    return zero + (6000 // gain if n[0] % 4 == 0 else -12000 // gain)
machine.set_adc(pins["cp_adc"], cp)
ctl = Controller(p, {"free_vend": True})
def pin(name):
    return machine.pin_state(pins[name])["value"]
for i in range(30):
    machine.set_pin(pins["rcd"], pin("rcd_test"))
    machine.set_pin(pins["contactor_fb"], 0 if pin("contactor") else 1)
    ctl.step(1000 + 20 * i)
check("controller closes", ctl.contactor_closed and pin("contactor") == 1)
check("no fault", ctl.fault is None)
try:
    b.reset()
    check("reset", False)
except machine.MachineReset:
    check("reset", True)
print("DONE")
'''


@pytest.mark.parametrize("name", ["esp32", "rp2040"])
def test_driver_under_micropython(name, tmp_path):
    script = tmp_path / "drv.py"
    script.write_text(DRIVER_SCRIPT)
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", FAKE, ROOT, os.path.join(ROOT, "lib"),
                                   os.path.join(ROOT, "boards", name),
                                   os.path.join(ROOT, "boards", "common")])
    p = subprocess.run([MICROPYTHON, str(script), name, str(tmp_path / "d")], env=env,
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "DONE" in out, out
    assert "FAIL" not in out, out
    assert out.count("PASS") == 8, out


def test_readme_lists_the_board_options():
    # boards/README.md's table of the real boards' options is lib/boardopts.py:
    # the same names, and the same defaults ("per board" where a driver has its own).
    from boardopts import OPTIONS
    with open(os.path.join(ROOT, "boards", "README.md")) as f:
        text = f.read()
    rows = text.split("Real boards (`esp32`, `rp2040`)")[1].split("\n\n")[1].splitlines()[2:]
    shown = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = [n.strip(" `") for n in cells[0].split(",")]
        defaults = [d.strip(" `") for d in cells[1].split(",")] if "," in cells[1] \
            else [cells[1].strip(" `")] * len(names)
        for n, d in zip(names, defaults):
            shown[n] = d
    assert sorted(shown) == sorted(OPTIONS)
    for name, (_kind, _lo, _hi, default) in OPTIONS.items():
        want = "per board" if default is None else \
            ('"%s"' % default if isinstance(default, str) else str(default))
        assert shown[name] == want or (name == "pins" and default is None), (name, shown[name])


def test_rs485_bus(kind, tmp_path):
    # Without the option there is no bus, in one line; with it the board's
    # UART on its pins, 8 data bits, the parity asked, and DE low (receive).
    mod, b, pins = make(kind, tmp_path)
    with pytest.raises(ValueError) as e:
        b.modbus_uart(9600, "none")
    assert "rs485=True" in str(e.value)
    machine.clear()
    mod, b, pins = make(kind, tmp_path, rs485=True)
    u, de = b.modbus_uart(19200, "even")
    want = {"esp32": (2, 17, 16, 4), "rp2040": (1, 8, 9, 10)}[kind]
    assert (u.id, u.args["tx"], u.args["rx"]) == want[:3]
    assert u.args["baudrate"] == 19200 and u.args["bits"] == 8 and u.args["parity"] == 0
    assert u.args["rxbuf"] >= 256 and u.args["timeout"] == 0
    assert machine.pin_state(want[3])["mode"] == machine.Pin.OUT and de.value() == 0
    if kind == "rp2040":
        # The driver enable belongs to a PIO state machine on PIO1 at 1 MHz:
        # a put raises it at once and the program drops it that many
        # microseconds later, whatever the CPU does then.
        sm = rp2.machines[-1]
        assert (sm.id, sm.prog["name"], sm.freq, sm.out) == (4, "_de_timer", 1000000, 10)
        ins = sm.prog["ins"]
        assert ins.index(("pull", "block")) < ins.index(("set", "pins", 1)) \
            < ins.index(("jmp", "x_dec", "hold")) < ins.index(("set", "pins", 0))
        de.hold_us(9740)
        assert sm.puts == [9740] and de.value() == 1
        sm.elapse()
        assert de.value() == 0
    machine.clear()
    mod, b, pins = make(kind, tmp_path, rs485=True, rs485_uart=0)
    u, de = b.modbus_uart(9600, "none")
    assert u.id == 0 and u.args["parity"] is None
