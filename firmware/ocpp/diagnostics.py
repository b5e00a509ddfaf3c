"""Diagnostics and log uploads (spec 5.9 and 4.4; whitepaper N01, GetLog with
LogStatusNotification): one file is made on flash, then uploaded from there
in chunks to the location, ftp:// (passive), http:// or https:// (PUT, or
POST when the server refuses PUT), `retries` times more `retryInterval`
seconds apart when it fails (defaults 3 and 60).

    d = Diagnostics(cfg, store, out, security, dump, tls)
    d.start(kind, location, oldest, latest, retries, interval, rid=None) -> file name
        kind "GetDiagnostics", "DiagnosticsLog" or "SecurityLog"; oldest and
        latest are wall seconds or None
    d.next_message(), d.trigger(kind)   for the outbox and TriggerMessage

The file (store.FILES "upload", replaced by the next one): a short status dump
(dump(): version, slot, settings without secrets, queue, faults) and the
rotating log's lines (lib/logfile.py) between oldest and latest, or the
security log (firmware/ocpp/secevents.py). A log line carries its wall time
when the clock was set; one without takes the time of the line before it.
"""
import asyncio
import log
import logfile
from compat import iso, parse_iso, sleep_ms

FILE = "upload"
RETRIES = 3
INTERVAL_S = 60
# GetLog's statuses for a failed upload, by TransferError kind (N01.FR.10).
_LOG_FAIL = {"auth": "PermissionDenied", "protocol": "BadMessage",
             "refused": "NotSupportedOperation"}


def _stamp(line, last):
    if len(line) > 20 and line[4:5] == b"-" and line[10:11] == b"T" and line[19:20] == b"Z":
        try:
            return parse_iso(line[:20].decode())
        except ValueError:
            pass
    return last


class Diagnostics:
    def __init__(self, cfg, store, out, security, dump, tls=None):
        self.cfg = cfg
        self.store = store
        self.out = out
        self.security = security
        self.dump = dump
        self.tls = tls
        self.job = None         # {"kind", "url", "name", "retries", "interval", "rid"}
        self._pending = []      # (action, payload) not yet sent
        self._task = None

    def start(self, kind, location, oldest=None, latest=None, retries=None, interval=None,
              rid=None):
        """Make the file and start the upload; (file name, an upload was cancelled)."""
        cancelled = self._task is not None
        if cancelled:
            self._task.cancel()
            self._task = None
        name = "%s-%s-%s.txt" % ("securitylog" if kind == "SecurityLog" else "diagnostics",
                                 self.cfg.get("charge_point_id") or "charger",
                                 iso().replace("-", "").replace(":", ""))
        self.job = {"kind": kind, "url": location, "name": name, "rid": rid,
                    "retries": RETRIES if retries is None else retries,
                    "interval": INTERVAL_S if interval is None else interval}
        try:
            size = self._make(kind, oldest, latest)
        except OSError as e:
            log.error("diag", "cannot write the file to upload: %s", e)
            self._report("UploadFailed", "cannot write the file to upload: %s" % e)
            return None, cancelled
        self.job["size"] = size
        self._task = asyncio.create_task(self._upload())
        return name, cancelled

    def _make(self, kind, oldest, latest):
        path = self.store.path(FILE)
        n = 0
        with open(path, "wb") as f:
            for line in self.dump():
                b = (line + "\n").encode()
                f.write(b)
                n += len(b)
            if kind == "SecurityLog":
                f.write(b"security log:\n")
                n += 14
                for line in self.security.lines():
                    b = line.encode()
                    f.write(b)
                    n += len(b)
            else:
                n += self._logs(f, oldest, latest)
        return n

    def _logs(self, f, oldest, latest):
        lf = logfile.current
        if lf is not None:
            lf.flush()
        folder = lf.folder if lf is not None else self.store.root
        files = lf.files if lf is not None else 2
        head = ("log%s%s:\n" % (" from " + iso(oldest) if oldest else "",
                                " to " + iso(latest) if latest else "")).encode()
        f.write(head)
        n = len(head)
        t = None
        for i in range(files - 1, -1, -1):
            p = folder + ("/log.txt" if i == 0 else "/log.%d.txt" % i)
            try:
                src = open(p, "rb")
            except OSError:
                continue
            with src:
                for line in src:
                    t = _stamp(line, t)
                    if (oldest and (t is None or t < oldest)) or (latest and t and t > latest):
                        continue
                    f.write(line)
                    n += len(line)
        return n

    async def _upload(self):
        from firmware.transfer import upload
        from netconn import TransferError
        j = self.job
        tries = 0
        try:
            while True:
                tries += 1
                self._report("Uploading", "%s to %s (%d bytes, try %d)" % (
                    j["name"], j["url"][:80], j["size"], tries))
                try:
                    await upload(j["url"], j["name"], self.store.path(FILE), j["size"], self.tls)
                    self._report("Uploaded", j["name"])
                    return
                except (TransferError, OSError) as e:
                    kind = getattr(e, "kind", "local")
                    if tries > j["retries"] or kind == "local":
                        self._report("UploadFailed", str(e), kind)
                        return
                    log.warn("diag", "upload failed (try %d of %d): %s; again in %d s", tries,
                             j["retries"] + 1, e, j["interval"])
                await sleep_ms(j["interval"] * 1000)
        finally:
            self._task = None

    def _report(self, st, why=None, kind=None):
        j = self.job
        if st in ("UploadFailed",):
            log.error("diag", "upload failed: %s", why)
        elif why:
            log.info("diag", "%s: %s", st, why)
        if j["kind"] == "GetDiagnostics":
            msg = ("DiagnosticsStatusNotification", {"status": st})
        else:
            if st == "UploadFailed":
                st = _LOG_FAIL.get(kind, "UploadFailure")
            msg = ("LogStatusNotification", {"status": st, "requestId": j["rid"]})
        self._pending.append(msg)
        del self._pending[:-4]
        self.out.wake.set()

    def busy(self):
        return self._task is not None

    def next_message(self):
        if not self._pending:
            return None
        action, payload = self._pending.pop(0)
        return action, payload, None

    def trigger(self, diagnostics=True):
        """(action, payload) of a triggered status: Uploading while busy, else Idle."""
        up = self.busy() and (self.job["kind"] == "GetDiagnostics") == diagnostics
        p = {"status": "Uploading" if up else "Idle"}
        if diagnostics:
            return "DiagnosticsStatusNotification", p
        if up:
            p["requestId"] = self.job["rid"]
        return "LogStatusNotification", p
