"""A firmware update (spec 5.19 and 4.5, whitepaper L01): UpdateFirmware and
SignedUpdateFirmware become one job, kept on flash in the store file
"fwjob", so that it goes on after a power cut or the reboot into the new
version, and reports every step with FirmwareStatusNotification (or, for a
signed update, SignedFirmwareStatusNotification with its requestId).

    up = FirmwareUpdate(cfg, store, board, conns, outbox, security, tls)
    up.start(job)        a request the action checked: {"url", "at", "retries",
                         "interval", "signed", "rid", "cert", "sig"}
    up.tick()            from the charge point's loop: what is due
    up.next_message()    the status to report, for the outbox
    up.status()          the current status (TriggerMessage), "Idle" when none

Steps, each a status: wait for retrieveDate; Downloading: the bundle streams
into the slot that neither runs nor is the fallback (firmware/install.py,
firmware/bundle.py), every file checked against its SHA-256, the bundle
refused at its manifest when it is for another board or CPU, older, or too
big for the flash; a transfer failure is retried `retries` times,
`retryInterval` seconds apart (defaults 3 and 60); Downloaded (signed:
SignatureVerified once the whole file's signature checks); wait until no
transaction runs (a running one is not interrupted); Installing: every hash
checked again, the switch written in one atomic write, the reset. The new
version boots on trial (lib/fwslot.py) and confirms once BootNotification is
accepted and every EVSE controller runs: Installed, and the security event
FirmwareUpdated. A rollback by the boot code is reported as InstallationFailed
with its reason by the version that runs again.
"""
import asyncio
import binascii
import hashlib
import log
import fwslot
from compat import wall, iso, ticks_ms, ticks_diff, sleep_ms
from firmware import install
from firmware.version import VERSION

JOB = "fwjob"
RETRIES = 3
INTERVAL_S = 60
# How a signed update's status reads as a 1.6 FirmwareStatus (TriggerMessage).
_AS_16 = {"SignatureVerified": "Downloaded", "InvalidSignature": "InstallationFailed",
          "InstallVerificationFailed": "InstallationFailed", "InstallRebooting": "Installing",
          "DownloadScheduled": "Idle", "DownloadPaused": "Idle", "InstallScheduled": "Downloaded"}
_END = ("Installed", "InstallationFailed", "DownloadFailed", "InvalidSignature",
        "InstallVerificationFailed")


class FirmwareUpdate:
    def __init__(self, cfg, store, board, conns, out, security, tls=None):
        self.cfg = cfg
        self.store = store
        self.data = store.root
        self.board = board
        self.conns = conns
        self.out = out
        self.security = security
        self.tls = tls
        self.verify = None          # fn(cert PEM, digest, sig bytes) -> why or None (signed.py)
        self.queue = None           # the transaction queue (txqueue.py), flushed before a restart
        self._task = None
        self._sending = False
        self._next_try = None
        j = store.load(JOB, None)
        self.job = j if isinstance(j, dict) else None
        if self.job is not None:
            self._resume()

    # ---- the job on flash
    def _save(self):
        self.store.save(JOB, self.job)

    def _status(self, st, why=None):
        j = self.job
        j["status"] = st
        # Every state is reported, in order (L01.FR.01), even when they follow
        # each other faster than the central system answers.
        owe = j.setdefault("owe", [])
        owe.append(st)
        del owe[:-8]
        if st in _END:
            j["phase"] = "done"
            if st != "Installed" and j.get("slot") and j["slot"] != fwslot.chosen:
                install.clear(self.data, j["slot"])     # its flash is free again
        self._save()
        if why:
            (log.error if st in _END and st != "Installed" else log.info)("update", "%s: %s", st, why)
        else:
            log.info("update", "%s", st)
        self.out.wake.set()

    def status(self):
        j = self.job
        if j is None or j.get("phase") == "done":
            return "Idle"
        return j.get("status") or "Idle"

    def busy(self):
        return self.job is not None and self.job.get("phase") != "done"

    # ---- a new request
    def start(self, job):
        """Replace any update not yet installed; True when one was cancelled."""
        cancelled = self.busy() and self.job.get("phase") in ("wait", "download", "downloaded")
        if self._task is not None:
            self._task.cancel()
            self._task = None
        job.update({"phase": "wait", "tries": 0, "status": None, "owe": [], "from": VERSION})
        self.job = job
        self._next_try = None
        self._save()
        log.info("update", "firmware from %s after %s", job["url"][:80], iso(job["at"]))
        if job["signed"]:
            self._status("DownloadScheduled")
        return cancelled

    # ---- after a restart
    def _resume(self):
        j = self.job
        ph = j.get("phase")
        if ph in ("download", "downloaded"):
            # A slot sealed and whole is ready; one cut in the middle of a
            # download (or since damaged) is fetched again.
            j["phase"] = "downloaded" if install.recheck(self.data, j.get("slot", "")) is None \
                else "wait"
            return
        if ph != "install":
            return
        st = fwslot.read(self.data) or {}
        if fwslot.chosen == j["slot"] and fwslot.trial:
            j["phase"] = "trial"
            j["owe"] = []           # Installing went before the reset, or is moot now
            log.info("update", "%s on trial: %s", j.get("version"), fwslot.note)
        elif fwslot.chosen == j["slot"]:
            self._installed()
        elif (st.get("fail") or "").startswith("slot %s:" % j["slot"]):
            self._status("InstallationFailed", "the new version was rolled back (%s); %s runs "
                         "again" % (st["fail"], VERSION))
        else:
            j["phase"] = "downloaded"     # cut before the switch: do it again

    def _installed(self):
        self._status("Installed", "%s -> %s" % (self.job.get("from"), VERSION))
        if self.security is not None:
            self.security.event("FirmwareUpdated", "%s -> %s" % (self.job.get("from"), VERSION))

    # ---- the loop's work
    def tick(self):
        j = self.job
        if j is None:
            return
        ph = j.get("phase")
        if ph == "trial":
            if self._healthy() and fwslot.confirm(self.data):
                self._installed()
        elif ph == "wait" and self._task is None:
            if (self._next_try is None or ticks_diff(ticks_ms(), self._next_try) >= 0) \
                    and wall() >= j["at"]:
                self._task = asyncio.create_task(self._download())
        elif ph == "downloaded" and self._task is None and not self._charging() \
                and wall() >= j.get("install_at", 0):
            self._task = asyncio.create_task(self._install())

    def _charging(self):
        for conn in self.conns[1:]:
            if conn.tx is not None:
                return True
        return False

    def _healthy(self):
        if self.out.boot != "Accepted":
            return False
        now = ticks_ms()
        for conn in self.conns[1:]:
            ctl = conn.ctl
            if ctl is not None and ticks_diff(now, ctl.last_step_ms) > 2000:
                return False
        return True

    # ---- download and check
    def _fail(self, st, why, retry=False):
        j = self.job
        if retry and j["tries"] <= j["retries"]:
            self._next_try = ticks_ms() + j["interval"] * 1000
            j["phase"] = "wait"
            self._save()
            log.warn("update", "download failed (try %d of %d): %s; again in %d s",
                     j["tries"], j["retries"] + 1, why, j["interval"])
            return
        self._status(st, why)

    async def _download(self):
        # Loaded only for an update: the transfer code stays out of the heap.
        from firmware.bundle import Reader, BundleError
        from firmware.transfer import download
        from netconn import TransferError
        j = self.job
        try:
            j["tries"] += 1
            j["slot"] = slot = install.target(self.data)
            j["phase"] = "download"
            self._status("Downloading", "try %d, into slot %s" % (j["tries"], slot))
            install.clear(self.data, slot)
            folder = fwslot.slot_dir(self.data, slot)
            rd = Reader(folder, self._manifest, self._signature)
            try:
                await download(j["url"], rd.feed, self.tls)
                rd.finish()
            finally:
                rd.abort()
            if j["signed"]:
                self._status("Downloaded", "%d bytes" % rd.got)
                why = self._check_signature(j["cert"], rd.digest(), j["sig"])
                if why:
                    install.clear(self.data, slot)
                    self._invalid("InvalidSignature", "InvalidFirmwareSignature", why)
                    return
                install.seal(self.data, slot, rd.manifest)
                j["version"] = rd.manifest["version"]
                j["phase"] = "downloaded"
                self._status("SignatureVerified")
                if j.get("install_at", 0) > wall():
                    self._status("InstallScheduled", "at %s" % iso(j["install_at"]))
            else:
                install.seal(self.data, slot, rd.manifest)
                j["version"] = rd.manifest["version"]
                j["phase"] = "downloaded"
                self._status("Downloaded", "version %s, %d bytes" % (j["version"], rd.got))
        except TransferError as e:
            self._fail("DownloadFailed", str(e), e.kind != "local")
        except BundleError as e:
            if e.kind == "format":
                # A damaged or cut transfer looks like this too: try again.
                self._fail("DownloadFailed", str(e), True)
            elif e.kind == "signature":
                self._invalid("InvalidSignature" if j["signed"] else "InstallationFailed",
                              "InvalidFirmwareSignature", str(e))
            elif e.kind == "certificate":
                self._invalid("InvalidSignature" if j["signed"] else "InstallationFailed",
                              "InvalidFirmwareSigningCertificate", str(e))
            else:
                self._status("InstallVerificationFailed" if j["signed"] else "InstallationFailed",
                             str(e))
        except OSError as e:
            self._status("InstallationFailed", "cannot write the slot: %s" % e)
        finally:
            self._task = None

    def _invalid(self, st, event, why):
        if self.security is not None:
            self.security.event(event, why)
        self._status(st, why)

    def _manifest(self, m):
        from firmware.bundle import BundleError
        why = install.suits(m, self.board.name, self.cfg.get("update_allow_downgrade"))
        if why is None:
            why = install.room(self.data, self.job["slot"], m)
        if why:
            raise BundleError("refused", why)
        log.info("update", "bundle %s for %s/%s, %d files", m["version"], m["board"], m["arch"],
                 len(m["files"]))

    def _signature(self, manifest_bytes, blk):
        # The bundle's own signature: what UpdateFirmware installs when signed
        # updates are required. A signed request's signature covers the whole
        # file and is checked at the end.
        from firmware.bundle import BundleError
        if self.job["signed"]:
            return
        if blk is None:
            if self.cfg.get("update_signed_only"):
                raise BundleError("signature", "the bundle is not signed and update_signed_only "
                                  "is on: sign it (make release ARGS=\"--key --cert\")")
            return
        if self.verify is None:
            if self.cfg.get("update_signed_only"):
                raise BundleError("signature", "this firmware cannot check signatures")
            return
        why = self._check_cert(blk["cert"])
        if why:
            raise BundleError("certificate", why)
        why = self._check_signature(blk["cert"], hashlib.sha256(manifest_bytes).digest(),
                                    blk["sig"])
        if why:
            raise BundleError("signature", why)

    def _check_cert(self, pem):
        return self.verify(pem, None, None) if self.verify is not None else \
            "this firmware cannot check certificates"

    def _check_signature(self, pem, digest, sig_b64):
        try:
            sig = binascii.a2b_base64(sig_b64)
        except ValueError:
            return "the signature is not base64"
        if self.verify is None:
            return "this firmware cannot check signatures"
        return self.verify(pem, digest, sig)

    # ---- install
    async def _install(self):
        j = self.job
        try:
            why = install.recheck(self.data, j["slot"])
            if why:
                self._status("InstallVerificationFailed" if j["signed"] else "InstallationFailed",
                             why)
                return
            j["phase"] = "install"
            self._status("Installing", "%s -> %s, slot %s" % (VERSION, j.get("version"), j["slot"]))
            install.switch(self.data, j["slot"], self.cfg.get("update_trial_s"))
            if j["signed"]:
                self._status("InstallRebooting")
            # The statuses go first when the link is up; a restart loses nothing
            # (they are on flash, and the new version reports the outcome).
            end = ticks_ms() + 3000
            while j.get("owe") and self.out.can_send() and ticks_diff(end, ticks_ms()) > 0:
                await sleep_ms(50)
            self._save()            # what went needs no second sending
            log.warn("update", "restarting into %s", j.get("version"))
            for conn in self.conns[1:]:
                if conn.ctl is not None:
                    conn.ctl.shutdown()
            # An acknowledgement waiting for a record to carry it: a restart
            # into the new version is no power cut, nothing delivered goes twice.
            if self.queue is not None:
                self.queue.flush()
            await sleep_ms(100)
            self.board.reset()
        except OSError as e:
            self._status("InstallationFailed", "cannot switch: %s" % e)
        finally:
            self._task = None

    # ---- reporting
    def next_message(self):
        j = self.job
        if j is None or not j.get("owe") or self._sending:
            return None
        st = self._sending = j["owe"][0]
        if j.get("signed"):
            return ("SignedFirmwareStatusNotification", {"status": st, "requestId": j["rid"]},
                    self._answer)
        return "FirmwareStatusNotification", {"status": _AS_16.get(st, st)}, self._answer

    def _answer(self, res):
        st, self._sending = self._sending, False
        j = self.job
        owe = j.get("owe") if j is not None else None
        if not isinstance(res, Exception) and owe and owe[0] == st:
            owe.pop(0)
            if j.get("phase") == "done" and not j["owe"]:
                self._save()

    def trigger(self, signed):
        """The message TriggerMessage (signed False) asks for: the current status."""
        st = self.status()
        if signed:
            p = {"status": st}
            if st != "Idle":
                p["requestId"] = self.job["rid"]
            return "SignedFirmwareStatusNotification", p
        return "FirmwareStatusNotification", {"status": _AS_16.get(st, st)}
