# ClearCache (spec 5.4, errata 3.23). The cache is implemented (errata 3.23's
# Rejected is for a charge point without one), so the answer is Accepted once
# it is empty in RAM and on flash, also while AuthorizationCacheEnabled is
# false: stale entries must not come back when it is turned on again. Rejected
# when the file cannot be removed.
SCHEMA = {}


def handle(cp, p):
    return {"status": "Accepted" if cp.auth.clear_cache() else "Rejected"}
