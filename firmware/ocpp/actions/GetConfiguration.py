# GetConfiguration (spec 5.8): every OCPP key when none are named, else the
# named ones that exist and `unknownKey` for the rest. Values come from the
# registry (firmware/config.py) in OCPP form: booleans "true"/"false", lists
# comma-separated; secrets (AuthorizationKey) are listed without a value, and
# device-only keys (Wi-Fi, URL) are unknown to the central system.
#
# More keys than GetConfigurationMaxKeys: spec 5.8 lets the charge point limit
# the count but does not say how. Answering only the first N would read as "the
# others have no answer" with nothing telling the central system why, and
# putting them in unknownKey would be false. The key array's cardinality is what
# is exceeded, so the answer is a CALLERROR OccurenceConstraintViolation whose
# description names the limit; the central system can then ask in parts.
from firmware.ocpp.check import S, A
from firmware.ocpp.rpc import CallError
from jsontext import Lazy

SCHEMA = {"key": (A, (S, 50))}


def _item(cfg, name):
    e = cfg.entry(name)
    if e is None:
        return None
    d = {"key": cfg.canonical(name), "readonly": e[0]}
    if e[1] is not None:
        # No key of ours comes near the schema's 500; cut rather than break it.
        d["value"] = e[1][:500]
    return d


def handle(cp, p):
    cfg = cp.cfg
    names = p.get("key")
    out = []
    if not names:
        # Every key: written to the wire one by one, never all in RAM at once.
        def items():
            for n in cfg.keys():
                yield _item(cfg, n)
        return {"configurationKey": Lazy(items)}
    most = cfg.get("GetConfigurationMaxKeys")
    if len(names) > most:
        raise CallError("OccurenceConstraintViolation",
                        "%d keys requested; GetConfigurationMaxKeys is %d: ask in parts"
                        % (len(names), most))
    unknown = []
    for n in names:
        it = _item(cfg, n)
        if it is None:
            if n not in unknown:
                unknown.append(n)
        else:
            dup = False
            for o in out:
                if o["key"] == it["key"]:
                    dup = True
                    break
            if not dup:
                out.append(it)
    res = {"configurationKey": out}
    if unknown:
        res["unknownKey"] = unknown
    return res
