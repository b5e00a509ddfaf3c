"""setup.security(3, ...) at the serial REPL (firmware/setup.py): the
charger's key pair made on the board, its certificate request printed (and
kept as data/cp.csr) for the CPO's CA, the chain it makes installed from a
file after the same checks as CertificateSigned (firmware/cpcert.py). A module
of its own so that the REPL API loads none of it for profiles 0 to 2.
"""
from firmware.cpcert import CpCert


class _Roots:
    # The central system's CAs as they will be once this call is applied: the
    # new CA file, or the setting's, and those the central system installed.
    def __init__(self, store, cfg, ca):
        from firmware.certstore import CertStore
        self.ca = ca
        self.own = CertStore(store, cfg)

    def ders(self, use):
        from firmware import cacert
        if not self.ca:
            return self.own.ders(use)
        # The file named here in place of the setting's, with the installed ones.
        return (cacert.ders(self.ca) + self.own._own(use))[:cacert.MAX_CERTS]


def prepare(store, cfg, ca, cert, data, security_event):
    """The charge point certificate of profile 3, its key pair made here if
    need be, its chain installed from the file `cert` when given; then the
    check SecurityProfile 3 gets (config.Config.prereq). None when the call
    stops here: what to do next is printed."""
    roots = _Roots(store, cfg, ca)
    cc = CpCert(store, cfg, roots)
    if cert:
        try:
            with open(cert) as f:
                text = f.read(12000)
        except OSError:
            print("refused: no file %r on the board; copy the certificate chain first" % (cert,))
            return None
        st, why = cc.install(text)
        if st != "Accepted":
            print("refused: %s: %s" % (cert, why))
            return None
        print("ok: charge point certificate installed: %s" % cc.leaf().describe())
        security_event("charge point certificate installed")
    elif cc.usable() is not None:
        if not cc.pending():
            try:
                req = cc.new_request_now()
            except ValueError as e:
                print("refused: %s; setup.set(\"CpoName\", \"Your CPO\") first" % e)
                return None
            with open(data + "/cp.csr", "w") as f:
                f.write(req)
            print("the charger made its key pair; its certificate request "
                  "(also in %s/cp.csr):" % data)
            print(req)
        print("not yet: SecurityProfile 3 needs the charge point certificate. Have the request "
              "signed by the CPO's CA, copy the chain (PEM, leaf first) to the board and call "
              "setup.security(3, ca=\"ca.pem\", cert=\"cp.pem\"); or connect with profile 2 and let the "
              "central system enrol the charger (ExtendedTriggerMessage "
              "SignChargePointCertificate), then raise SecurityProfile to 3")
        return None

    def check(profile):
        if not roots.ders("CentralSystemRootCertificate"):
            return "SecurityProfile %d needs the central system's CA: ca=\"ca.pem\"" % profile
        if profile == 3:
            why = cc.usable()
            if why:
                return "SecurityProfile 3 needs a valid charge point certificate: " + why
        return None
    return check
