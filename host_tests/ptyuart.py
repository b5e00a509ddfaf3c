"""A UART over a pseudo-terminal for the Modbus tests, the subset of
machine.UART that lib/modbus.py uses, on MicroPython's unix port and CPython
alike (a file opened on the pty, polled, never blocking)."""
import select


class PtyUart:
    def __init__(self, path):
        try:
            self.f = open(path, "r+b", buffering=0)
        except TypeError:               # MicroPython's open has no buffering
            self.f = open(path, "r+b")
        self.p = select.poll()
        self.p.register(self.f, select.POLLIN)
        self.sent = 0

    def any(self):
        # Bytes waiting; 1 is enough (readinto then takes one at a time).
        return 1 if self.p.poll(0) else 0

    def readinto(self, mv):
        return self.f.readinto(mv[:1]) if len(mv) else 0

    def write(self, b):
        n = self.f.write(b)
        self.sent += len(b)
        return n

    def close(self):
        self.f.close()
