#!/usr/bin/env python3
"""`make run`: the bundled central system and a simulated charger on MicroPython,
talking OCPP 1.6J over 127.0.0.1, narrated live.

    python tools/demo.py [--runtime micropython|cpython] [--interactive] [--seconds N]

The scripted demo boots the charger, shows its status and heartbeats, drops and
restores the network link, then prints a summary. --interactive keeps both
running and reads commands: status, plug, unplug, ev B|C|D, rfid TAG, net up|down,
fault rcd|short|diode|weld on|off, call Action {json}, quit.
"""
import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "host_tests"))

from csms import CentralSystem  # noqa: E402
from charger import Charger  # noqa: E402

CP_ID = "demo-1"
_print_lock = threading.Lock()


def say(who, text):
    with _print_lock:
        print("%-8s| %s" % (who, text), flush=True)


class _CsmsLog(logging.Handler):
    def emit(self, record):
        say("csms", record.getMessage())


def _follow(path, stop):
    # Print the charger's own log lines as they are written.
    pos = 0
    while not stop.is_set():
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
        except OSError:
            chunk = b""
        for line in chunk.decode("utf-8", "replace").splitlines():
            if line.strip():
                say("charger", line)
        time.sleep(0.1)


def scripted(ch, srv, seconds):
    say("demo", "waiting for the charger to boot")
    ch.wait(lambda s: s["boot"] == "Accepted", timeout=20, what="boot")
    srv.wait_message(cp_id=CP_ID, action="StatusNotification", timeout=10)
    st = ch.status()
    say("demo", "charger online, connectors: %s" % ", ".join(
        "%d %s" % (c["id"], c["status"]) for c in st["connectors"]))
    time.sleep(min(seconds, 5))
    say("demo", "the central system sends a DataTransfer for a vendor the charger does not know")
    ans = srv.call(CP_ID, "DataTransfer", {"vendorId": "demo.example"})
    say("demo", "DataTransfer to an unknown vendor answered %s" % ans["status"])
    say("demo", "cutting the network link for 3 s")
    ch.ctl("net", up=False)
    time.sleep(3)
    ch.ctl("net", up=True)
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", timeout=30, what="reconnect")
    say("demo", "back online")
    time.sleep(max(0, seconds - 8))


def interactive(ch, srv):
    say("demo", "commands: status, plug, unplug, ev B|C|D, rfid TAG, net up|down, "
        "fault KIND on|off, call Action {json}, quit")
    for line in sys.stdin:
        w = line.split(None, 2)
        if not w:
            continue
        cmd = w[0]
        try:
            if cmd == "quit":
                break
            elif cmd == "status":
                ans = ch.ctl("status")
            elif cmd in ("plug", "unplug"):
                ans = ch.ctl(cmd, connector=1)
            elif cmd == "ev":
                ans = ch.ctl("ev", connector=1, state=w[1].upper())
            elif cmd == "rfid":
                ans = ch.ctl("rfid", tag=w[1])
            elif cmd == "net":
                ans = ch.ctl("net", up=w[1] == "up")
            elif cmd == "fault":
                ans = ch.ctl("fault", connector=1, kind=w[1], on=w[2].strip() == "on")
            elif cmd == "call":
                ans = srv.call(CP_ID, w[1], json.loads(w[2]) if len(w) > 2 else {})
            else:
                ans = {"ok": False, "error": "unknown command %s" % cmd}
        except Exception as e:
            ans = {"ok": False, "error": str(e)}
        say("demo", json.dumps(ans))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtime", default="micropython", choices=("micropython", "cpython"))
    ap.add_argument("--interactive", action="store_true")
    ap.add_argument("--seconds", type=int, default=12, help="length of the scripted demo")
    a = ap.parse_args(argv)

    handler = _CsmsLog()
    lg = logging.getLogger("csms")
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    lg.propagate = False

    srv = CentralSystem(port=0)
    srv.heartbeat_interval = 5
    srv.start()
    data = tempfile.mkdtemp(prefix="evse-demo-")
    ch = Charger(a.runtime, srv.url, os.path.join(data, CP_ID), CP_ID)
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(ch.logfile, stop), daemon=True)
    t0 = time.time()
    rc = 0
    try:
        ch.start()
        follower.start()
        say("demo", "charger %s on %s, central system %s" % (CP_ID, a.runtime, srv.url))
        if a.interactive:
            interactive(ch, srv)
        else:
            scripted(ch, srv, a.seconds)
    except KeyboardInterrupt:
        say("demo", "interrupted")
    except Exception as e:
        say("demo", "failed: %s" % e)
        rc = 1
    finally:
        ch.stop()
        time.sleep(0.2)
        stop.set()
        msgs = srv.messages(cp_id=CP_ID)
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    calls = [m for m in msgs if m["direction"] == "in" and m["message_type"] == "CALL"]
    kinds = {}
    for m in calls:
        kinds[m["action"]] = kinds.get(m["action"], 0) + 1
    say("summary", "%.1f s, %d frames, charger sent %s" % (
        time.time() - t0, len(msgs), ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items()))))
    return rc


if __name__ == "__main__":
    sys.exit(main())
