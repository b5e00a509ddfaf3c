"""Power cuts at random moments while charging, on MicroPython: nothing the
central system did not acknowledge is lost, and what it did is sent again only
when the cut fell between its answer and the record of it on flash."""
import os

from crash import run


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
