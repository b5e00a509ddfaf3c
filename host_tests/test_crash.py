"""Power cuts at random moments while charging, on MicroPython: nothing the
central system did not acknowledge is lost, and what it did is sent again only
when the cut fell between its answer and the record of it on flash."""
import os

from crash import run, run_exact


def test_fifty_power_cuts(tmp_path):
    report = run(int(os.environ.get("CRASH_CUTS", "50")), str(tmp_path), seed=1234)
    print(report)
    assert report["transactions"] >= 20
    assert report["power_loss_stops"] >= 5


def test_power_cuts_with_resume_after_power_loss(tmp_path):
    # The EV stays plugged in through most cuts and the transaction goes on:
    # still exactly one stop each, no reading going back, energy within bound.
    report = run(int(os.environ.get("CRASH_CUTS_RESUME", "25")), str(tmp_path), seed=4321,
                 resume=True)
    print(report)
    assert report["resumed"] >= 5 and report["transactions"] >= 5


def test_power_cuts_with_a_modbus_meter(tmp_path):
    # The simulated SDM630 keeps its register through the cuts: each
    # PowerLoss meterStop is the meter's own reading at the cut, to the Wh,
    # not the energy register's last save (up to 100 Wh behind with S0).
    pairs, report = run_exact(int(os.environ.get("CRASH_CUTS_MODBUS", "5")), str(tmp_path),
                              seed=77)
    print(pairs, report)
    assert len(pairs) == 5 and report["power_loss_stops"] == 5
    for stop, reg in pairs:
        assert int(reg) - 1 <= stop <= reg, (stop, reg)
