"""firmware/net.py: Wi-Fi station management against the fake `network`
module, and the SNTP fallback clock against an NTP server on 127.0.0.1, under
MicroPython and CPython."""
import os
import socket
import struct
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_network"))
import fwrun  # noqa: E402

NTP_EPOCH = 1893456000          # 2030-01-01T00:00:00Z, far from the host's clock
PW = "pw-secret-4711"


class NtpServer:
    """Answers every SNTP query with NTP_EPOCH; counts the queries."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            if len(data) < 48 or data[0] & 7 != 3:
                continue
            self.queries += 1
            ans = bytearray(48)
            ans[0] = 0x24       # version 4, mode 4 (server)
            ans[1] = 2          # stratum
            ans[40:44] = struct.pack("!I", NTP_EPOCH + 2208988800)
            self.sock.sendto(bytes(ans), addr)

    def stop(self):
        self._stop = True
        self.t.join(1)
        self.sock.close()


@pytest.fixture
def ntp():
    s = NtpServer()
    yield s
    s.stop()


SCRIPT = r'''
import sys
import asyncio
import network
import compat
import log
from firmware import net

NTP_PORT = int(sys.argv[1])
DEAD_PORT = int(sys.argv[2])
PW = "pw-secret-4711"
lines = []
log.add_sink(lambda lvl, line: lines.append(line))


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else " " + str(detail)))


async def until(fn, ms):
    t = compat.ticks_ms()
    while compat.ticks_diff(compat.ticks_ms(), t) < ms:
        if fn():
            return True
        await compat.sleep_ms(10)
    return fn()


async def main():
    # join, status, watchers, NTP
    network.reset()
    network.aps["home"] = PW
    seen = []
    n = net.Net("home", PW, ntp_host="127.0.0.1", ntp_port=NTP_PORT, poll_ms=50,
                backoff_min_ms=100, backoff_max_ms=400, ntp_delay_ms=600)
    n.watch(seen.append)
    check("down before run", not n.up and not await n.wait_up(50))
    task = asyncio.create_task(n.run())
    check("wait_up", await n.wait_up(3000))
    await compat.sleep_ms(100)
    check("ntp waits for the central system first", not compat.wall_known())
    check("watchers told once", seen == [True], seen)
    check("ip", n.ip == "192.168.4.20", n.ip)
    st = n.status()
    check("status line", "connected to 'home' as 192.168.4.20" in st and "-58 dBm" in st, st)
    check("password given to the driver", ("key_ok", True) in network.events, network.events)
    check("ntp sets the wall clock", await until(compat.wall_known, 3000))
    print("WALL", compat.wall())
    check("status says NTP", "clock from NTP" in n.status(), n.status())
    check("module status", net.describe() == n.status())

    # the access point goes away, then comes back
    del network.aps["home"]
    check("link loss seen", await until(lambda: not n.up, 1000), n.state)
    check("watchers told of loss", seen == [True, False], seen)
    st = n.status()
    check("status after loss", ("joining 'home'" in st or "down" in st) and "link lost" in st, st)
    network.aps["home"] = PW
    check("joins again", await n.wait_up(3000))
    check("second join counted", n.joins == 2, n.joins)
    n.stop()
    await until(lambda: task.done(), 2000)
    check("stop ends run", task.done())

    # a wrong password: reason, back-off, never a tight loop
    network.reset()
    network.aps["home"] = PW
    n = net.Net("home", "wrong-password-1", ntp_host="", poll_ms=50,
                backoff_min_ms=100, backoff_max_ms=400)
    task = asyncio.create_task(n.run())
    await compat.sleep_ms(2500)
    n.stop()
    await until(lambda: task.done(), 2000)
    check("never up with a wrong password", not n.up)
    check("reason wrong password", n.reason == "wrong password", n.reason)
    joins = [e[2] for e in network.events if e[0] == "connect"]
    gaps = [compat.ticks_diff(joins[i + 1], joins[i]) for i in range(len(joins) - 1)]
    print("GAPS", gaps)
    check("several attempts", len(joins) >= 4, joins)
    check("backs off (few attempts)", len(joins) <= 12, len(joins))
    want = [min(100 * 2 ** i, 400) // 2 + 30 for i in range(len(gaps))]
    check("each wait at least half the back-off", all(g >= w for g, w in zip(gaps, want)),
          (gaps, want))
    fails = [l for l in lines if "cannot join 'home': wrong password (attempt" in l]
    check("one log line per attempt", len(fails) == len(joins), (len(fails), len(joins)))

    # network not found; no answer at all
    network.reset()
    n = net.Net("nowhere", "whatever-pw", ntp_host="", backoff_min_ms=100)
    task = asyncio.create_task(n.run())
    await until(lambda: n.reason is not None, 2000)
    n.stop()
    check("reason not found", n.reason == "network not found", n.reason)
    network.reset()
    network.aps["slow"] = PW
    network.join_ms = 100000
    n = net.Net("slow", PW, ntp_host="", connect_timeout_ms=300, backoff_min_ms=100)
    task = asyncio.create_task(n.run())
    await until(lambda: n.reason is not None, 2000)
    n.stop()
    network.join_ms = 30
    check("reason timeout", n.reason == "no answer within 0.3 s", n.reason)

    # a radio that fails to start is started again, not given up
    network.reset()
    network.aps["home"] = PW
    network.fail_active = 2
    n = net.Net("home", PW, ntp_host="", backoff_min_ms=100)
    task = asyncio.create_task(n.run())
    check("driver errors survived", await n.wait_up(3000), n.state)
    n.stop()
    check("driver error logged", any("wifi: Wi-Fi driver error: Wifi Internal Error; starting "
                                     "the radio again" in l for l in lines))

    # no SSID: stays down, says what to do
    n = net.Net("", "", ntp_host="")
    await n.run()
    check("not configured", not n.up and "setup.wifi" in n.state, n.state)

    # SNTP without an answer fails in time, without blocking the loop
    ticks = [0]

    async def ticker():
        while True:
            ticks[0] += 1
            await compat.sleep_ms(10)
    tk = asyncio.create_task(ticker())
    try:
        await net.sntp("127.0.0.1", DEAD_PORT, 300)
        check("sntp timeout", False, "no exception")
    except OSError as e:
        check("sntp timeout", "no answer" in str(e), e)
    tk.cancel()
    check("loop ran during the query", ticks[0] >= 10, ticks[0])

    out = "\n".join(lines)
    check("no password in the log", PW not in out and "wrong-password-1" not in out)
    print("DONE")


asyncio.run(main())
'''

HOST_SCRIPT = r'''
import asyncio
from firmware import net


async def main():
    n = net.Net("home", "whatever-pw")
    await n.run()
    print("UP", n.up, n.state)
    print("DESCRIBE", net.describe())

asyncio.run(main())
'''


def _dead_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_wifi_station_and_ntp(runtime, tmp_path, ntp):
    t0 = time.time()
    rc, out = fwrun.run(runtime, tmp_path, SCRIPT, [ntp.port, _dead_port()])
    assert rc == 0 and "DONE" in out, out
    fails = [l for l in out.splitlines() if l.startswith("FAIL")]
    assert not fails, out
    assert out.count("PASS ") == 30, out
    wall = [int(float(l.split()[1])) for l in out.splitlines() if l.startswith("WALL")][0]
    # The wall clock follows NTP, not the host (set seconds before it was read).
    assert NTP_EPOCH <= wall <= NTP_EPOCH + int(time.time() - t0) + 2
    # Once the clock is known, a second join does not ask again.
    assert ntp.queries == 1
    assert PW not in out


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_without_network_module_the_host_network_is_up(runtime, tmp_path):
    rc, out = fwrun.run(runtime, tmp_path, HOST_SCRIPT, fake_network=False)
    assert rc == 0, out
    assert "UP True host network" in out
    assert "DESCRIBE host network (no Wi-Fi on this board)" in out
