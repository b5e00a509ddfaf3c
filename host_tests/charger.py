"""Drive a simulated charger process from tests: start it with tools/sim.py on a
runtime, talk to its control channel, read its log, stop or power-cut it."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Charger:
    def __init__(self, runtime, csms_url, data_dir, ident="cp-test", connectors=1, heap=None,
                 sets=(), board=()):
        self.sets = list(sets)
        self.board = list(board)    # "option=json" of the simulated board
        self.ev = None      # "B" / "C": an EV plugged in at the next power-up
        self.clock = None   # "unset": the board's RTC at the embedded epoch at every start
        self.probe = False  # True: the measurement probe runs (stats: stalls, heap)
        self.runtime = runtime
        self.csms_url = csms_url
        self.data_dir = str(data_dir)
        self.ident = ident
        self.connectors = connectors
        self.heap = heap
        self.port = free_port()
        self.proc = None
        self.logfile = os.path.join(self.data_dir + ".log")
        self._sock = None
        self._rfile = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        cmd = [sys.executable, os.path.join(ROOT, "tools", "sim.py"), "--runtime", self.runtime,
               "--data", self.data_dir, "--id", self.ident, "--connectors", str(self.connectors),
               "--control", str(self.port)]
        if self.csms_url:
            cmd += ["--csms", self.csms_url]
        if self.heap:
            cmd += ["--heap", str(self.heap)]
        for kv in self.sets:
            cmd += ["--set", kv]
        for kv in self.board:
            cmd += ["--board", kv]
        if self.ev:
            cmd += ["--ev", self.ev]
        if self.clock:
            cmd += ["--clock", self.clock]
        if self.probe:
            cmd += ["--probe"]
        self._out = open(self.logfile, "ab")
        # A session of its own: a power cut kills the launcher and every
        # firmware process it started, even one it starts during the cut.
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        self._close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self._kill_group()
        if self.proc is not None:
            self._out.close()
        self.proc = None

    def _kill_group(self):
        # Not pkill -P: while the launcher restarts the firmware it has no
        # child for a moment, and the one it starts next would outlive it,
        # holding the control port.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.proc.kill()
        self.proc.wait()

    def kill(self):
        """Cut the power from outside: SIGKILL the launcher and the firmware."""
        self._close()
        if self.proc is not None:
            self._kill_group()
            self._out.close()
            self.proc = None

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._rfile = None

    def _connect(self, timeout):
        end = time.time() + timeout
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self._sock = s
                self._rfile = s.makefile("rb")
                return
            except OSError:
                if time.time() > end or not self.running():
                    raise AssertionError("control channel did not open; log:\n" + self.log()[-3000:])
                time.sleep(0.05)

    def ctl(self, cmd, timeout=10, **kw):
        """Send one control command; returns the answer dict (ok or not)."""
        req = dict(kw)
        req["cmd"] = cmd
        for attempt in (0, 1):
            if self._sock is None:
                self._connect(timeout)
            try:
                self._sock.sendall((json.dumps(req) + "\n").encode())
                line = self._rfile.readline()
                if line:
                    return json.loads(line)
            except OSError:
                pass
            # The firmware restarted (reset) between two commands: reconnect once.
            self._close()
            if cmd == "power_cut":
                return {"ok": True, "cut": True}
        raise AssertionError("no answer to %s; log:\n%s" % (cmd, self.log()[-3000:]))

    def status(self):
        ans = self.ctl("status")
        assert ans["ok"], ans
        return ans

    failure = AssertionError    # what wait() raises; the benchmark has its own

    def wait(self, pred, timeout=15, what="condition"):
        # The emulated chip runs slower than the host, and slower still on a
        # loaded machine: its waits get more host time, and its status (work
        # for the chip) is asked less often.
        slow = self.runtime == "rp2040"
        if slow:
            timeout *= 4
        end = time.time() + timeout
        last = None
        while time.time() < end:
            if not self.running():
                # A process that ended can only time out: say so at once.
                raise self.failure("the charger process ended (exit %s) while waiting for %s; "
                                   "log:\n%s" % (self.proc.poll() if self.proc else None, what,
                                                  self.log()[-3000:]))
            try:
                last = self.status()
                if pred(last):
                    return last
            except (AssertionError, OSError):
                self._close()
            time.sleep(0.2 if slow else 0.05)
        raise self.failure("timed out after %s s waiting for %s; last status %s; log:\n%s"
                           % (timeout, what, last, self.log()[-3000:]))
