# ClearCache (spec 5.4, errata 3.23). The cache is implemented, so the answer is
# Accepted once it is empty in RAM and on flash, also while
# AuthorizationCacheEnabled is false: stale entries must not come back when it
# is turned on again. Rejected when the file cannot be removed, or when no
# cache exists at all (errata 3.23: Rejected without a cache).
SCHEMA = {}


def handle(cp, p):
    auth = getattr(cp, "auth", None)
    if auth is None:
        return {"status": "Rejected"}
    return {"status": "Accepted" if auth.clear_cache() else "Rejected"}
