import os
import pytest
from mprun import cases, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "rpc_check.py")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rpc_error_paths_and_calls(runtime, tmp_path):
    passed, failed, out = cases(runtime, SCRIPT, str(tmp_path))
    assert not failed, "\n".join(failed)
    assert len(passed) >= 20, out
