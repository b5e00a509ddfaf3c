"""Modbus meters on the emulated RP2040 (tools/chip/): the board's own RS-485
bus (UART1, GP8/GP9, driver enable on GP10) driven by the firmware's Modbus
master, with an Eastron EV meter and grid meter answering on the line from the
host (boards/sim/mbsim.py's registers, the EV's energy from host.py's model).
Times are the chip's emulated milliseconds."""
import json

import pytest

from charger import Charger

CP = "cp-chip-mb"
BASE_KWH = 1234.5           # the EV meter's register before the session
SETS = ["meter_type=sdm630", "grid_meter_address=2", "main_fuse_a=0",
        "MeterValuesSampledData=Energy.Active.Import.Register,Current.Import",
        "MeterValueSampleInterval=1"]


def c1(st):
    return st["connectors"][0]


@pytest.fixture
def chip(tmp_path, csms):
    data = tmp_path / CP
    data.mkdir()
    # A meter that has counted before: only its register can give this meterStart.
    (data / "sim_meters.json").write_text(json.dumps([BASE_KWH]))
    ch = Charger("rp2040", csms.url, data, CP, 1, None, SETS)
    ch.probe = True
    yield ch.start()
    ch.stop()


def sampled(mvs):
    """[(measurand, phase, value)] of MeterValues payloads."""
    return [(sv.get("measurand", "Energy.Active.Import.Register"), sv.get("phase"),
             float(sv["value"]))
            for m in mvs for mv in m["meterValue"] for sv in mv["sampledValue"]]


def test_a_session_billed_from_a_modbus_meter_on_uart1(chip, csms):
    ch = chip
    # Both meters read once: until then the EV meter's energy is the saved
    # register (firmware/evse/mbmeter.py), which is 0 on a new charger.
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted" and c1(s)["cp"] == "A"
            and s["modbus"]["ok"] >= 2, timeout=60, what="online, pilot in A, meters read")
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="MBTAG")
    # Charging at 16 A as the EV meter measures it. The main fuse is set only
    # then: the EV meter's reading and the grid meter's are a frame apart
    # (170 ms at 9600 baud), so a pair taken across the EV's start
    # over-estimates the house for a moment, and the offer would rise again
    # only 10 s later (60 s of the host's time here).
    ch.wait(lambda s: c1(s)["offered_a"] == 16 and c1(s)["power_w"] > 10000, timeout=40,
            what="charging at 16 A, measured")
    assert ch.ctl("set", key="main_fuse_a", value="25")["ok"]
    ch.wait(lambda s: s["modbus"].get("grid_offer_a") == 25 and c1(s)["offered_a"] == 16,
            timeout=10, what="grid offer 25 A")
    start = csms.wait_message(cp_id=CP, action="StartTransaction")["payload"]
    assert abs(start["meterStart"] - BASE_KWH * 1000) <= 1, start

    def tx_values(recs):
        return [r["payload"] for r in recs if r["action"] == "MeterValues"
                and r["direction"] == "in" and "transactionId" in r["payload"]]

    def currents_near(amps):
        # The newest MeterValues of the transaction shows amps on each phase.
        def check(recs):
            got = tx_values(recs)
            cur = [v for m, ph, v in sampled(got[-1:]) if m == "Current.Import"]
            return got if len(cur) == 3 and all(abs(v - amps) < 0.5 for v in cur) else None
        return check

    # The house load steps up: 25 A - 14 A on L1 leaves 11 A for the EV.
    ans = ch.ctl("house_load", amps=[14, 2, 2])
    assert ans["ok"], ans
    st = ch.wait(lambda s: c1(s)["offered_a"] == 11, timeout=10, what="11 A offered")
    sim = c1(st)["sim"]
    took = sim["duty_ms"] - ans["emulated_ms"]
    print("offer lowered %d ms (emulated) after the house load rose" % took)
    assert 0 < took <= 2000, (took, sim)
    assert sim["duty_pct"] == 18.3 and abs(sim["ev_offered_a"] - 11) < 0.1, sim
    assert st["modbus"]["house_a"][0] >= 13.5, st["modbus"]
    bad = ch.ctl("house_load", amps=[1, 2])
    assert bad["ok"] is False and "three numbers" in bad["error"]
    # The EV follows the pilot, and its meter shows it on every phase.
    mvs = csms.wait_for(currents_near(11), timeout=120)
    vals = sampled(mvs)
    assert {ph for m, ph, v in vals if m == "Current.Import"} == {"L1", "L2", "L3"}
    energy = [v for m, ph, v in vals if m == "Energy.Active.Import.Register"]
    assert energy == sorted(energy) and energy[0] >= BASE_KWH * 1000, energy

    stats = ch.ctl("stats")
    ch.ctl("rfid", tag="MBTAG")
    st = ch.wait(lambda s: c1(s)["transaction_id"] is None and not c1(s)["contactor"],
                 timeout=20, what="stopped")
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    sim = c1(st)["sim"]
    # meterStop is the register as the meter answered it at the last reading
    # before the stop (the Wh it has counted, float32 rounding aside) ...
    answered = sim["rs485"]["ev_register_wh"]
    assert any(0 <= r - stop["meterStop"] < 1 for r in answered), (stop, answered)
    # ... and the register once the contactor opened is ahead of it by what
    # flowed since that reading (at most one 500 ms poll at 7.6 kW).
    register_wh = BASE_KWH * 1000 + sim["meter_wh"]
    assert 0 <= register_wh - stop["meterStop"] < 2.5, (stop, sim)
    print("meterStop %d Wh, register at the contactor's opening %.3f Wh"
          % (stop["meterStop"], register_wh))
    assert stop["meterStop"] - start["meterStart"] > 0
    # Every byte went out with the driver enabled, and the driver was released
    # before each answer came: no byte lost either way.
    bus = sim["rs485"]
    assert bus["requests"] > 10 and bus["de_low"] == 0 and bus["rx_while_de"] == 0, bus
    mb = st["modbus"]
    assert mb["errors"]["timeout"] == 0 and mb["errors"]["crc"] == 0, mb
    clock = stats.get("chip_clock") or {}
    print("emulated %s ms in %s ms of host time" % (clock.get("ms"), clock.get("host")))
    print("chip with Modbus: stall_max_ms %s, stall_p99_ms %s, mem_free_min %s, "
          "requests %d, busy %s" % (stats.get("stall_max_ms"), stats.get("stall_p99_ms"),
                                    stats.get("mem_free_min"), bus["requests"],
                                    (stats.get("chip_clock") or {}).get("busy")))
