"""A virtual board: the MicroPython unix port on a pseudo-terminal, so that
mpremote (and tools/deploy.py, tools/configure.py) talk to it as to a board
on a serial port.

    vb = VirtualBoard(root)      # root: the board's flash ("/" of the board)
    vb.start()                   # "power on": runs main.py if it exists, then the REPL
    vb.port                      # /dev/pts/N for `mpremote connect PORT resume ...`
    vb.output()                  # everything the board printed since power on
    vb.wait_output("text", 10)   # wait until it printed that
    vb.restart()                 # power cycle (the unix port has no reset)
    vb.stop()

How it maps a board:
- The process runs with cwd = root, so the board's relative paths ("main.py",
  "lib/x.mpy", "data/config") land under root. Its import path is
  ["", ".frozen", "lib"] like a board's ["", ".frozen", "/lib"], plus the
  folders given in `frozen` (e.g. the fake `machine`), which stand for modules
  built into the board's firmware image.
- At power on a board runs main.py and drops to the REPL when it ends or on
  Ctrl-C: here `micropython -i main.py`. Ctrl-C reaches the process as SIGINT
  through the terminal (ISIG stays on, the rest of the terminal is raw), which
  is how the unix port takes a keyboard interrupt while a program runs.
- Two pseudo-terminals joined by a thread: one is the process's terminal, the
  other is the "USB serial port" that mpremote opens. What the board prints
  while nobody has the port open is dropped, as a UART would drop it, but kept
  (bounded) for output().
"""
import errno
import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAKE_MACHINE = os.path.join(ROOT, "host_tests", "fake_machine")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
_KEEP = 512 * 1024


def _ctty():
    # In the child after setsid(): make its stdin (the pty) its controlling
    # terminal, so that a Ctrl-C byte becomes SIGINT for it.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class VirtualBoard:
    def __init__(self, root, frozen=(FAKE_MACHINE,), heap_kb=None):
        self.root = str(root)
        self.frozen = [str(p) for p in frozen]
        self.heap_kb = heap_kb
        self.proc = None
        self._out = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = None
        os.makedirs(self.root, exist_ok=True)
        self._bm, self._bs = pty.openpty()      # the board's terminal
        self._hm, self._hs = pty.openpty()      # the serial port the host opens
        tty.setraw(self._bs)
        self._attrs = termios.tcgetattr(self._bs)
        self._attrs[3] |= termios.ISIG
        tty.setraw(self._hs)
        for fd in (self._bm, self._hm):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.port = os.ttyname(self._hs)

    def start(self):
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join(["", ".frozen", "lib"] + self.frozen)
        cmd = [MICROPYTHON]
        if self.heap_kb:
            cmd += ["-X", "heapsize=%dK" % self.heap_kb]
        if os.path.exists(os.path.join(self.root, "main.py")):
            cmd += ["-i", "main.py"]
        with self._lock:
            del self._out[:]
        # A process killed in its REPL leaves the terminal as the REPL set it
        # (no ISIG): put back what a freshly powered board has.
        termios.tcsetattr(self._bs, termios.TCSANOW, self._attrs)
        self.proc = subprocess.Popen(cmd, stdin=self._bs, stdout=self._bs, stderr=self._bs,
                                     cwd=self.root, env=env, start_new_session=True,
                                     preexec_fn=_ctty)
        if self._thread is None:
            self._thread = threading.Thread(target=self._bridge, daemon=True)
            self._thread.start()
        return self

    def _bridge(self):
        while not self._stop:
            try:
                r, _, _ = select.select([self._bm, self._hm], [], [], 0.2)
            except (OSError, ValueError):
                return
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    # EIO while no process holds the other end; try again later.
                    time.sleep(0.01)
                    continue
                if fd == self._bm:
                    with self._lock:
                        self._out += data
                        if len(self._out) > _KEEP:
                            del self._out[:len(self._out) - _KEEP]
                    self._write(self._hm, data, drop=True)
                else:
                    self._write(self._bm, data, drop=False)

    def _write(self, fd, data, drop):
        mv = memoryview(data)
        end = time.time() + 5
        while mv:
            try:
                n = os.write(fd, mv)
                mv = mv[n:]
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EIO) or drop \
                        or time.time() > end:
                    return
                time.sleep(0.005)

    def output(self):
        with self._lock:
            return bytes(self._out).decode("utf-8", "replace")

    def wait_output(self, text, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if text in self.output():
                return True
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return text in self.output()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self):
        self.kill()
        return self.start()

    def stop(self):
        self.kill()
        self._stop = True
        if self._thread is not None:
            self._thread.join(2)
        for fd in (self._bm, self._bs, self._hm, self._hs):
            try:
                os.close(fd)
            except OSError:
                pass
