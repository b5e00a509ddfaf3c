"""boards/sim: the simulated board, its EV, meter and injected faults."""
import importlib.util
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "boards", "sim")
for _p in (ROOT, os.path.join(ROOT, "lib"), SIM):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import ev as sim_ev  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
_spec = importlib.util.spec_from_file_location("sim_board", os.path.join(SIM, "board.py"))
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)


def board(tmp_path, **opts):
    opts.setdefault("data_dir", str(tmp_path / "data"))
    return sim.Board(opts)


def test_interface_basics(tmp_path):
    b = board(tmp_path)
    assert b.name == "sim" and len(b.vendor) <= 20 and len(b.model) <= 20
    assert os.path.isdir(b.data_dir) and b.connectors == 1 and b.rx_buf == 8192
    uid = b.unique_id()
    int(uid, 16)
    assert uid == board(tmp_path).unique_id(), "stable for the same data_dir"
    assert uid != sim.Board({"data_dir": str(tmp_path / "other")}).unique_id()
    for n in (0, 2, "1"):
        with pytest.raises(ValueError):
            b.port(n)
    b.led("charging")
    assert b.led_state == "charging"
    b.wdt_start(8000)
    b.wdt_feed()
    assert b.wdt_timeout_ms == 8000 and b.wdt_fed_ms is not None
    with pytest.raises(SystemExit) as e:
        b.reset()
    assert e.value.code == 3


def test_reset_exits_with_code_3_under_micropython(tmp_path):
    script = tmp_path / "r.py"
    script.write_text("import board\nb = board.Board({'data_dir': %r})\nb.reset()\n"
                      % str(tmp_path / "d"))
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", ROOT, os.path.join(ROOT, "lib"), SIM])
    p = subprocess.run([MICROPYTHON, str(script)], env=env, capture_output=True, timeout=30)
    assert p.returncode == 3, p.stderr


def test_ev_shows_its_request_only_with_an_offer(tmp_path):
    b = board(tmp_path)
    p = b.port(1)
    assert p.read_pilot() == (12000, 12000)
    b.plug(1)
    assert p.read_pilot() == (9000, 9000)
    b.ev_state(1, "C")
    assert p.read_pilot()[0] == 9000, "no PWM: the EV waits in B"
    p.pilot_pwm(100)
    assert p.read_pilot() == (6000, -12000)
    p.pilot_pwm(79)
    assert p.read_pilot()[0] == 9000, "below 8 % there is no offer"
    p.pilot_pwm(266)
    b.ev_state(1, "D")
    assert p.read_pilot() == (3000, -12000)
    p.pilot_low()
    assert p.read_pilot() == (-12000, -12000)
    b.unplug(1)
    p.pilot_pwm(266)
    assert p.read_pilot() == (12000, -12000)


@pytest.mark.parametrize("duty,amps", [(0, 0), (79, 0), (80, 6), (99, 6), (100, 6),
                                       (266, 15.96), (850, 51), (851, 52.75),
                                       (960, 80), (970, 80), (971, 0)])
def test_ev_decodes_the_duty_like_a_car(duty, amps):
    assert abs(sim_ev.amps_from_duty(duty) - amps) < 1e-9


def test_power_is_min_of_offer_and_ev_max_only_with_contactor_closed(tmp_path):
    b = board(tmp_path, voltage=230, phases=3)
    p = b.port(1)
    b.plug(1)
    b.ev_state(1, "C")
    p.pilot_pwm(266)
    assert b.sim_status(1)["ev_power_w"] == 0
    p.contactor(True)
    assert abs(b.sim_status(1)["ev_power_w"] - 15.96 * 690) < 1e-6
    b.ev_max_a(1, 10)
    assert b.sim_status(1)["ev_power_w"] == 10 * 690
    p.pilot_pwm(80)
    assert b.sim_status(1)["ev_power_w"] == 6 * 690
    p.pilot_high()
    st = b.sim_status(1)
    assert st["ev_power_w"] == 0 and st["ev_state"] == "B", "pauses in B without an offer"
    b2 = board(tmp_path, voltage=120, phases=1)
    b2.plug(1)
    b2.ev_state(1, "C")
    b2.port(1).pilot_pwm(266)
    b2.port(1).contactor(True)
    assert abs(b2.sim_status(1)["ev_power_w"] - 15.96 * 120) < 1e-6


def test_energy_integrates_in_real_time_into_meter_pulses_and_battery(tmp_path):
    b = board(tmp_path, imp_per_kwh=10000)
    p = b.port(1)
    b.plug(1)
    b.ev_state(1, "C")
    p.pilot_pwm(533)
    p.contactor(True)
    w = b.sim_status(1)["ev_power_w"]
    bat0 = b.sim_status(1)["battery_wh"]
    t0 = time.monotonic()
    time.sleep(0.5)
    n = p.pulses()
    dt = time.monotonic() - t0
    st = b.sim_status(1)
    expect_wh = w * dt / 3600
    assert abs(st["meter_wh"] - expect_wh) < expect_wh * 0.1
    assert st["meter_pulses"] == int(st["meter_wh"] * 10 + 1e-9)
    assert n > 0 and 0 <= st["meter_pulses"] - n <= 2
    assert st["battery_wh"] - bat0 == pytest.approx(st["meter_wh"], abs=0.2)
    p.contactor(False)
    e = b.sim_status(1)["meter_wh"]
    time.sleep(0.1)
    assert b.sim_status(1)["meter_wh"] == e, "nothing flows with the contactor open"


def test_full_battery_goes_to_b(tmp_path):
    b = board(tmp_path, battery_wh=10, soc=0.99)
    p = b.port(1)
    b.plug(1)
    b.ev_state(1, "C")
    p.pilot_pwm(533)
    p.contactor(True)
    time.sleep(0.05)
    st = b.sim_status(1)
    assert st["ev_state"] == "B" and st["ev_power_w"] == 0
    assert st["battery_pct"] == 100 and abs(st["meter_wh"] - 0.1) < 1e-6


def test_injected_faults(tmp_path):
    b = board(tmp_path)
    p = b.port(1)
    b.plug(1)
    b.ev_state(1, "C")
    p.pilot_pwm(266)
    b.fault(1, "diode", True)
    hi, lo = p.read_pilot()
    assert hi == 6000 and lo > -11000
    b.fault(1, "diode", False)
    b.fault(1, "short", True)
    assert p.read_pilot() == (0, 0) and b.sim_status(1)["ev_state"] == "E"
    b.fault(1, "short", False)
    assert not p.rcd_fault()
    b.fault(1, "rcd", True)
    assert p.rcd_fault()
    b.fault(1, "rcd", False)
    p.rcd_test(True)
    assert p.rcd_fault(), "the test input trips the simulated monitor"
    p.rcd_test(False)
    assert p.contactor_feedback() is False
    b.fault(1, "weld", True)
    assert p.contactor_feedback() is True and b.sim_status(1)["contactor_physical"]
    assert b.sim_status(1)["ev_power_w"] > 0, "a welded contactor still conducts"
    assert b.sim_status(1)["sim_faults"] == ["weld"]
    with pytest.raises(ValueError):
        b.fault(1, "fire", True)
    with pytest.raises(ValueError):
        b.ev_state(1, "A")
    with pytest.raises(ValueError):
        b.ev_max_a(1, -1)
    with pytest.raises(ValueError):
        b.plug(2)


def test_status_keys_do_not_collide_with_the_controllers(tmp_path):
    st = board(tmp_path).sim_status(1)
    for k in ("plugged", "ev_request", "ev_state", "ev_max_a", "ev_offered_a", "battery_pct",
              "ev_power_w", "meter_pulses", "meter_wh", "contactor_physical", "sim_faults"):
        assert k in st, k
    for k in ("cp", "offered_a", "contactor", "energy_wh", "power_w", "fault"):
        assert k not in st, k


def test_connectors_are_independent(tmp_path):
    b = board(tmp_path, connectors=2)
    b.plug(2)
    assert b.sim_status(1)["plugged"] is False and b.sim_status(2)["plugged"] is True
    b.fault(1, "rcd", True)
    assert b.port(1).rcd_fault() and not b.port(2).rcd_fault()


def test_options_pp_lock_feedback_and_request(tmp_path):
    b = board(tmp_path, pp_ohm=220, lock=True, feedback=False, rcd_test=False,
              ev_request="C", imp_per_kwh=500)
    p = b.port(1)
    assert p.read_pp() == 3300 * 220 // 1220 and p.imp_per_kwh == 500
    assert p.has_lock and p.lock(True) is True and b.sim_status(1)["locked"]
    assert p.contactor_feedback() is None and not p.has_rcd_test
    b.plug(1)
    p.pilot_pwm(266)
    assert p.read_pilot()[0] == 6000, "a plugged EV asks for C at once"
    assert board(tmp_path).port(1).read_pp() is None
    assert board(tmp_path).port(1).lock(True) is None
