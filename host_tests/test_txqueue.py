import os

import pytest

from mprun import cases, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "txqueue_check.py")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_transaction_queue(runtime, tmp_path):
    passed, failed, out = cases(runtime, SCRIPT, str(tmp_path), timeout=120)
    assert not failed, "\n".join(failed)
    assert len(passed) >= 20, out
