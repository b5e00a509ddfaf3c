"""A stand-in for MicroPython's `network` module (station interface only), so
firmware/net.py runs on the host under CPython and the MicroPython unix port.
Put this folder first on the import path. Status numbers are the ESP32 port's.

The radio world is scripted by module attributes:
    aps          {ssid: password} of the access points in range; deleting one
                 while joined drops the link at the next poll, putting it back
                 lets a new join succeed
    join_ms      how long a join takes before it succeeds or fails
    ip           the address a join gets
    fail_active  this many calls of active(True) raise OSError, as a radio
                 that fails to start does
    events       what the driver was asked: ("active", bool), ("connect", ssid,
                 ticks ms), ("disconnect",). The password is never recorded, only whether
                 the right one was given: ("key_ok", bool).
    reset()      back to an empty world

From outside the process: when the environment variable FAKE_WIFI names a
file, `aps` is read from it (JSON {ssid: password}) at every poll, so a test
can bring a network up or take it away while the firmware runs.
"""
import json
import os
import time

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204

aps = {}
join_ms = 30
ip = "192.168.4.20"
fail_active = 0
events = []
_sta = {"active": False, "status": STAT_IDLE, "ssid": None, "key": None, "t0": 0}


def _ms():
    try:
        return time.ticks_ms()
    except AttributeError:
        return int(time.monotonic() * 1000)


_file = os.getenv("FAKE_WIFI")


def _reload():
    if not _file:
        return
    try:
        with open(_file) as f:
            d = json.load(f)
    except (OSError, ValueError):
        d = {}
    aps.clear()
    aps.update(d)


def reset():
    global fail_active
    fail_active = 0
    aps.clear()
    del events[:]
    _sta.update({"active": False, "status": STAT_IDLE, "ssid": None, "key": None, "t0": 0})


class WLAN:
    IF_STA = STA_IF

    def __init__(self, interface=STA_IF):
        if interface != STA_IF:
            raise ValueError("the fake has a station interface only")

    def active(self, on=None):
        global fail_active
        if on is None:
            return _sta["active"]
        if on and fail_active > 0:
            fail_active -= 1
            raise OSError("Wifi Internal Error")
        _sta["active"] = bool(on)
        events.append(("active", bool(on)))
        if not on:
            _sta["status"] = STAT_IDLE

    def connect(self, ssid, key=None):
        if not _sta["active"]:
            raise OSError("Wifi Not Started")
        events.append(("connect", ssid, _ms()))
        _reload()
        events.append(("key_ok", ssid in aps and aps[ssid] == (key or "")))
        _sta.update({"status": STAT_CONNECTING, "ssid": ssid, "key": key or "", "t0": _ms()})

    def disconnect(self):
        events.append(("disconnect",))
        _sta["status"] = STAT_IDLE

    def _poll(self):
        _reload()
        st = _sta["status"]
        if st == STAT_CONNECTING and _ms() - _sta["t0"] >= join_ms:
            ssid = _sta["ssid"]
            if ssid not in aps:
                _sta["status"] = STAT_NO_AP_FOUND
            elif aps[ssid] != _sta["key"]:
                _sta["status"] = STAT_WRONG_PASSWORD
            else:
                _sta["status"] = STAT_GOT_IP
        elif st == STAT_GOT_IP and _sta["ssid"] not in aps:
            _sta["status"] = STAT_BEACON_TIMEOUT

    def isconnected(self):
        self._poll()
        return _sta["status"] == STAT_GOT_IP

    def status(self, param=None):
        self._poll()
        if param == "rssi":
            return -58
        if param is not None:
            raise ValueError("unknown status parameter")
        return _sta["status"]

    def ifconfig(self):
        if _sta["status"] != STAT_GOT_IP:
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return (ip, "255.255.255.0", "192.168.4.1", "192.168.4.1")

    def config(self, *args, **kw):
        if args == ("ssid",):
            return _sta["ssid"] or ""
        if args == ("mac",):
            return b"\x24\x6f\x28\x01\x02\x03"
        return None
