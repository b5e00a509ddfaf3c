#!/usr/bin/env python3
"""The figures of security profile 3 on the MicroPython unix port, modules as
.mpy (as tools/bench.py measures the heap):

    python tools/bench_sp3.py [--out build/bench_sp3.json] [--step 8] [--runtime twin]

--runtime twin measures the same on the 32-bit twin (the firmware frozen in,
its own mbedtls), the figure that stands for a board.

1. One enrolment with the event-loop probe on (tools/sim.py --probe): the
   charger in profile 2 is asked for a certificate (ExtendedTriggerMessage),
   makes its P-256 key and request, installs the chain from CertificateSigned
   and is raised to profile 3; the longest event-loop stall before and after,
   and the time from the trigger to the request.
2. The smallest -X heapsize (KB, by bisection) at which the charger, with that
   certificate on flash, comes online in profile 3, and the same data with
   --set SecurityProfile=2 (the password, no client certificate): the
   difference is what the client certificate costs; and a ws:// link without
   TLS (profile 0), which shows what TLS itself costs.
3. The smallest heap at which the whole enrolment passes.
The certificates come from openssl (host_tests/crypto_pki.profile3).
"""
import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
sys.path.insert(0, HERE)

import bench_heap  # noqa: E402
import crypto_pki  # noqa: E402
import sim  # noqa: E402
from centralsys import central_system  # noqa: E402
from charger import Charger  # noqa: E402

CP = "cp-bench"
KEY = "AuthKey-0123456789-xyz"
CPO = "Bench CPO"


RUNTIME = "micropython"


class MpyCharger(Charger):
    """A simulated charger on the MicroPython unix port from .mpy files, or on
    the twin (RUNTIME "twin") from its frozen modules."""

    def __init__(self, url, data, mpy_dir, heap=None, probe=False, sets=()):
        Charger.__init__(self, RUNTIME, url, data, CP, 1, heap, sets)
        self.mpy_dir = mpy_dir if RUNTIME == "micropython" else None
        self.probe = probe

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        cmd, env = sim.command(RUNTIME, self.data_dir, self.csms_url, self.ident, 1,
                               self.port, self.heap, self.probe, self.mpy_dir, self.sets)
        self._out = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=sim.workdir(RUNTIME))
        return self


def server_ctx(k):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(k.path("srv.pem"), k.path("srv.key"))
    ctx.load_verify_locations(k.path("clients.pem"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def online(ch, timeout=30):
    return ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout, "online")


def enrol(srv, k, ch, name):
    """Trigger, sign, install, raise to 3; seconds from the trigger to the CSR."""
    mark = srv.mark()
    t0 = time.time()
    assert srv.call(CP, "ExtendedTriggerMessage",
                    {"requestedMessage": "SignChargePointCertificate"})["status"] == "Accepted"
    csr = srv.wait_message(cp_id=CP, action="SignCertificate", after=mark, timeout=60)
    t_csr = time.time() - t0
    path = k.path(name + ".csr")
    with open(path, "w") as f:
        f.write(csr["payload"]["csr"])
    k.issue(name, None, "cpo", ext=crypto_pki.LEAF_EXT, days=30, csr=path)
    with open(k.path(name + ".pem")) as a, open(k.path("cpo.pem")) as b:
        chain = a.read() + b.read()
    t1 = time.time()
    assert srv.call(CP, "CertificateSigned", {"certificateChain": chain},
                    timeout=60)["status"] == "Accepted"
    t_install = time.time() - t1
    n = len([e for e in srv.events if e["cp_id"] == CP and e["event"] == "connected"])
    assert srv.call(CP, "ChangeConfiguration",
                    {"key": "SecurityProfile", "value": "3"})["status"] == "Accepted"
    srv.wait_for(lambda _r: [e for e in srv.events if e["cp_id"] == CP and e["event"] ==
                             "connected"][n:] and [e for e in srv.events if e.get("client_cert")
                                                   and e["cp_id"] == CP], timeout=60)
    online(ch)
    return t_csr, t_install


def run_once(k, mpy_dir, data, heap, sets, scenario, seconds=25):
    """({"ok": ...}) of one start at `heap` KB; scenario "plain": ws://, no TLS."""
    t0 = time.time()
    res = {"ok": False, "error": None}
    with central_system(ssl_context=None if scenario == "plain" else server_ctx(k)) as srv:
        if scenario != "plain":
            srv.passwords[CP] = KEY
        ch = MpyCharger(srv.url, data, mpy_dir, heap, sets=sets)
        try:
            ch.start()
            online(ch, seconds)
            if scenario == "enrol":
                enrol(srv, k, ch, "h%d" % heap)
            res["ok"] = True
        except Exception as e:  # noqa: B902 - a failure is a data point
            res["error"] = str(e).splitlines()[0][:200]
        finally:
            log = ch.log()
            ch.stop()
    mem = [line for line in log.splitlines() if "MemoryError" in line or "memory" in line]
    res["first_memory_error"] = mem[0][:200] if mem else None
    res["seconds"] = time.time() - t0
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench_sp3.json"))
    ap.add_argument("--step", type=int, default=8, help="bisection step in KB")
    ap.add_argument("--no-enrolment", action="store_true", help="skip bisection 3")
    ap.add_argument("--runtime", default="micropython", choices=("micropython", "twin"))
    a = ap.parse_args()
    global RUNTIME
    RUNTIME = a.runtime
    if RUNTIME == "twin":
        sim.prepare("twin", say=lambda s: print("bench: " + s.strip(), flush=True))
    tmp = tempfile.mkdtemp(prefix="sp3")
    out = {}
    try:
        os.makedirs(os.path.join(tmp, "k"))
        k = crypto_pki.profile3(crypto_pki.Pki(os.path.join(tmp, "k")), CPO)
        mpy_dir = bench_heap.build_tree(os.path.join(tmp, "mpy"))
        base = os.path.join(tmp, "base")
        sets = ["ca_cert_file=" + k.path("ca.pem"), "AuthorizationKey=" + KEY,
                "SecurityProfile=2", "CpoName=" + CPO]
        # 1. The enrolment with the probe on.
        with central_system(ssl_context=server_ctx(k)) as srv:
            srv.passwords[CP] = KEY
            ch = MpyCharger(srv.url, base, mpy_dir, probe=True, sets=sets)
            ch.start()
            online(ch)
            time.sleep(2)
            before = ch.ctl("stats")
            t_csr, t_install = enrol(srv, k, ch, "first")
            time.sleep(1)
            after = ch.ctl("stats")
            ch.stop()
        out["enrolment"] = {"trigger_to_csr_s": round(t_csr, 3),
                            "certificate_signed_answer_s": round(t_install, 3),
                            "stall_max_ms_before": before.get("stall_max_ms"),
                            "stall_max_ms_after": after.get("stall_max_ms"),
                            "stall_p99_ms": after.get("stall_p99_ms"),
                            "mem_peak": after.get("mem_peak")}
        print("enrolment:", out["enrolment"], flush=True)

        # 2. and 3. Bisections, each start from a copy of the enrolled data.
        def bisect(name, sets, scenario, src):
            def once(kb):
                data = os.path.join(tmp, "%s%d" % (name, kb))
                shutil.copytree(src, data)
                return run_once(k, mpy_dir, data, kb, sets, scenario)
            kb, steps = bench_heap.bisect_heap(once, 32 if RUNTIME == "twin" else 64, 512, a.step,
                                               log=print)
            out[name] = {"heapsize_kb": kb, "steps": steps}
            print("%s: %s KB" % (name, kb), flush=True)

        fresh = os.path.join(tmp, "fresh")
        os.makedirs(fresh)
        bisect("profile3_connect", [], "connect", base)
        bisect("profile2_connect", ["SecurityProfile=2"], "connect", base)
        bisect("profile0_connect", ["SecurityProfile=0"], "plain", fresh)
        if not a.no_enrolment:
            bisect("enrolment_heap", sets, "enrol", fresh)
    finally:
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
        shutil.rmtree(tmp, ignore_errors=True)
    print("written to", a.out)


if __name__ == "__main__":
    main()
