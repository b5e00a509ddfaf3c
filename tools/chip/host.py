#!/usr/bin/env python3
"""The host side of the emulated chip: starts tools/chip/emu.js (the RP2040
running the firmware image), plays the EV on its pins, and offers the same
JSON-lines control channel as the simulated board (README, "Control channel").

    python tools/chip/host.py --image firmware.bin --data DIR [--csms URL] [--id ID]
                              [--control PORT] [--set key=value ...] [--probe] [--ev B|C]
                              [--board option=json ...] [--flash-timing typical|none]

tools/sim.py --runtime rp2040 builds the image and starts this. DIR/flash.bin
is the chip's flash (the littlefs region), kept between runs. The EV, the
contactor's mechanics and the meter are modelled here, in emulated time, from
the pin events emu.js reports: the PWM duty on the pilot, the contactor coil,
the lock. Commands that are the firmware's (status, stats, rfid, net) go to
the chip over a connection it dials to this process through its network
bridge; the others (plug, unplug, ev, ev_max_a, fault, power_cut, house_load,
meter) act on the EV, the pins and the RS-485 bus here.

The RS-485 bus: with --set meter_type=sdm630 (or sdm120) and/or
--set grid_meter_address=N, this process answers the chip's Modbus requests
as the simulated board's meters do (boards/sim/mbsim.py's registers): the EV
meter measures what the EV below draws, in emulated time; emu.js puts the
answer on the chip's UART1 at the line's pace.

Exit status: that of the chip (137 after a power cut), and a commanded reset
(the watchdog) restarts it on the same flash, as tools/sim.py does.
"""
import argparse
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "boards", "sim"))
sys.path.insert(0, os.path.join(ROOT, "lib"))
sys.path.insert(0, ROOT)

from ev import EV, amps_from_duty  # noqa: E402
from mbsim import SimBus  # noqa: E402
from firmware.config_keys import KEYS  # noqa: E402

RESET_EXIT = 3
BOOTROM = os.path.join(ROOT, "..", "shared", "toolchain", "rp2040-bootrom-b1.bin")
FAULTS = ("rcd", "short", "diode", "weld")
_LEVEL = {"A": 12000, "B": 9000, "C": 6000, "D": 3000}
_NO_DIODE_LOW = {"B": -8790, "C": -5620, "D": -2370}
CHIP_CMDS = ("status", "stats", "rfid", "net", "set")


def node_modules():
    """rp2040js, installed from the pinned package-lock.json on first use (one
    process at a time: the test workers start chips together)."""
    import fcntl
    mod = os.path.join(HERE, "node_modules", "rp2040js")
    if os.path.isdir(mod):
        return mod
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("the emulated chip needs Node.js 18+ and npm: apt-get install nodejs npm")
    with open(os.path.join(HERE, ".npm.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(mod):
            subprocess.run([npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=HERE,
                           check=True, stdout=subprocess.DEVNULL)
    return mod


class EVSide:
    """One connector seen from the EV and the meter, in emulated time."""

    def __init__(self, chip, opts):
        self.chip = chip
        self.voltage = opts.get("voltage", 230)
        self.phases = opts.get("phases", 3)
        self.imp_per_kwh = opts.get("imp_per_kwh", 1000)
        self.ev = EV(opts.get("battery_wh", 40000), opts.get("soc", 0.5), opts.get("ev_max_a", 32))
        self.faults = dict((k, False) for k in FAULTS)
        self.duty_pm = 0
        self.duty_ms = 0.0          # emulated ms of the last change of duty
        self.coil = False
        self.locked = False
        self.t_ms = 0.0
        self.meter_wh = 0.0
        self.power_w = 0
        self.pulses_sent = 0
        self.pilot = None
        self.reactions = []

    # -- the model ---------------------------------------------------------------
    def closed(self):
        return self.coil or self.faults["weld"]

    def live_phases(self):
        return self.phases

    def advance(self, t_ms=None):
        # Without a time: now, as the chip's last event left it.
        if t_ms is None:
            t_ms = self.t_ms
        dt = t_ms - self.t_ms
        if dt > 0:
            if self.power_w > 0:
                self.meter_wh += self.ev.charge(self.power_w * dt / 3600000)
            self.t_ms = t_ms
        self.power_w = self.ev.draw_w(self.duty_pm, self.closed(), self.voltage, self.phases)
        due = int(self.meter_wh * self.imp_per_kwh / 1000 + 1e-9) - self.pulses_sent
        if due > 0:
            self.pulses_sent += due
            self.chip.send({"pulses": due})

    def shows(self):
        if self.faults["short"]:
            return "E"
        return self.ev.state(self.duty_pm)

    def levels(self):
        s = self.shows()
        if s == "E":
            return [0, 0]
        lo = _NO_DIODE_LOW[s] if s != "A" and self.faults["diode"] else -12000
        return [_LEVEL[s], lo]

    def update(self, hazard=None):
        """Tell the chip what its pilot input sees now."""
        p = self.levels()
        if p != self.pilot or hazard:
            self.pilot = p
            msg = {"pilot": p}
            if hazard:
                msg["hazard"] = hazard
            self.chip.send(msg)

    # -- events from the chip ----------------------------------------------------------
    def on_event(self, e):
        kind = e.get("ev")
        if "ms" in e and kind != "reaction":
            self.advance(e["ms"])
        if kind == "duty":
            self.duty_pm = e["pm"]
            self.duty_ms = e["ms"]
        elif kind == "contactor":
            self.coil = bool(e["v"])
        elif kind == "lock":
            self.locked = bool(e["v"])
        elif kind == "reaction":
            if len(self.reactions) >= 256:
                self.reactions.pop(0)
            self.reactions.append(round(e["ms"], 3))
        self.update()

    # -- control commands ------------------------------------------------------------
    def plug(self):
        if not self.ev.plugged:
            self.ev.plugged = True
            self.ev.request = "B"
        self.update()

    def unplug(self):
        self.ev.plugged = False
        self.update(hazard="unplug")

    def set_request(self, letter):
        if letter not in ("B", "C", "D"):
            raise ValueError("EV state must be B, C or D, not %r" % (letter,))
        self.ev.request = letter
        self.update(hazard="cb" if letter == "B" else None)

    def set_max_a(self, amps):
        self.ev.max_a = amps
        self.update()

    def set_fault(self, kind, on):
        if kind not in self.faults:
            raise ValueError("unknown fault %r: use rcd, short, diode or weld" % (kind,))
        self.faults[kind] = bool(on)
        if kind == "rcd":
            msg = {"rcd": bool(on)}
            if on:
                msg["hazard"] = "rcd"
            self.chip.send(msg)
        elif kind == "weld":
            self.chip.send({"weld": bool(on)})
        self.update(hazard=kind if on and kind in ("short", "diode") else None)

    def status(self):
        ev = self.ev
        duty = self.duty_pm if 0 < self.duty_pm < 1000 else 0
        return {
            "plugged": ev.plugged,
            "ev_request": ev.request,
            "ev_state": self.shows(),
            "ev_max_a": ev.max_a,
            "ev_offered_a": amps_from_duty(duty),
            "battery_pct": round(ev.soc_pct(), 2),
            "battery_wh": round(ev.battery_wh, 1),
            "ev_power_w": self.power_w,
            "meter_wh": round(self.meter_wh, 3),
            "meter_pulses": self.pulses_sent,
            "pilot_out": "pwm" if duty else ("+12" if self.duty_pm >= 1000 else "-12"),
            "duty_pct": duty / 10,
            "duty_ms": round(self.duty_ms),
            "contactor_physical": self.closed(),
            "sim_faults": [k for k in FAULTS if self.faults[k]],
            "locked": self.locked,
            "emulated_ms": round(self.t_ms),
        }


class MeterBoard:
    """What boards/sim/mbsim.py reads of a board: the EV side as connector 1,
    the meters' file beside the chip's flash."""
    connectors = 1

    def __init__(self, side, data_dir):
        self.side = side
        self.data_dir = data_dir

    def port(self, c):
        return self.side


def setting(sets, key):
    """A setting as the chip starts with it: --set, else the key's default."""
    for kv in reversed(sets):
        k, _, v = kv.partition("=")
        if k == key:
            return v
    for k in KEYS:
        if k[0] == key:
            return str(k[2])
    raise KeyError(key)


def layout(sets):
    """{address: (role, connector, kind)} of the meters the chip will poll, as
    firmware/meterbus.py lays them out from the same settings."""
    out = {}
    kind = setting(sets, "meter_type")
    if kind != "s0":
        out[int(setting(sets, "meter_address"))] = ("ev", 1, kind)
    g = int(setting(sets, "grid_meter_address"))
    if g:
        out[g] = ("grid", 0, setting(sets, "grid_meter_type"))
    return out


class Chip:
    """One run of emu.js after another (a reset starts the next on the same flash)."""

    def __init__(self, a):
        self.a = a
        self.lock = threading.RLock()
        self.proc = None
        self.side = EVSide(self, {})
        self.link = None            # the chip's connection to us (its control channel)
        self.link_lock = threading.Lock()
        self.link_ready = threading.Event()
        self.inner = socket.socket()
        self.inner.bind(("127.0.0.1", 0))
        self.inner.listen(4)
        self.cut = False
        self.clock = None           # the last time report: emulated and host ms, busy share
        self.turns = []             # [bytes in, ms to the answer] of the last requests
        lay = layout(a.set)
        self.bus = None             # the meters on the chip's RS-485 bus
        if lay:
            self.bus = SimBus(MeterBoard(self.side, a.data),
                              int(setting(a.set, "modbus_baud")), lay)
        # Requests seen on the line, and the driver-enable faults emu.js saw:
        # bytes sent with DE low, answer bytes that met DE still high.
        # ev_register_wh: the EV meter's last registers answered.
        self.rs485 = {"requests": 0, "de_low": 0, "rx_while_de": 0, "ev_register_wh": []}
        threading.Thread(target=self._accept, daemon=True).start()

    def args(self):
        settings = {}
        if self.a.csms:
            settings["csms_url"] = self.a.csms
        if self.a.id:
            settings["charge_point_id"] = self.a.id
        for kv in self.a.set:
            k, _, v = kv.partition("=")
            settings[k] = v
        # The emulated board has its RS-485 transceiver fitted (UART1, GP8-10).
        board = {"has_feedback": True, "has_lock": True, "rs485": True}
        for kv in self.a.board:
            k, _, v = kv.partition("=")
            board[k] = json.loads(v)
        # EMU_STALLS (emu.js): the probe reports stalls from 40 ms on.
        return {"settings": settings, "control": self.inner.getsockname()[1],
                "probe": bool(self.a.probe), "board": board,
                "stall_report": 40 if os.environ.get("EMU_STALLS") else 0}

    def start(self):
        node_modules()
        flash = os.path.join(self.a.data, "flash.bin")
        cmd = ["node", os.path.join(HERE, "emu.js"), "--bootrom", self.a.bootrom,
               "--image", self.a.image, "--flash", flash, "--args", json.dumps(self.args()),
               "--flash-timing", self.a.flash_timing]
        r, w = os.pipe()
        cmd += ["--events-fd", str(w)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     pass_fds=(w,))
        os.close(w)
        self.link_ready.clear()
        threading.Thread(target=self._events, args=(os.fdopen(r, "r"),), daemon=True).start()
        threading.Thread(target=self._console, args=(self.proc.stdout,), daemon=True).start()
        if self.a.ev:
            self.side.plug()
            self.side.set_request(self.a.ev)
        else:
            self.side.update()

    def send(self, msg):
        with self.lock:
            p = self.proc
            if p is None or p.poll() is not None:
                return
            try:
                p.stdin.write((json.dumps(msg) + "\n").encode())
                p.stdin.flush()
            except OSError:
                pass

    def _events(self, f):
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                kind = e.get("ev")
                if kind == "t":
                    self.clock = e
                elif kind == "turn":
                    if e["port"] != self.inner.getsockname()[1]:
                        self.turns.append([e["in"], round(e["ms"], 3)])
                        del self.turns[:-64]
                    continue
                if kind == "mb_err":
                    self.rs485[e["kind"]] += 1
                    continue
                self.side.on_event(e)
                if kind == "mb":
                    self._modbus(bytes.fromhex(e["req"]))

    def _modbus(self, req):
        # The EV side is at the request's emulated time: the EV meter's
        # registers are what the EV drew up to then. No answer: silence.
        self.rs485["requests"] += 1
        ans = self.bus.answer(req) if self.bus is not None else None
        self.send({"mb": ans.hex() if ans else ""})
        if ans and ans[1] == 4 and self.bus.layout.get(ans[0], ("",))[0] == "ev":
            # The import register it answered, in Wh: what the charger can bill.
            wh = round((self.bus.base_kwh[0] + self.side.meter_wh / 1000) * 1000, 3)
            reg = self.rs485["ev_register_wh"]
            reg.append(wh)
            del reg[:-8]

    def _console(self, out):
        while True:
            b = out.read1(4096) if hasattr(out, "read1") else out.read(1)
            if not b:
                return
            sys.stdout.buffer.write(b.replace(b"\r\n", b"\n"))
            sys.stdout.buffer.flush()

    def _accept(self):
        while True:
            c, _ = self.inner.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.link_lock:
                if self.link is not None:
                    self.link[0].close()
                self.link = (c, c.makefile("rb"))
            self.link_ready.set()

    def ask(self, req, timeout=30):
        """One request to the firmware, its answer (a dict)."""
        if not self.link_ready.wait(timeout):
            raise ValueError("the chip has not connected its control channel yet")
        with self.link_lock:
            c, f = self.link
            c.settimeout(timeout)
            try:
                c.sendall((json.dumps(req) + "\n").encode())
                line = f.readline()
            except OSError as e:
                line = b""
                err = e
            if not line:
                self.link = None
                self.link_ready.clear()
                raise ValueError("the chip's control channel dropped (%s)" % (locals().get("err")))
        return json.loads(line)

    def handle(self, req):
        cmd = req.get("cmd")
        if cmd in CHIP_CMDS:
            if cmd == "net":
                self.send({"net": bool(req.get("up"))})
            ans = self.ask(req)
            if cmd == "status" and ans.get("ok"):
                with self.lock:
                    for c in ans.get("connectors", ()):
                        c["sim"] = self.side.status()
                        c["sim"]["rs485"] = json.loads(json.dumps(self.rs485))
            if cmd == "stats" and ans.get("ok"):
                with self.lock:
                    ans["reactions_ms"] = [list(self.side.reactions)]
                    ans["emulated_ms"] = round(self.side.t_ms)
                    ans["chip_clock"] = self.clock
                    if self.clock and self.clock.get("flash"):
                        ans["flash"] = self.clock["flash"]
                    ans["turns"] = list(self.turns)
            return ans
        with self.lock:
            if req.get("connector", 1) != 1:
                raise ValueError("connector must be 1..1")
            s = self.side
            if cmd == "plug":
                s.plug()
            elif cmd == "unplug":
                s.unplug()
            elif cmd == "ev":
                s.set_request(req.get("state"))
            elif cmd == "ev_max_a":
                amps = req.get("amps")
                if not isinstance(amps, (int, float)) or isinstance(amps, bool) or not 0 <= amps <= 80:
                    raise ValueError("amps must be a number 0..80")
                s.set_max_a(amps)
            elif cmd == "fault":
                on = req.get("on")
                if not isinstance(on, bool):
                    raise ValueError("on must be true or false")
                s.set_fault(req.get("kind"), on)
            elif cmd == "house_load":
                if self.bus is None or not any(w[0] == "grid" for w in self.bus.layout.values()):
                    raise ValueError("no grid meter: start with --set grid_meter_address=2")
                self.bus.set_house(req.get("amps"))
                # When, on the chip's clock as last reported (up to 100 ms
                # behind it), for a reaction time in emulated time.
                return {"ok": True, "emulated_ms": round(s.t_ms)}
            elif cmd == "meter":
                if self.bus is None:
                    raise ValueError("no Modbus meter: start with --set meter_type=sdm630")
                self.bus.set_fail(req.get("state"), req.get("which", "ev"))
            elif cmd == "power_cut":
                # The meters are outside the charger: their registers go on.
                if self.bus is not None:
                    self.bus.keep()
                self.cut = True
                self.send({"cut": True})
            else:
                raise ValueError("unknown command %r" % (cmd,))
        return {"ok": True}

    def wait(self):
        rc = self.proc.wait()
        return rc


def serve_control(port, chip):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                if len(line) > 512:
                    ans = {"ok": False, "error": "line longer than 512 bytes"}
                else:
                    try:
                        req = json.loads(line)
                        if not isinstance(req, dict):
                            raise ValueError("a request is a JSON object with a cmd field")
                        ans = chip.handle(req)
                    except Exception as e:
                        ans = {"ok": False, "error": str(e) or e.__class__.__name__}
                try:
                    self.wfile.write((json.dumps(ans) + "\n").encode())
                except OSError:
                    return

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", required=True, help="the emulator image (firmware.bin)")
    ap.add_argument("--bootrom", default=BOOTROM)
    ap.add_argument("--data", required=True)
    ap.add_argument("--csms", default=None)
    ap.add_argument("--id", default=None)
    ap.add_argument("--control", type=int, default=0)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--board", action="append", default=[], metavar="OPTION=JSON",
                    help="a board option (boards/README.md), e.g. --board rx_buf=12288")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--ev", choices=("B", "C"), default=None)
    ap.add_argument("--flash-timing", default="typical", choices=("typical", "none"))
    a = ap.parse_args(argv)
    if not os.path.exists(a.bootrom):
        raise SystemExit("no RP2040 boot ROM at %s: it comes with the pinned toolchain "
                         "(shared/toolchain/rp2040-bootrom-b1.bin)" % a.bootrom)
    os.makedirs(a.data, exist_ok=True)
    chip = Chip(a)
    if a.control:
        serve_control(a.control, chip)
    import signal

    def stop(sig, frame):
        chip.send({"stop": True})
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        chip.start()
        rc = chip.wait()
        if rc == RESET_EXIT:
            print("chip: reset; restarting on the same flash", flush=True)
            continue
        return rc


if __name__ == "__main__":
    sys.exit(main())
