"""An independent Modbus RTU slave for the tests: pymodbus serving
SDM630-shaped IEEE-754 float input registers on a pseudo-terminal, behind a
relay that can spoil its answers.

    python mbslave.py CONTROL_FILE [BAUD]

prints "PTY /dev/pts/N" (the end the master opens) and serves until killed.
Before each request is passed on, CONTROL_FILE (JSON, optional) is read:
    {"mode": "ok" | "crc" | "addr" | "drop" | "trunc" | "noise",
     "once": true,            # spoil one answer, then "ok"
     "regs": {"0": 230.1, "6": "nan"}}  # floats by register (decimal)
crc: one bit of the answer flipped; addr: the answer re-addressed to slave+1
with a good CRC (another slave answering); drop: no answer (a meter gone);
trunc: the answer cut short; noise: garbage bytes before the answer.
Each request's distance from the answer before it (ms) is appended to
CONTROL_FILE.gaps. Slave addresses 1 and 2 exist; a register outside 0..0x4F is answered with
exception 2 by pymodbus itself.
"""
import asyncio
import json
import os
import select
import struct
import sys
import threading
import time
import tty

from pymodbus import FramerType
from pymodbus.server import StartAsyncSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

NREGS = 0x50


def crc16(b):
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def with_crc(b):
    c = crc16(b)
    return bytes(b) + bytes([c & 0xFF, c >> 8])


def words(regs):
    w = [0] * NREGS
    for a, v in regs.items():
        hi, lo = struct.unpack(">HH", struct.pack(">f", float(v)))
        w[int(a)] = hi
        w[int(a) + 1] = lo
    return w


DEFAULT = {"0": 230.0, "2": 231.0, "4": 229.0, "6": 10.0, "8": 11.0, "10": 12.0,
           "12": 2300.0, "14": 2541.0, "16": 2748.0, "70": 50.0, "72": 1234.5}


class Relay:
    def __init__(self, ctl):
        self.ctl = ctl
        self.words = words(DEFAULT)
        self.once_done = None
        self.answered = None

    async def action(self, fc, start, address, count, regs, values):
        # pymodbus asks before it answers: give it the values of now.
        w = self.words
        for i in range(len(regs)):
            if 0 <= start + i < len(w):
                regs[i] = w[start + i]
        return None

    def control(self):
        try:
            with open(self.ctl) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def spoil(self, frame, c):
        mode = c.get("mode", "ok")
        if c.get("once"):
            key = json.dumps(c, sort_keys=True)
            if self.once_done == key:
                mode = "ok"
            self.once_done = key
        if mode == "crc":
            return frame[:3] + bytes([frame[3] ^ 0x04]) + frame[4:]
        if mode == "addr":
            return with_crc(bytes([frame[0] + 1]) + frame[1:-2])
        if mode == "drop":
            return b""
        if mode == "trunc":
            return frame[:4]
        if mode == "noise":
            return b"\x00\xff\x13" + frame
        return frame

    def run(self, a, b):
        # a: the master's pty (master end), b: pymodbus's pty (master end)
        ctl = {}
        while True:
            r, _, _ = select.select([a, b], [], [])
            if a in r:
                req = os.read(a, 256)
                if self.answered is not None:
                    # The silence the master kept after our last answer.
                    with open(self.ctl + ".gaps", "a") as f:
                        f.write("%.3f\n" % ((time.monotonic() - self.answered) * 1000))
                    self.answered = None
                ctl = self.control()
                regs = ctl.get("regs")
                self.words = words(dict(DEFAULT, **regs)) if regs else words(DEFAULT)
                os.write(b, req)
            if b in r:
                ans = os.read(b, 256)
                # pymodbus writes an answer at once; wait for its tail.
                while select.select([b], [], [], 0.005)[0]:
                    ans += os.read(b, 256)
                ans = self.spoil(ans, ctl)
                if ans:
                    os.write(a, ans)
                    self.answered = time.monotonic()


def main():
    ctl = sys.argv[1]
    baud = int(sys.argv[2]) if len(sys.argv) > 2 else 9600
    am, asl = os.openpty()
    bm, bsl = os.openpty()
    tty.setraw(asl)
    tty.setraw(bsl)
    relay = Relay(ctl)
    devices = [SimDevice(id=i, action=relay.action,
                         simdata=[SimData(0, values=words(DEFAULT), datatype=DataType.REGISTERS)])
               for i in (1, 2)]
    threading.Thread(target=relay.run, args=(am, bm), daemon=True).start()
    print("PTY", os.ttyname(asl), flush=True)
    asyncio.run(StartAsyncSerialServer(context=devices, framer=FramerType.RTU,
                                       port=os.ttyname(bsl), baudrate=baud))


if __name__ == "__main__":
    main()
