"""tools/crypto_bench.py cannot rot: its smoke version times every operation on
both runtimes, runs every heap scenario on MicroPython and sizes every
module's .mpy."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import crypto_bench  # noqa: E402
from crypto_pki import need_openssl  # noqa: E402


def test_smoke_measures_every_figure(tmp_path):
    need_openssl()
    out = tmp_path / "crypto_bench.json"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "crypto_bench.py"), "--smoke",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    r = json.loads(out.read_text())
    for runtime in ("cpython", "micropython"):
        missing = [k for k, _ in crypto_bench.ROWS if not r["timings_ms"][runtime].get(k)]
        assert not missing, (runtime, missing)
    assert r["timings_ms"]["micropython"]["rsa_keygen_in_pow"]["median"] > 0
    for sc in crypto_bench.SCENARIOS:
        assert r["heap_kb"]["micropython"][sc], sc
        assert "imports" in r["heap_bytes"]["micropython"][sc], sc
    assert sorted(r["mpy_bytes"]) == sorted(crypto_bench.MODULES + ["compat"])
    assert "RSA-2048 key generation" in p.stdout
