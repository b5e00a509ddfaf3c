"""Wi-Fi station management (ESP32, Pico W: network.WLAN) and the NTP clock.

    n = Net(ssid, password)
    n.watch(fn)                   fn(up) on every change of the link
    asyncio.create_task(n.run())
    await n.wait_up()             True once the link is up (or timeout_ms passed: False)
    n.up, n.status()              the link now, and one line for the REPL

run() joins the network, watches it once a second, and joins again when it is
lost. A failed join (wrong password, network not found, no answer within
connect_timeout_ms) is logged in one line with the reason, then retried after
a back-off that starts at 1 s and doubles up to 60 s, with jitter so that a
street of chargers does not hammer an access point that comes back.

A board without the `network` module (the unix port: the virtual board, the
simulator) has nothing to manage: the link counts as up at once ("host
network") and the host's clock is used as it is. A board with Wi-Fi but no
SSID configured stays down ("Wi-Fi not configured"); the firmware is then in
its not-configured state anyway.

Time: ntp_delay_ms (10 s) after the link is up, if nothing has set the wall
clock yet (the central system's currentTime in BootNotification or Heartbeat
is the authority), one SNTP query to ntp_host sets it (compat.set_wall); it is
retried a few times.
The query is a non-blocking UDP socket polled from the task, so only the DNS
lookup can hold the loop. A later time from the central system overrides it.

`network` is imported inside run(), never at import time, and this module
never imports `machine`.
"""
import asyncio
import random
import socket
import struct
import log
from compat import ticks_ms, ticks_diff, ticks_add, sleep_ms, set_wall, wall_known, iso, EPOCH_2020

NTP_DELTA = 2208988800      # seconds from 1900 (NTP) to 1970 (Unix)

current = None              # the Net made last, for the REPL (setup.status())

# Status names that mean a join has failed for good (names differ per port; the
# ones a port lacks are skipped).
_FAIL = (("STAT_WRONG_PASSWORD", "wrong password"),
         ("STAT_NO_AP_FOUND", "network not found"),
         ("STAT_CONNECT_FAIL", "connection failed"),
         ("STAT_ASSOC_FAIL", "association refused by the access point"),
         ("STAT_HANDSHAKE_TIMEOUT", "handshake timeout (wrong password?)"),
         ("STAT_BEACON_TIMEOUT", "access point stopped answering"))


def network_module():
    """The `network` module if this board has Wi-Fi, else None."""
    try:
        import network
    except ImportError:
        return None
    return network if hasattr(network, "WLAN") else None


def _reason(nw, st):
    for name, why in _FAIL:
        v = getattr(nw, name, None)
        if v is not None and st == v:
            return why
    return None


class Net:
    def __init__(self, ssid, password="", ntp_host="pool.ntp.org", ntp_port=123,
                 poll_ms=1000, connect_timeout_ms=20000, backoff_min_ms=1000,
                 backoff_max_ms=60000, ntp_tries=3, ntp_delay_ms=10000):
        self.ssid = ssid or ""
        self._pw = password or ""
        self.ntp_host = ntp_host
        self.ntp_port = ntp_port
        self.poll_ms = poll_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.ntp_tries = ntp_tries
        self.ntp_delay_ms = ntp_delay_ms
        self.up = False
        self.state = "starting"
        self.reason = None          # why the last join failed
        self.ip = None
        self.attempts = 0           # joins tried since the last success
        self.joins = 0              # successful joins
        self.ntp_time = None        # epoch set from NTP, if it was
        self._watchers = []
        self._ev = asyncio.Event()
        self._stop = False
        self._wlan = None
        global current
        current = self

    def watch(self, fn):
        self._watchers.append(fn)

    def unwatch(self, fn):
        if fn in self._watchers:
            self._watchers.remove(fn)

    def _set(self, up, state):
        self.state = state
        if up == self.up:
            return
        self.up = up
        if up:
            self._ev.set()
        else:
            self._ev.clear()
        for fn in self._watchers:
            try:
                fn(up)
            except Exception as e:
                log.error("wifi", "link watcher failed: %s", e)

    async def wait_up(self, timeout_ms=None):
        if self.up:
            return True
        if timeout_ms is None:
            await self._ev.wait()
            return True
        try:
            await asyncio.wait_for(self._ev.wait(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            pass
        return self.up

    def stop(self):
        self._stop = True

    def status(self):
        s = self.state
        if s == "up":
            rssi = None
            try:
                rssi = self._wlan.status("rssi")
            except Exception:
                pass
            s = "Wi-Fi connected to %r as %s" % (self.ssid, self.ip)
            if rssi is not None:
                s += ", signal %d dBm" % rssi
        elif s == "joining":
            s = "Wi-Fi joining %r (attempt %d%s)" % (
                self.ssid, self.attempts, "; last: " + self.reason if self.reason else "")
        elif s == "down":
            s = "Wi-Fi down: %s; retrying" % (self.reason or "link lost")
        if self.ntp_time is not None:
            s += "; clock from NTP"
        return s

    async def run(self):
        nw = network_module()
        if nw is None:
            # The unix port (the virtual board, the simulator): the host keeps
            # the network and the clock.
            self._set(True, "host network (no Wi-Fi on this board)")
            return
        if not self.ssid:
            self._set(False, "Wi-Fi not configured: setup.wifi(ssid, password)")
            log.warn("wifi", "no Wi-Fi network configured: import setup; setup.wifi(ssid, password)")
            return
        backoff = self.backoff_min_ms
        while not self._stop:
            try:
                backoff = await self._station(nw, backoff)
            except Exception as e:
                # A driver that throws must not end Wi-Fi for good (OCPP waits on it).
                self.reason = "Wi-Fi driver error: %s" % (e,)
                log.error("wifi", "%s; starting the radio again in %d s", self.reason,
                          backoff // 1000)
                self._set(False, "down")
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_ms)
        self._set(False, "stopped")

    async def _station(self, nw, backoff):
        # Join and watch until stopped; returns the back-off to go on with.
        wlan = nw.WLAN(nw.STA_IF)
        self._wlan = wlan
        wlan.active(True)
        while not self._stop:
            if not wlan.isconnected():
                ok = await self._join(nw, wlan)
                if not ok:
                    delay = backoff // 2 + random.getrandbits(16) % (backoff // 2 + 1)
                    self._set(False, "down")
                    log.warn("wifi", "cannot join %r: %s (attempt %d); retry in %d.%d s",
                             self.ssid, self.reason, self.attempts, delay // 1000,
                             delay % 1000 // 100)
                    await self._sleep(delay)
                    backoff = min(backoff * 2, self.backoff_max_ms)
                    continue
                backoff = self.backoff_min_ms
                self.attempts = 0
                self.joins += 1
                try:
                    self.ip = wlan.ifconfig()[0]
                except Exception:
                    self.ip = "?"
                log.info("wifi", "connected to %r as %s", self.ssid, self.ip)
                self._set(True, "up")
                if not wall_known():
                    asyncio.create_task(self._ntp())
            await self._sleep(self.poll_ms)
            if not self._stop and not wlan.isconnected():
                self.reason = "link lost"
                log.warn("wifi", "link to %r lost; joining again", self.ssid)
                self._set(False, "down")
        return backoff

    async def _sleep(self, ms):
        end = ticks_add(ticks_ms(), ms)
        while not self._stop and ticks_diff(end, ticks_ms()) > 0:
            await sleep_ms(min(200, max(1, ticks_diff(end, ticks_ms()))))

    async def _join(self, nw, wlan):
        self.attempts += 1
        self.state = "joining"
        try:
            wlan.disconnect()
        except Exception:
            pass
        try:
            wlan.connect(self.ssid, self._pw)
        except OSError as e:
            self.reason = "Wi-Fi driver error %s" % (e,)
            return False
        start = ticks_ms()
        while ticks_diff(ticks_ms(), start) < self.connect_timeout_ms:
            if self._stop:
                return False
            if wlan.isconnected():
                return True
            why = _reason(nw, wlan.status())
            if why is not None:
                self.reason = why
                return False
            await sleep_ms(100)
        ms = self.connect_timeout_ms
        self.reason = "no answer within %d.%d s" % (ms // 1000, ms % 1000 // 100)
        return False

    async def _ntp(self):
        if not self.ntp_host:
            return
        # The central system's time comes with BootNotification, right after
        # the link: give it the first chance.
        await self._sleep(self.ntp_delay_ms)
        for i in range(self.ntp_tries):
            if wall_known() or self._stop:
                return
            try:
                t = await sntp(self.ntp_host, self.ntp_port)
            except Exception as e:
                log.warn("ntp", "no time from %s: %s", self.ntp_host, e)
                await sleep_ms(2000 * (i + 1))
                continue
            if wall_known():
                return      # the central system answered first; it wins
            if not set_wall(t, True):
                log.warn("ntp", "time from %s, %s, is behind the clock (%s); not applied",
                         self.ntp_host, iso(t), iso())
                return
            self.ntp_time = t
            log.info("ntp", "clock set from %s: %s", self.ntp_host, iso(t))
            return


async def sntp(host, port=123, timeout_ms=2000):
    """Seconds since 1970 from one SNTP (RFC 4330) query; raises OSError or
    ValueError. The socket is non-blocking and polled, so the loop keeps running."""
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        req = bytearray(48)
        req[0] = 0x1b       # version 3, mode 3 (client)
        s.sendto(req, addr)
        start = ticks_ms()
        while True:
            try:
                data = s.recv(48)
                break
            except OSError:
                if ticks_diff(ticks_ms(), start) > timeout_ms:
                    raise OSError("no answer within %d ms" % timeout_ms)
                await sleep_ms(20)
    finally:
        s.close()
    if len(data) < 48 or data[0] & 7 != 4 or not 1 <= data[1] <= 15:
        raise ValueError("not a valid NTP server answer")
    t = struct.unpack("!I", data[40:44])[0] - NTP_DELTA
    if t < EPOCH_2020:     # an NTP answer before it is not believed
        raise ValueError("NTP time %d is not believable" % t)
    return t


def describe():
    """One line about the Wi-Fi, from the running Net or straight from the radio."""
    if current is not None:
        return current.status()
    nw = network_module()
    if nw is None:
        return "host network (no Wi-Fi on this board)"
    w = nw.WLAN(nw.STA_IF)
    if not w.active():
        return "Wi-Fi off"
    if w.isconnected():
        return "Wi-Fi connected as %s" % w.ifconfig()[0]
    return "Wi-Fi not connected (status %s)" % (w.status(),)
