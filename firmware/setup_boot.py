"""Start the charger and stop it safely: setup.boot(board_module), what main.py
runs, is boot() here. Log file, board, Wi-Fi, application, until Ctrl-C or an
error; then the hardware is left safe (contactors open, no PWM offer) and the
REPL is free. It never resets the board, so a bad setting cannot cause a boot
loop.

Only setup.boot imports this module, so a REPL session that only configures
does not load it. It imports nothing of setup: a frozen image holds setup twice
(the top-level `setup` and `firmware.setup`), and this module must not pull in
the second. setup hands over what it owns (the data folder, the device options,
missing() and the hint text) and reads `app` and `stopped` back from here.
"""
import sys
import log
import logfile as _lf
from compat import MICROPYTHON
from firmware import net

_LEVELS = {"debug": log.DEBUG, "info": log.INFO, "warn": log.WARN, "error": log.ERROR}

app = None          # the App when this interpreter runs (or ran) the firmware
stopped = False     # ... and it has stopped (Ctrl-C or an error)


def _flush():
    if _lf.current is not None:
        _lf.current.flush()


_SECRETS = ("AuthorizationKey", "wifi_password", "mqtt_password")


def _secrets(cfg):
    for k in _SECRETS:
        _lf.secret(cfg.get(k))

    def watch(name, value):
        if name in _SECRETS:
            _lf.secret(value)
    cfg.watch(watch)


async def _nag(text):
    from compat import sleep_ms
    while True:
        print(text)
        await sleep_ms(60000)


async def _start(board_mod, started, data, device, log_opts, missing, hint, on_start):
    import asyncio
    global app
    d = device()
    lo = log_opts()
    log.level = _LEVELS.get(lo["level"], log.INFO)
    lf = _lf.LogFile(data, lo["kb"] * 1024, lo["files"])
    log.add_sink(lf.sink)
    asyncio.create_task(lf.run())
    opts = dict(d.get("board") or {})
    opts["data_dir"] = data
    b = board_mod.Board(opts)
    started.append(b)
    b.led("offline")
    from firmware.main import App
    # OCPP waits for the link: the session starts down and follows the Wi-Fi.
    a = App(b, link_up=False)
    app = a
    cfg = a.cfg
    _secrets(cfg)
    if lo["trace"]:
        a.cp.rpc.trace = _lf.trace
    # After `app` is set: missing() reads the running configuration.
    miss = missing()
    if miss:
        asyncio.create_task(_nag(hint(miss)))
    n = net.Net(cfg.get("wifi_ssid"), cfg.get("wifi_password"), ntp_host=lo["ntp"])

    def led(up):
        b.led("idle" if up else "offline")
    n.watch(led)
    n.watch(a.set_link)
    a.link_up = n.up
    asyncio.create_task(n.run())
    if on_start is not None:
        on_start(a, b)
    await a.run()


def _safe(b):
    for c in range(1, b.connectors + 1):
        try:
            p = b.port(c)
            p.contactor(False)
            p.pilot_high()
        except Exception:
            pass
    try:
        b.led("off")
    except Exception:
        pass


def boot(board_mod, data, device, log_opts, missing, hint, on_start=None):
    """data: the data folder; device(), log_opts(): the saved device and log
    options (read inside the run, so that a failure there stops it like any
    other); missing(): the settings still unset; hint(miss): what to do."""
    global stopped
    import asyncio
    started = []
    try:
        asyncio.run(_start(board_mod, started, data, device, log_opts, missing, hint, on_start))
    except KeyboardInterrupt:
        print("firmware stopped (Ctrl-C); contactor open. import setup; setup.help() "
              "for the settings, Ctrl-D to start again")
    except Exception as e:
        log.error("setup", "firmware stopped: %s: %s", e.__class__.__name__, e)
        if MICROPYTHON:
            sys.print_exception(e)
        print("the REPL is free: import setup; setup.status(); Ctrl-D to start again")
    finally:
        stopped = True
        if started:
            _safe(started[0])
        if _lf.current is not None:
            _lf.current.stop()
        _flush()
        if MICROPYTHON:
            # Forget the stopped tasks, or the next asyncio.run would resume them.
            asyncio.new_event_loop()
