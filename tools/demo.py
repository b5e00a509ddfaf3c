#!/usr/bin/env python3
"""`make run`: the bundled central system and a simulated charger on MicroPython,
talking OCPP 1.6J over 127.0.0.1, narrated live.

    python tools/demo.py [--runtime micropython|cpython|twin|rp2040] [--interactive] [--no-mqtt]
                         [--seconds N]

The scripted demo boots the charger and plays one charging session: plug, tag,
charge with meter values, a current limit from the central system that the
power follows, stop by tag, unplug, then prints a summary. --interactive keeps both
running and reads commands: status, plug, unplug, ev B|C|D, rfid TAG, net up|down,
fault rcd|short|diode|weld on|off, call Action {json}, update [VERSION], quit.
`update` makes a release bundle of this tree for the simulated board
(tools/release.py, version 0.2.1 unless named), serves it over HTTP on
127.0.0.1 (tools/fileserver.py) and sends UpdateFirmware: the charger
downloads it, restarts into it on trial and confirms it. With mosquitto
installed, --interactive also starts a local broker, points the charger at it
and adds "mqtt" (every topic the charger published, with its last value) and
"mqtt set NAME VALUE" (a command: current_a, pause, phases). --no-mqtt leaves
the broker out.
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
import sim  # noqa: E402  # noqa: E402

CP_ID = "demo-1"
_print_lock = threading.Lock()


def say(who, text):
    with _print_lock:
        print("%-8s| %s" % (who, text), flush=True)


class _CsmsLog(logging.Handler):
    def emit(self, record):
        msg = record.getMessage()
        # "[id] cp->cs CALL Action #uid [frame]": keep the direction, the action
        # and the start of the payload, so a line stays a line.
        i = msg.find(" #")
        if i > 0:
            j = msg.find(" ", i + 2)
            frame = msg[j + 1:] if j > 0 else ""
            try:
                frame = json.dumps(json.loads(frame)[-1], separators=(",", ":"))
            except (ValueError, IndexError, TypeError, KeyError):
                pass
            msg = msg[:i] + ("  " + frame[:100] + ("..." if len(frame) > 100 else "") if frame else "")
        say("csms", msg)


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


def _conn(ch):
    return ch.status()["connectors"][0]


def scripted(ch, srv, seconds):
    say("demo", "waiting for the charger to boot")
    ch.wait(lambda s: s["boot"] == "Accepted", timeout=20, what="boot")
    srv.wait_message(cp_id=CP_ID, action="StatusNotification", timeout=10)
    srv.call(CP_ID, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "2"})
    srv.call(CP_ID, "ChangeConfiguration", {"key": "MeterValuesSampledData", "value":
             "Energy.Active.Import.Register,Power.Active.Import,Current.Offered"})
    say("demo", "the driver plugs in the car; the car is ready to charge (state C)")
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.wait(lambda s: s["connectors"][0]["status"] == "Preparing", what="Preparing")
    say("demo", "the driver presents tag DEMO-TAG")
    ch.ctl("rfid", tag="DEMO-TAG")
    ch.wait(lambda s: s["connectors"][0]["status"] == "Charging", what="Charging")
    c = _conn(ch)
    say("demo", "charging: %s A offered, contactor %s, %d W" % (
        c["offered_a"], "closed" if c["contactor"] else "open", c["power_w"]))
    t0 = time.time()
    limited = False
    while time.time() - t0 < seconds:
        time.sleep(2)
        c = _conn(ch)
        say("demo", "meter %.0f Wh, %d W, %s A offered, car battery %.1f %%" % (
            c["energy_wh"], c["power_w"], c["offered_a"], c["sim"]["battery_pct"]))
        if not limited and time.time() - t0 > seconds / 2:
            limited = True
            say("demo", "the central system limits the charger to 8 A (a TxDefaultProfile)")
            ans = srv.call(CP_ID, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": {
                "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative", "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}})
            say("demo", "SetChargingProfile answered %s" % ans["status"])
    say("demo", "the driver presents the tag again to stop")
    ch.ctl("rfid", tag="DEMO-TAG")
    ch.wait(lambda s: s["connectors"][0]["transaction_id"] is None, what="stopped")
    stop = srv.wait_message(cp_id=CP_ID, action="StopTransaction", timeout=10)["payload"]
    start = srv.messages(cp_id=CP_ID, action="StartTransaction", direction="in",
                         message_type="CALL")[-1]["payload"]
    ch.ctl("unplug", connector=1)
    ch.wait(lambda s: s["connectors"][0]["status"] == "Available", what="Available")
    say("demo", "session: transaction %d, %d Wh (meter %d -> %d), reason %s" % (
        stop["transactionId"], stop["meterStop"] - start["meterStart"], start["meterStart"],
        stop["meterStop"], stop["reason"]))


def _update(ch, srv, version, files):
    import release
    from fileserver import FileServer
    if not files:
        files.append(FileServer(tempfile.mkdtemp(prefix="evse-bundles-")).start())
    fs = files[0]
    path = release.release("sim", version, source=ch.runtime == "cpython", out_dir=fs.folder)
    url = fs.url + "/" + os.path.basename(path)
    say("demo", "bundle %s (%d bytes) served at %s" % (os.path.basename(path),
                                                       os.path.getsize(path), url))
    return srv.call(CP_ID, "UpdateFirmware", {"location": url,
                                              "retrieveDate": "2020-01-01T00:00:00Z"})


def _mqtt(watcher, w):
    # "mqtt": the topics and their last values; "mqtt set NAME VALUE": a command.
    if watcher is None:
        return {"ok": False, "error": "no broker: install mosquitto (apt-get install mosquitto)"}
    prefix = "evse/" + CP_ID
    if len(w) > 1:
        name, _, value = w[1].partition(" ")
        if name != "set" or " " not in value.strip():
            return {"ok": False, "error": "mqtt set NAME VALUE, e.g. mqtt set current_a 10"}
        n, v = value.strip().split(None, 1)
        watcher.publish("%s/set/%s" % (prefix, n), v.strip())
        return {"ok": True, "published": "%s/set/%s" % (prefix, n)}
    with watcher.lock:
        last = dict(watcher.last)
    for t in sorted(last):
        v = last[t].decode("utf-8", "replace")
        say("mqtt", "%s = %s" % (t, v if len(v) <= 100 else v[:100] + "..."))
    return {"ok": True, "topics": len(last)}


def interactive(ch, srv, watcher=None):
    say("demo", "commands: status, plug, unplug, ev B|C|D, rfid TAG, net up|down, "
        "fault KIND on|off, call Action {json}, update [VERSION], %squit" % (
            "mqtt, mqtt set NAME VALUE, " if watcher is not None else ""))
    files = []
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
            elif cmd == "update":
                ans = _update(ch, srv, w[1].strip() if len(w) > 1 else "0.2.1", files)
            elif cmd == "mqtt":
                ans = _mqtt(watcher, line.split(None, 1))
            else:
                ans = {"ok": False, "error": "unknown command %s" % cmd}
        except Exception as e:
            ans = {"ok": False, "error": str(e)}
        say("demo", json.dumps(ans))
    for fs in files:
        fs.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runtime", default="micropython", choices=sim.RUNTIMES,
                    help="rp2040: the emulated chip; twin: the 32-bit unix port, frozen")
    ap.add_argument("--interactive", action="store_true")
    ap.add_argument("--no-mqtt", action="store_true",
                    help="--interactive without the local MQTT broker")
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
    broker = watcher = None
    sets = []
    if a.interactive and not a.no_mqtt:
        from broker import Broker, BrokerError
        try:
            broker = Broker().start()
            watcher = broker.watch("#")
            sets = ["mqtt_url=" + broker.url]
        except BrokerError as e:
            say("demo", "no MQTT: %s" % e)
    ch = Charger(a.runtime, srv.url, os.path.join(data, CP_ID), CP_ID, sets=sets)
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(ch.logfile, stop), daemon=True)
    t0 = time.time()
    rc = 0
    try:
        ch.start()
        follower.start()
        say("demo", "charger %s on %s, central system %s%s" % (
            CP_ID, a.runtime, srv.url, ", MQTT broker " + broker.url if broker else ""))
        if a.interactive:
            interactive(ch, srv, watcher)
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
        if broker is not None:
            broker.close()
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
