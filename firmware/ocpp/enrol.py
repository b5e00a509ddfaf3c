"""Getting the charge point certificate signed (security whitepaper A02, A03):
on ExtendedTriggerMessage(SignChargePointCertificate), and on its own when
the installed certificate nears its end, the charger makes a new key pair
(firmware/cpcert.py), sends its request with SignCertificate, and installs
what CertificateSigned brings after checking it.

    en = Enrolment(cpcert, out, security)
    en.start()                     a request now (a task); False if one is being made
    await en.signed(pem_chain)     "Accepted" | "Rejected" for CertificateSigned
    en.tick(now)                   called about once a second: renewal

A request the central system never answers with a certificate stays on
flash; the renewal asks again a day later (cpcert.RETRY_S), not sooner: the
whitepaper advises against quick retries (A03, error handling), since a CA
that refuses a request will refuse it again.
"""
import asyncio
import log


class Enrolment:
    def __init__(self, cpcert, out, security):
        self.cc = cpcert
        self.out = out
        self.security = security
        self.sent = 0               # SignCertificate requests sent (tests, status)
        self._next_check = 0

    def start(self):
        if self.cc.busy:
            return False
        asyncio.create_task(self._request())
        return True

    async def _request(self):
        try:
            csr = await self.cc.new_request()
        except (ValueError, OSError) as e:
            log.error("enrol", "no certificate request: %s", e)
            return
        if csr is None:
            return
        # Triggered: it may go while the boot is Pending, as the trigger did.
        if self.out.send("SignCertificate", {"csr": csr}, self._answer, True):
            self.sent += 1
        else:
            log.warn("enrol", "offline: the certificate request waits for the renewal check")

    def _answer(self, res):
        if isinstance(res, Exception):
            log.warn("enrol", "SignCertificate: %s", res)
        elif res.get("status") != "Accepted":
            log.warn("enrol", "SignCertificate %s by the central system", res.get("status"))
        else:
            log.info("enrol", "SignCertificate accepted; waiting for CertificateSigned")

    async def signed(self, chain):
        st, why = await self.cc.install_async(chain)
        if st != "Accepted":
            # A02.FR.07: discarded, and the event says why.
            self.security.event("InvalidChargePointCertificate", why)
            return st
        self.security.event("ReconfigurationOfSecurityParameters",
                            "charge point certificate installed")
        if self.cc.on_installed is not None:
            self.cc.on_installed()
        return st

    def tick(self, now):
        # Once a minute is plenty for a deadline counted in days.
        if now is None or now < self._next_check:
            return
        self._next_check = now + 60
        if self.out.can_send() and self.cc.renew_due(now):
            c = self.cc.leaf()
            log.info("enrol", "the charge point certificate ends in %d day(s): renewing",
                     (c.not_after - now) // 86400)
            self.start()
            self._next_check = now + 3600
