# The simulator's control channel: JSON lines over TCP on 127.0.0.1. One request
# per line, one answer per line: {"ok": true, ...} or {"ok": false, "error": "..."}.
# Commands are listed in the README ("Simulator control channel").
# The emulated chip runs this module too (frozen into its image), with the real
# rp2040 board: there the host plays the EV, so only the firmware's commands
# (status, stats, rfid, net) reach it, over a connection it dials to the host.
import json
import os
import asyncio
import log
from compat import MICROPYTHON

_MAX_LINE = 512


def power_cut():
    # End the process at once, as a power loss would: no finally blocks, no
    # flushing of anything the firmware holds in RAM.
    if MICROPYTHON:
        os.system("kill -9 $PPID")
    else:
        import signal
        os.kill(os.getpid(), signal.SIGKILL)


def _conn(board, req):
    c = req.get("connector", 1)
    if not isinstance(c, int) or not 1 <= c <= board.connectors:
        raise ValueError("connector must be 1..%d" % board.connectors)
    return c


def _bool(req, key):
    v = req.get(key)
    if not isinstance(v, bool):
        raise ValueError("%s must be true or false" % key)
    return v


def stats(board, app, probe, req):
    d = probe.stats() if probe is not None else {}
    if req.get("clear") and probe is not None:
        probe.clear()
    d["store_writes"] = app.store.writes
    d["store_bytes"] = app.store.bytes_written
    d["boot_accepted_ms"] = app.boot_ms()
    d["frames_sent"] = app.cp.rpc.sent
    d["frames_received"] = app.cp.rpc.received
    if hasattr(board, "sim_status"):
        d["reactions_ms"] = [board.port(c).reactions for c in range(1, board.connectors + 1)]
    return d


def handle(board, app, req, probe=None):
    cmd = req.get("cmd")
    if cmd == "stats":
        return stats(board, app, probe, req)
    if cmd == "status":
        st = app.status()
        if hasattr(board, "sim_status"):
            for c in st.get("connectors", ()):
                c["sim"] = board.sim_status(c["id"])
        return st
    if cmd == "net":
        app.set_link(_bool(req, "up"))
        return {}
    if cmd == "plug":
        board.plug(_conn(board, req))
        return {}
    if cmd == "unplug":
        board.unplug(_conn(board, req))
        return {}
    if cmd == "ev":
        st = req.get("state")
        if st not in ("B", "C", "D"):
            raise ValueError("state must be B, C or D")
        board.ev_state(_conn(board, req), st)
        return {}
    if cmd == "ev_max_a":
        a = req.get("amps")
        if not isinstance(a, (int, float)) or isinstance(a, bool) or not 0 <= a <= 80:
            raise ValueError("amps must be a number 0..80")
        board.ev_max_a(_conn(board, req), a)
        return {}
    if cmd == "fault":
        board.fault(_conn(board, req), req.get("kind"), _bool(req, "on"))
        return {}
    if cmd == "set":
        # A setting changed while the firmware runs, as setup.set does.
        from firmware.config import settle
        k = req.get("key")
        if not isinstance(k, str):
            raise ValueError("key must be the name of a setting")
        why = settle(app.cfg, [(k, req.get("value"))], "repl")[1]
        if why:
            raise ValueError(why[k][1])
        return {}
    if cmd == "rfid":
        tag = req.get("tag")
        if not isinstance(tag, str) or not 0 < len(tag) <= 20:
            raise ValueError("tag must be a string of 1..20 characters")
        app.present_tag(tag)
        return {}
    if cmd == "house_load":
        board.house_load(req.get("amps"))
        return {}
    if cmd == "meter":
        board.meter(req.get("state"), req.get("which", "ev"))
        return {}
    if cmd == "power_cut":
        # The simulated Modbus meters are outside the charger: they keep
        # their registers through its power cut.
        bus = getattr(board, "bus", None)
        if bus is not None:
            bus.keep()
        power_cut()
    raise ValueError("unknown command %r" % (cmd,))


async def _client(board, app, probe, reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            if len(line) > _MAX_LINE:
                ans = {"ok": False, "error": "line longer than %d bytes" % _MAX_LINE}
            else:
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise ValueError("a request is a JSON object with a cmd field")
                    ans = handle(board, app, req, probe)
                    ans["ok"] = True
                except Exception as e:
                    ans = {"ok": False, "error": str(e) or e.__class__.__name__}
            writer.write((json.dumps(ans) + "\n").encode())
            await writer.drain()
    except Exception as e:
        log.debug("control", "client gone: %s", e)
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass


async def start(port, board, app, probe=None):
    async def cb(r, w):
        await _client(board, app, probe, r, w)
    srv = await asyncio.start_server(cb, "127.0.0.1", port)
    log.info("control", "control channel on 127.0.0.1:%d", port)
    return srv


async def dial(port, board, app, probe=None):
    """The emulated chip's side: connect to the host's channel on 127.0.0.1:port
    and answer its requests; connect again if the connection ends."""
    from compat import sleep_ms
    while True:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            await _client(board, app, probe, r, w)
        except Exception as e:
            log.debug("control", "host channel: %s", e)
        await sleep_ms(500)
