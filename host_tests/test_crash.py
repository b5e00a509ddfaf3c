"""Power cuts at random moments while charging, on MicroPython: nothing the
central system acknowledged is sent again, nothing it did not is lost."""
import os

from crash import run


def test_fifty_power_cuts(tmp_path):
    report = run(int(os.environ.get("CRASH_CUTS", "50")), str(tmp_path), seed=1234)
    print(report)
    assert report["transactions"] >= 20
    assert report["power_loss_stops"] >= 5
