"""One typed registry of configuration keys, shared by ChangeConfiguration,
GetConfiguration and the serial REPL. The keys and their rules are the table in
firmware/config_keys.py.

    cfg = Config(store, defaults={"NumberOfConnectors": 2})
    cfg.get("HeartbeatInterval")            -> 300 (int, bool, str, or list of str)
    cfg.set("HeartbeatInterval", "60")      -> ("Accepted", "HeartbeatInterval = 60")
    cfg.entry("HeartbeatInterval")          -> (False, "60")  for GetConfiguration
    cfg.watch(fn)                           fn(name, value) after each change
    cfg.show()                              "name = value" lines, secrets masked
    settle(cfg, [(key, value), ...], source) -> (done in order, {key: (status, msg)})

set() answers with the ChangeConfiguration status and a one-line message that
says what is allowed. `source` "ocpp" means the central system: device-only keys
are NotSupported to it and SecurityProfile may only go up (whitepaper A05.FR.01);
any other source (the REPL, the BootNotification interval) may also lower it.
Read-only keys are read-only for everyone; a board changes them with `defaults`.
Names are matched case-insensitively (OCPP keys are CiString50).

Only values set explicitly are kept and persisted, as one Store file written
atomically when a value actually changes; a file that does not check falls back
to the defaults. A REBOOT key's new value is what get() returns at once; the
modules that read it at start-up see it after the restart (reboot_pending()).

Secrets (AuthorizationKey, wifi_password, mqtt_password) are write-only: get() gives them to the
code that needs them, but show() masks them, logs never carry them, and entry()
returns the key without a value, so GetConfiguration lists the key (the central
system learns it can set one, spec 9 "key present means supported") and omits
the optional `value`.
"""
import log
from firmware.config_keys import (KEYS, MEASURANDS, ROTATIONS, INT, BOOL, STR, CSL, KIND,
                                  RO, REBOOT, DEV, SECRET)

_INT_MAX = 2147483647


def _find(name):
    # The table is small and lookups are rare enough that a scan beats a
    # name -> index dict in RAM; exact spelling first, any case second.
    for i in range(len(KEYS)):
        if KEYS[i][0] == name:
            return i
    if isinstance(name, str):
        low = name.lower()
        for i in range(len(KEYS)):
            if KEYS[i][0].lower() == low:
                return i
    return -1


def _printable(s):
    for c in s:
        if not 32 <= ord(c) < 127:
            return False
    return True


def _int_msg(e):
    lo, hi, unit = e[3]
    if hi is None:
        s = "%s must be an integer >= %d" % (e[0], lo)
    else:
        s = "%s must be an integer from %d to %d" % (e[0], lo, hi)
    return s + (" (%s)" % unit if unit else "")


def _parse_int(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if not isinstance(v, str):
        return None
    s = v.strip()
    t = s[1:] if s[:1] in ("+", "-") else s
    if not t or len(t) > 10:
        return None
    for c in t:
        if not "0" <= c <= "9":     # isdigit() also takes other scripts' digits
            return None
    return int(s)


def _check_str(e, s, source):
    lo, hi, check = e[3]
    n = e[0]
    if isinstance(check, tuple):
        if s not in check:
            return "%s must be one of %s" % (n, ", ".join(check))
    elif check == "url":
        if s and not ((s.startswith("ws://") or s.startswith("wss://")) and len(s) > 6
                      and len(s) <= hi and _printable(s) and " " not in s):
            return "%s must be a ws:// or wss:// URL of at most %d characters" % (n, hi)
    elif check == "id":
        if len(s) > hi or not _printable(s) or ":" in s:
            return "%s must be at most %d printable ASCII characters without ':'" % (n, hi)
    elif check == "key":
        # Empty clears the key, which only the device owner may do.
        if not (s == "" and source != "ocpp") and not (lo <= len(s) <= hi and _printable(s)):
            return "%s must be %d to %d printable ASCII characters" % (n, lo, hi)
    elif check == "ssid":
        if len(s.encode()) > hi:
            return "%s must be at most %d bytes" % (n, hi)
    elif check == "wpa":
        if s and not (8 <= len(s) <= hi and _printable(s)):
            return "%s must be empty (open network) or 8 to %d printable ASCII characters" % (n, hi)
    elif check == "mqtt":
        if s and not _mqtt_url(s, hi):
            return ("%s must be mqtt://host[:port] or mqtts://host[:port], at most %d characters "
                    "(user and password go in mqtt_user and mqtt_password)" % (n, hi))
    elif check == "topic":
        if len(s) > hi or not _printable(s) or " " in s or "+" in s or "#" in s \
                or s.startswith("/") or s.endswith("/") or "//" in s:
            return ("%s must be at most %d printable ASCII characters without spaces, + and #, "
                    "not starting or ending with / (empty: evse/<charge_point_id>)" % (n, hi))
    elif check == "text":
        if len(s) > hi or not _printable(s):
            return "%s must be at most %d printable ASCII characters" % (n, hi)
    elif len(s) < lo or len(s) > hi:
        return "%s must be %d to %d characters" % (n, lo, hi) if lo else \
            "%s must be at most %d characters" % (n, hi)
    return None


def _mqtt_url(s, hi):
    if len(s) > hi or not _printable(s) or " " in s:
        return False
    if s.startswith("mqtt://"):
        rest = s[7:]
    elif s.startswith("mqtts://"):
        rest = s[8:]
    else:
        return False
    if rest.endswith("/"):
        rest = rest[:-1]
    host, colon, port = rest.rpartition(":")
    if not colon:
        host = rest
    elif not port.isdigit() or not 0 < int(port) < 65536:
        return False
    return bool(host) and "@" not in host and "/" not in host


def _ocpp_str(kind, v):
    if kind == BOOL:
        return "true" if v else "false"
    if kind == CSL:
        return ",".join(v)
    return str(v)


class Config:
    def __init__(self, store, defaults=None, name="config"):
        self._store = store
        self._name = name
        self._defs = {}
        self._vals = {}
        self._watchers = []
        self._pending = []
        self.prereq = None      # fn(profile) -> why SecurityProfile 2/3 cannot be set, or None
        # Lists last: their checks read connectors and the MaxLength keys.
        for k in sorted(defaults or (), key=lambda k: _find(k) >= 0 and KEYS[_find(k)][1] & KIND == CSL):
            i = _find(k)
            if i < 0:
                raise ValueError("default for unknown configuration key %r" % (k,))
            e = KEYS[i]
            if isinstance(e[3], str):       # a mirror: the default is the source's
                e = KEYS[_find(e[3][1:])]
            v, err = self._coerce(e, defaults[k], "defaults")
            if err:
                raise ValueError("bad default: " + err)
            self._defs[e[0]] = v
        self._load()

    def _load(self):
        saved = self._store.load(self._name, None)
        if saved is None:
            return
        if not isinstance(saved, dict):
            log.warn("config", "saved configuration is not a table; using defaults")
            return
        for k in saved:
            i = _find(k)
            if i < 0 or KEYS[i][0] != k or KEYS[i][1] & RO:
                log.warn("config", "saved key %s is not settable in this firmware; ignored", k)
        # Lists last: ConnectorPhaseRotation is checked against connectors.
        for last in (False, True):
            for e in KEYS:
                k = e[0]
                if k not in saved or e[1] & RO or ((e[1] & KIND == CSL) != last):
                    continue
                v, err = self._coerce(e, saved[k], "file")
                if err:
                    log.warn("config", "saved %s ignored: %s", k, err)
                else:
                    self._vals[k] = v

    def _raw(self, e):
        n = e[0]
        if isinstance(e[3], str):
            return self._raw(KEYS[_find(e[3][1:])])
        if n in self._vals:
            return self._vals[n]
        if n in self._defs:
            return self._defs[n]
        return e[2]

    def get(self, name):
        i = _find(name)
        if i < 0:
            raise KeyError("unknown configuration key %r" % (name,))
        e = KEYS[i]
        v = self._raw(e)
        # A copy, so a caller cannot change the configuration behind our back.
        return list(v) if e[1] & KIND == CSL else v

    def _max_items(self, most):
        return self._raw(KEYS[_find(most)]) if isinstance(most, str) else most

    def _coerce(self, e, value, source):
        """(value in stored form, None) or (None, one-line reason)."""
        kind = e[1] & KIND
        n = e[0]
        if kind == INT:
            v = _parse_int(value)
            lo, hi, _u = e[3]
            if v is None or v < lo or v > (_INT_MAX if hi is None else hi):
                return None, _int_msg(e)
            return v, None
        if kind == BOOL:
            if isinstance(value, bool):
                return value, None
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true", None
            return None, "%s must be true or false" % n
        if kind == STR:
            if not isinstance(value, str):
                return None, "%s must be text" % n
            err = _check_str(e, value, source)
            return (None, err) if err else (value, None)
        return self._coerce_csl(e, value)

    def _coerce_csl(self, e, value):
        n = e[0]
        allowed, most = e[3]
        if isinstance(value, str):
            items = [s.strip() for s in value.split(",")] if value.strip() else []
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            return None, "%s must be a comma-separated list" % n
        most = self._max_items(most)
        if len(items) > most:
            return None, "%s takes at most %d item(s) (%sMaxLength)" % (n, most, n)
        if allowed == "measurand":
            allowed = MEASURANDS
        out = []
        seen = []
        for it in items:
            if not isinstance(it, str) or not it.strip():
                return None, "%s has an empty item; separate items with single commas" % n
            it = it.strip()
            if allowed == "phase":
                v, key = self._phase(it)
                if v is None:
                    return None, ("%s items are <connector>.<rotation>, connector 0 to %d, "
                                  "rotation one of %s; not %r") % (
                        n, self._raw(KEYS[_find("connectors")]), ", ".join(ROTATIONS), it)
            else:
                v = None
                for a in allowed:
                    if a.lower() == it.lower():
                        v = a
                        break
                if v is None:
                    return None, "%s: %r is not supported; allowed: %s" % (
                        n, it, ", ".join(allowed) or "nothing")
                key = v
            if key in seen:
                return None, "%s lists %r twice" % (n, key)
            seen.append(key)
            out.append(v)
        return tuple(out), None

    def _phase(self, it):
        dot = it.find(".")
        c = _parse_int(it[:dot]) if dot > 0 else None
        if c is None or c < 0 or c > self._raw(KEYS[_find("connectors")]):
            return None, None
        rot = it[dot + 1:].lower()
        for r in ROTATIONS:
            if r.lower() == rot:
                return "%d.%s" % (c, r), c
        return None, None

    def _cross(self, n, v, source):
        # Rules that involve more than one key (security whitepaper A05).
        if n == "SecurityProfile":
            cur = self._raw(KEYS[_find(n)])
            if source == "ocpp" and v <= cur:
                return "SecurityProfile can only be raised over OCPP (it is %d)" % cur
            if v in (1, 2) and not self._raw(KEYS[_find("AuthorizationKey")]):
                return "SecurityProfile %d needs an AuthorizationKey (16 to 40 characters) first" % v
            if self.prereq is not None and v >= 2:
                # The certificates live outside the registry (the charge point
                # wires this: firmware/cpcert.py): A05.FR.03 and A05.FR.04.
                return self.prereq(v)
            if v >= 2 and not self._raw(KEYS[_find("ca_cert_file")]):
                return "SecurityProfile %d needs a CA certificate: set ca_cert_file first" % v
            if v == 3:
                return "SecurityProfile 3 needs a charge point certificate installed first"
        elif n == "AuthorizationKey" and not v:
            p = self._raw(KEYS[_find("SecurityProfile")])
            if p in (1, 2):
                return "AuthorizationKey cannot be cleared while SecurityProfile is %d" % p
        elif n == "ca_cert_file" and not v and self._raw(KEYS[_find("SecurityProfile")]) == 2:
            return "ca_cert_file cannot be cleared while SecurityProfile is 2"
        return None

    def set(self, name, value, source="ocpp"):
        i = _find(name)
        if i < 0 or (source == "ocpp" and KEYS[i][1] & DEV):
            return "NotSupported", "%s is not a supported configuration key" % (name,)
        e = KEYS[i]
        n = e[0]
        flags = e[1]
        if flags & RO:
            if isinstance(e[3], str):
                return "Rejected", "%s is read-only; it follows %s" % (n, e[3][1:])
            return "Rejected", "%s is read-only" % n
        v, err = self._coerce(e, value, source)
        if err is None:
            err = self._cross(n, v, source)
        if err is not None:
            return "Rejected", err
        shown = "<hidden>" if flags & SECRET else _ocpp_str(flags & KIND, v)
        status = "RebootRequired" if flags & REBOOT else "Accepted"
        if self._raw(e) == v:
            if n not in self._pending:
                status = "Accepted"
            return status, "%s is already %s" % (n, shown)
        had = n in self._vals
        old = self._vals.get(n)
        self._vals[n] = v
        try:
            self._store.save(self._name, self._vals)
        except OSError as ex:
            if had:
                self._vals[n] = old
            else:
                del self._vals[n]
            return "Rejected", "%s not changed: cannot save the configuration (%s)" % (n, ex)
        if flags & SECRET:
            log.info("config", "%s changed by %s", n, source)
        else:
            log.info("config", "%s = %s (by %s)", n, shown, source)
        if flags & REBOOT:
            if n not in self._pending:
                self._pending.append(n)
            msg = "%s = %s; restart to apply" % (n, shown)
        else:
            msg = "%s = %s" % (n, shown)
        out = self.get(n)
        for fn in self._watchers:
            try:
                fn(n, out)
            except Exception as ex:
                log.error("config", "watcher failed on %s: %s", n, ex)
        return status, msg

    def reset(self):
        """Forget every value set (factory settings); True if a restart is needed."""
        changed = list(self._vals)
        self._vals = {}
        self._store.remove(self._name)
        need = False
        for n in changed:
            if KEYS[_find(n)][1] & REBOOT:
                need = True
                if n not in self._pending:
                    self._pending.append(n)
        log.info("config", "reset to defaults (%d value(s) forgotten)", len(changed))
        return need

    def keys(self, ocpp_only=True):
        for e in KEYS:
            if not (ocpp_only and e[1] & DEV):
                yield e[0]

    def entry(self, name):
        i = _find(name)
        if i < 0 or KEYS[i][1] & DEV:
            return None
        e = KEYS[i]
        if e[1] & SECRET:
            return False, None
        return bool(e[1] & RO), _ocpp_str(e[1] & KIND, self._raw(e))

    def canonical(self, name):
        """The key's own spelling, or None when unknown."""
        i = _find(name)
        return KEYS[i][0] if i >= 0 else None

    def watch(self, fn):
        self._watchers.append(fn)

    def unwatch(self, fn):
        if fn in self._watchers:
            self._watchers.remove(fn)

    def reboot_pending(self):
        return list(self._pending)

    def show(self, ocpp_only=False):
        out = []
        for e in KEYS:
            if ocpp_only and e[1] & DEV:
                continue
            v = self._raw(e)
            if e[1] & SECRET:
                s = "<hidden>" if v else "<not set>"
            else:
                s = _ocpp_str(e[1] & KIND, v)
            if e[1] & RO:
                s += "  (read-only)"
            if e[0] in self._pending:
                s += "  (restart to apply)"
            out.append("%s = %s" % (e[0], s))
        return out


def settle(cfg, pairs, source):
    """Set [(key, value), ...] in whatever order works: keys that depend on
    each other (SecurityProfile needs its AuthorizationKey first, clearing the
    key needs the profile lowered first) go through once what they need has.
    Returns (the pairs set, in the order they went through; {key: (status,
    message)} for the ones that never did)."""
    todo = list(pairs)
    done = []
    why = {}
    moved = True
    while todo and moved:
        moved = False
        for kv in list(todo):
            st, msg = cfg.set(kv[0], kv[1], source)
            if st == "Accepted" or st == "RebootRequired":
                done.append(kv)
                todo.remove(kv)
                moved = True
            else:
                why[kv[0]] = (st, msg)
    for kv in done:
        why.pop(kv[0], None)
    return done, why
