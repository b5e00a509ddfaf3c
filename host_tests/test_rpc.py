import os
import pytest
from mprun import cases, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "rpc_check.py")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rpc_error_paths_and_calls(runtime):
    passed, failed, out = cases(runtime, SCRIPT)
    assert not failed, "\n".join(failed)
    assert len(passed) >= 20, out
