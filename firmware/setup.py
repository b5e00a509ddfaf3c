"""Set the charger up from the serial REPL, and start it (from main.py).

On the board this is the top-level module `setup`: frozen into the image
(boards/common/manifest.py), or, copied by tools/deploy.py, lib/setup.mpy:
`from firmware.setup import *`. Ctrl-C stops the firmware and
gives the REPL; `import setup; setup.help()` lists the calls (_HELP below).
Every value is checked by the configuration registry (the same rules as
ChangeConfiguration) and saved atomically; each call prints one line per key,
"ok: ..." or "refused: <what is allowed>", and a call that sets several keys
changes all or none of them. Secrets are shown as <hidden>. Hardware and log
options (setup.board, setup.logfile) are kept in the store file "device".

boot(board_module) is what main.py (boards/main.py) runs: log file, board, Wi-Fi, application,
until Ctrl-C or an error; then the hardware is left safe (contactors open, no
PWM offer) and the REPL is free. It never resets the board, so a bad setting
cannot cause a boot loop. That part is firmware/setup_boot.py, which holds the
running App; this module reads it from there.
"""
import os
import sys
import log
import logfile as _lf
from compat import MICROPYTHON
from firmware.store import Store
from firmware.config import Config, settle
from firmware.config_keys import KEYS, RO, DEV
from firmware import net

DATA = "data"       # relative to the board's root: "/data" (cwd is "/" at boot)
RESTART = "restart to apply: press Ctrl-D (soft reset) or the reset button"
_OK = ("Accepted", "RebootRequired")
# MicroPython keeps no docstrings: the REPL help is a plain string.
_HELP = """import setup, then:
  setup.show()                        settings, secrets masked; show(True) adds read-only keys
  setup.wifi("ssid", "password")      Wi-Fi network ("" password: open network)
  setup.csms("ws://host:port/path", "charger-1")   central system URL, charge point id
  setup.set("max_current_a", 20)      any key of show(True): device setting or OCPP key
  setup.security(1, key="16 to 40 characters")     profile 0 to 3; ca="ca.pem" for 2 and 3
  setup.security(3, ca="ca.pem")      key pair + request; cert="cp.pem": the chain, then 3
  setup.mqtt("mqtt://host:1883", "user", "password")   MQTT (Home Assistant, solar); "" off
  setup.status()                      configured or not, Wi-Fi, central system, memory
  setup.logs()                        the end of the log on flash
  setup.board(has_feedback=True)      hardware options (boards/README.md); None removes one
  setup.meter()                       read the Modbus meters once (meter_type, grid_meter_address)
  setup.logfile(kb=16, files=2, trace=True, level="info")   log size, OCPP frame trace
  setup.reset()                       factory settings; reset(True) also erases the data
Ctrl-D restarts the firmware."""
# Log options, as lib/boardopts.OPTIONS: name: (kind, lowest, highest or the
# choices, default).
_LOG = {"kb": (int, 1, 256, 16), "files": (int, 1, 8, 2), "trace": (bool, None, None, False),
        "level": (tuple, ("debug", "info", "warn", "error"), None, "info"),
        "ntp": (str, None, None, "pool.ntp.org")}

_own = None         # our own Config when no firmware runs (or ran) here
_store = None


def _ran():
    # (App, stopped) of the firmware this interpreter runs or ran; None for the
    # App when setup_boot, which boot() alone loads, never started one.
    b = sys.modules.get("firmware.setup_boot")
    return (b.app, b.stopped) if b is not None else (None, False)


def _st():
    global _store
    if _store is None:
        _store = Store(DATA)
    return _store


def _defaults():
    app = _ran()[0]
    return {"connectors": app.board.connectors} if app is not None else {}


def _cfg():
    global _own
    app = _ran()[0]
    if app is not None:
        return app.cfg
    if _own is None:
        _own = Config(_st(), _defaults())
    return _own


class _Scratch:
    # Loads the saved values, saves nothing: a dry run of a batch, so that one
    # bad value leaves the flash untouched.
    def __init__(self, vals):
        self.vals = vals

    def load(self, name, default=None):
        return dict(self.vals) if isinstance(self.vals, dict) else default

    def save(self, name, obj):
        pass


def _flush():
    if _lf.current is not None:
        _lf.current.flush()


def apply(pairs, source="repl", prereq=None):
    """[(key, value), ...] all or nothing (tools/configure.py); True if done.
    prereq: the certificate check of SecurityProfile 2 and 3 (Config.prereq)."""
    cfg = _cfg()
    quiet = log.level
    log.level = log.ERROR + 1       # the dry run changes nothing: nothing to log
    try:
        dry = Config(_Scratch(_st().load("config", None)), _defaults())
        dry.prereq = prereq
        order, why = settle(dry, pairs, source)
    finally:
        log.level = quiet
    was = cfg.prereq
    cfg.prereq = prereq or was
    try:
        return _apply(cfg, order, why, pairs, source)
    finally:
        cfg.prereq = was


def _apply(cfg, order, why, pairs, source):
    if why:
        for kv in pairs:
            if kv[0] in why:
                st, msg = why[kv[0]]
                print("refused: " + msg + ("; setup.show(True) lists the keys"
                                           if st == "NotSupported" else ""))
        if len(pairs) > 1:
            print("nothing changed")
        return False
    reboot = False
    for k, v in order:
        st, msg = cfg.set(k, v, source)
        if st not in _OK:
            print("refused: " + msg)
            _flush()
            return False
        reboot = reboot or st == "RebootRequired"
        print("ok: " + msg)
    if reboot:
        print(RESTART)
    if source == "repl":
        _security_event("set " + ", ".join([k for k, _v in order]))
    _flush()
    return True


def _security_event(what):
    # A change by hand at the serial port (whitepaper section 8): queued for
    # the central system, by the running firmware or straight on flash.
    app = _ran()[0]
    if app is not None and not _ran()[1]:
        app.cp.security.event("ReconfigurationOfSecurityParameters", "REPL: " + what)
        return
    from firmware.ocpp.secevents import record
    try:
        record(_st(), "ReconfigurationOfSecurityParameters", "REPL: " + what)
    except OSError as e:
        print("note: the security event could not be kept on flash: %s" % e)


def set(key, value):
    apply([(key, value)])


def wifi(ssid, password=""):
    apply([("wifi_ssid", ssid), ("wifi_password", password)])


def csms(url, charge_point_id):
    if isinstance(url, str) and isinstance(charge_point_id, str) and charge_point_id \
            and url.rstrip("/").endswith("/" + charge_point_id):
        print("note: the firmware adds /%s to the URL itself; give the URL without it"
              % charge_point_id)
    apply([("csms_url", url), ("charge_point_id", charge_point_id)])


def security(profile, key=None, ca=None, cert=None):
    # 1 and 2 take the AuthorizationKey, 2 and 3 the CA file; 3 see setup_sp3.py.
    pairs = []
    if key is not None:
        pairs.append(("AuthorizationKey", key))
    if ca:
        from firmware import cacert
        try:
            cacert.ders(ca)
        except OSError:
            print("refused: ca_cert_file: no file %r on the board; copy it first "
                  "(mpremote cp ca.pem :ca.pem)" % (ca,))
            return
        except ValueError as e:
            print("refused: ca_cert_file: %s must hold the central system's CA certificate, "
                  "PEM or DER; %s" % (ca, e))
            return
    if ca is not None:
        pairs.append(("ca_cert_file", ca))
    pairs.append(("SecurityProfile", profile))
    prereq = None
    if profile == 3:
        from firmware import setup_sp3      # loaded only here
        prereq = setup_sp3.prepare(_st(), _cfg(), ca or _cfg().get("ca_cert_file"), cert, DATA,
                                   _security_event)
        if prereq is None:
            return
    if apply(pairs, prereq=prereq) and profile > 1 and _cfg().get("csms_url")[:4] != "wss:":
        print("note: SecurityProfile %d is TLS: csms_url should start with wss://" % profile)


def mqtt(url, user=None, password=None, prefix=None):
    """The MQTT broker (mqtt:// or mqtts://); url "" switches MQTT off."""
    pairs = [("mqtt_url", url)]
    for k, v in (("mqtt_user", user), ("mqtt_password", password), ("mqtt_prefix", prefix)):
        if v is not None:
            pairs.append((k, v))
    apply(pairs)


def missing():
    """The settings the charger cannot work without, still unset."""
    cfg = _cfg()
    out = []
    if net.network_module() is not None and not cfg.get("wifi_ssid"):
        out.append("wifi_ssid")
    for k in ("csms_url", "charge_point_id"):
        if not cfg.get(k):
            out.append(k)
    return out


def _hint(miss):
    calls = []
    if "wifi_ssid" in miss:
        calls.append("setup.wifi('ssid', 'password')")
    if "csms_url" in miss or "charge_point_id" in miss:
        calls.append("setup.csms('ws://host:port/path', 'charger-id')")
    return ("not configured (missing %s): press Ctrl-C for the REPL, then: import setup; "
            "%s; press Ctrl-D to restart; setup.help() for more"
            % (", ".join(miss), "; ".join(calls)))


def show(all=False):
    cfg = _cfg()
    lines = cfg.show()
    for head, dev in (("device settings:", True), ("OCPP keys:", False)):
        print(head)
        for i in range(len(KEYS)):
            f = KEYS[i][1]
            if bool(f & DEV) != dev or (f & RO and not all):
                continue
            print("  " + lines[i])
    miss = missing()
    if miss:
        print(_hint(miss))


def help():
    print(_HELP)


def status():
    miss = missing()
    print("configuration: " + ("complete" if not miss else _hint(miss)))
    print("network: " + net.describe())
    app, stopped = _ran()
    if app is not None:
        s = app.status()
        print("central system: %s%s, boot %s" % (
            "online" if s.get("online") else "offline",
            " when the firmware stopped" if stopped else "", s.get("boot")))
    lf = _lf.current
    if lf is not None:
        print("log: %s, %d bytes waiting, %d written" % (lf.path(0), lf.pending(), lf.written))
    if MICROPYTHON:
        import gc
        gc.collect()
        print("heap: %d bytes free, %d used" % (gc.mem_free(), gc.mem_alloc()))


def logs(nbytes=1500):
    lf = _lf.current
    if lf is not None:
        lf.flush()
    print(_lf.tail(DATA, nbytes, _log_opts()["files"]))


def _device():
    d = _st().load("device", None)
    return d if isinstance(d, dict) else {}


def _log_opts():
    o = {}
    for k in _LOG:
        o[k] = _LOG[k][3]
    o.update(_device().get("log") or {})
    return o


def _why_not(v, rule):
    # None if v fits the rule (kind, lowest, highest or choices, default),
    # else what is allowed.
    kind, lo, hi, _d = rule
    if kind is int:
        if isinstance(v, int) and not isinstance(v, bool) and (lo is None or lo <= v <= hi):
            return None
        return "an integer" + ("" if lo is None else " from %d to %d" % (lo, hi))
    if kind is dict:
        if isinstance(v, dict) and all(isinstance(k, str) and isinstance(v[k], (int, str))
                                       and not isinstance(v[k], bool) for k in v):
            return None
        return "a dict of signal name to GPIO number"
    if kind is tuple:
        return None if v in lo else "one of " + ", ".join(lo)
    if isinstance(v, kind):
        return None
    return "True or False" if kind is bool else "text"


def _options(section, label, table, opts):
    d = _device()
    cur = dict(d.get(section) or {})
    if not opts:
        print("%s: %s" % (label, cur or "defaults"))
        return
    for k in opts:
        if k not in table:
            print("refused: %s is not a %s option; allowed: %s"
                  % (k, label, ", ".join(sorted(table))))
            return
        why = None if opts[k] is None else _why_not(opts[k], table[k])
        if why:
            print("refused: %s option %s must be %s (None removes it)" % (label, k, why))
            return
    was = dict(cur)
    for k in opts:
        if opts[k] is None:
            cur.pop(k, None)
        else:
            cur[k] = opts[k]
    if cur == was:
        print("ok: %s options already %s" % (label, cur or "defaults"))
        return
    d[section] = cur
    try:
        _st().save("device", d)
    except OSError as e:
        print("refused: cannot save the %s options (%s)" % (label, e))
        return
    print("ok: %s options %s" % (label, cur or "defaults"))
    print(RESTART)


def board(**opts):
    """Hardware options of the board driver (boards/README.md)."""
    from boardopts import OPTIONS
    _options("board", "board", OPTIONS, opts)


def meter(the_board=None):
    """Read each configured Modbus meter once and print what it read, or one
    line saying why not (no answer, another address, garbled: baud/parity)."""
    import asyncio
    from firmware.meterbus import probe
    b = the_board or getattr(_ran()[0], "board", None)
    if b is None:
        import board as _bm
        b = _bm.Board(dict(_device().get("board") or {}, data_dir=DATA))
    try:
        lines = asyncio.run(probe(b, _cfg(), getattr(b, "connectors", 1)))
    except Exception as e:
        lines = ["Modbus: %r" % e]
    for line in lines:
        print(line)
    return lines


def logfile(**opts):
    """kb, files: log file size; trace: OCPP frames in the log; level; ntp server."""
    _options("log", "log", _LOG, opts)


def trace(on=True):
    logfile(trace=bool(on))


def reset(everything=False):
    """Factory settings. everything=True also erases the charger's data
    (transaction queue, authorization cache, logs)."""
    global _own
    need = _cfg().reset()
    d = _device()
    _st().remove("device")
    if everything:
        for fn in os.listdir(DATA):
            try:
                os.remove(DATA + "/" + fn)
            except OSError:
                pass
    _own = None
    _security_event("factory reset" + (" with the data erased" if everything else ""))
    print("ok: settings back to factory defaults%s" % (" and data erased" if everything else ""))
    if need or d or everything:
        print(RESTART)
    _flush()


# -- start (main.py) ----------------------------------------------------------

def boot(board_mod, on_start=None):
    """What main.py runs: firmware/setup_boot.py, loaded only now.
    on_start(app, board), if given, is called once the application exists and
    before it runs (the emulated chip's test channel uses it)."""
    from firmware import setup_boot
    setup_boot.boot(board_mod, DATA, _device, _log_opts, missing, _hint, on_start)
