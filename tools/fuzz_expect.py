"""The oracle of the fuzzers (tools/fuzz.py, host_tests/test_fuzz_*.py): what
the charge point must answer to one inbound frame, and whether an answer is
that. It is worked out from OCPP-J 1.6 and the official request schemas, never
from the firmware's own tables, so that a firmware bug cannot hide in both.

Importing it puts the harness, the sim board, lib/ and the firmware on sys.path
the way the boards import them; tools/fuzz_run.py and tools/fuzz.py import
this module first and rely on that.
"""
import decimal
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (os.path.join(ROOT, "host_tests", "mp"), os.path.join(ROOT, "host_tests"),
           os.path.join(ROOT, "boards", "sim"), os.path.join(ROOT, "lib"), ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import jsonschema  # noqa: E402
import ocpp  # noqa: E402

import fuzz_gen  # noqa: E402
import fuzz_harness  # noqa: E402
import schemas as official  # noqa: E402  (host_tests/schemas.py: response checks)

SCHEMA_DIR = os.path.join(os.path.dirname(ocpp.__file__), "v16", "schemas")
BUFSIZE = 8192      # the sim board's receive buffer, as on the boards

# What a central system may send (OCPP 1.6 chapter 5 and the security whitepaper).
CS_ACTIONS = ("CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
              "ClearChargingProfile", "DataTransfer", "GetCompositeSchedule", "GetConfiguration",
              "GetDiagnostics", "GetLocalListVersion", "RemoteStartTransaction",
              "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList",
              "SetChargingProfile", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
              "CertificateSigned", "DeleteCertificate", "ExtendedTriggerMessage",
              "GetInstalledCertificateIds", "GetLog", "InstallCertificate", "SignedUpdateFirmware")
HANDLED = tuple(sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "firmware", "ocpp", "actions"))
                       if f.endswith(".py") and f[:-3] in CS_ACTIONS))

# Error codes by the JSON-schema rule a payload breaks (OCPP-J 1.6 table 7).
_CODE = {"required": "OccurenceConstraintViolation", "minItems": "OccurenceConstraintViolation",
         "maxItems": "OccurenceConstraintViolation", "type": "TypeConstraintViolation",
         "additionalProperties": "FormationViolation"}
_PROPERTY = "PropertyConstraintViolation"   # enum, maxLength, format, multipleOf, ...

# Answers to schema-valid calls that depend on the charge point, not the
# payload's form: (code, when). ctx is a Ctx.
_PCV, _OCV = "PropertyConstraintViolation", "OccurenceConstraintViolation"


def _no_connector(lo):
    return lambda p, c: not lo <= p["connectorId"] <= c.n


def _over(field, key):
    return lambda p, c: len(p.get(field) or ()) > c.cfg(key)


def _no_smart(p, c):
    return not c.smart


def _bad_retries(p, c):
    # actions/UpdateFirmware.job: retries 0..100, retryInterval 0..86400 s.
    r, i = p.get("retries"), p.get("retryInterval")
    return (r is not None and not 0 <= r <= 100) or (i is not None and not 0 <= i <= 86400)


SEMANTIC = {
    "ChangeAvailability": ((_PCV, _no_connector(0)),),
    "UnlockConnector": ((_PCV, _no_connector(1)),),
    "GetConfiguration": ((_OCV, _over("key", "GetConfigurationMaxKeys")),),
    "SendLocalList": ((_OCV, _over("localAuthorizationList", "SendLocalListMaxLength")),),
    "ReserveNow": ((_PCV, lambda p, c: p["connectorId"] < 0),),
    "SetChargingProfile": ((_PCV, _no_connector(0)), ("NotSupported", _no_smart)),
    "ClearChargingProfile": (("NotSupported", _no_smart),),
    "GetCompositeSchedule": (("NotSupported", _no_smart),),
    "UpdateFirmware": ((_PCV, _bad_retries),),
    "GetDiagnostics": ((_PCV, _bad_retries),),
    "GetLog": ((_PCV, _bad_retries),),
    "SignedUpdateFirmware": ((_PCV, _bad_retries),),
}
# Enum fields whose unknown value the spec answers with a status, not a
# CALLERROR (5.17: TriggerMessage of an unknown message is NotImplemented).
STATUS_ENUMS = {("TriggerMessage", "requestedMessage"),
                ("ExtendedTriggerMessage", "requestedMessage")}

_DT = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?"
                 r"([Zz]|[+-](\d\d):(\d\d))$")
_MDAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time")
def _rfc3339(v):
    if not isinstance(v, str):
        return True
    m = _DT.match(v)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= _MDAYS[mo - 1]) or (mo == 2 and d == 29 and not leap):
        return False
    return h < 24 and mi < 60 and s < 61 and (m.group(9) is None or (
        int(m.group(9)) < 24 and int(m.group(10)) < 60))


def _inline(x, defs):
    # The whitepaper's schemas name their types in "definitions": put each in
    # its place, so the generators and the checks see one plain schema.
    if isinstance(x, dict):
        ref = x.get("$ref", "")
        if ref.startswith("#/definitions/"):
            return _inline(defs[ref[14:]], defs)
        return dict((k, _inline(v, defs)) for k, v in x.items())
    if isinstance(x, list):
        return [_inline(v, defs) for v in x]
    return x


def _load(action, parse_float=float):
    with open(os.path.join(SCHEMA_DIR, action + ".json"), encoding="utf-8-sig") as f:
        s = json.loads(f.read(), parse_float=parse_float)
    s.pop("$schema", None)
    s = _inline(s, s.pop("definitions", {}))
    # Spec 7.13: chargingSchedulePeriod is 1..*; the schema files forgot minItems.
    stack = [s]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if "chargingSchedulePeriod" in x.get("properties", {}):
                x["properties"]["chargingSchedulePeriod"]["minItems"] = 1
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return s


SCHEMAS = {a: _load(a) for a in CS_ACTIONS}                 # for the generators
_VALIDATORS = {a: jsonschema.Draft4Validator(_load(a, decimal.Decimal), format_checker=_formats)
               for a in CS_ACTIONS}
_VALIDATORS_NO_MULT = {a: jsonschema.Draft4Validator(json.loads(json.dumps(SCHEMAS[a]).replace(
    '"multipleOf"', '"x-multipleOf"')), format_checker=_formats) for a in CS_ACTIONS}


class Ctx:
    """What expect() needs to know of the charge point under test."""

    def __init__(self, n=2, cfg=None, smart=False):
        self.n = n
        self.cfg = cfg or {"GetConfigurationMaxKeys": 64, "SendLocalListMaxLength": 32}.get
        self.smart = smart

    @classmethod
    def of(cls, cp):
        return cls(cp.n, cp.cfg.get, cp.smart.supported())


class Expect:
    def __init__(self, codes, uid=None, action=None, payload=None, why="", rules=()):
        self.codes = frozenset(codes)   # "none", "result" or error codes
        self.uid = uid                  # the id the answer must carry (None: any)
        self.action = action
        self.payload = payload
        self.why = why
        self.rules = frozenset(rules)   # the schema rules the payload breaks

    def __repr__(self):
        return "Expect(%s, uid=%r, %s)" % ("|".join(sorted(self.codes)), self.uid, self.why)


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _number(s):
    # Decimal, so that multipleOf 0.1 is judged as written; exponents beyond
    # what Decimal holds become the float (0 or infinity) a runtime sees.
    try:
        return decimal.Decimal(s)
    except decimal.DecimalException:
        return float(s)


MAX_DEPTH = 32      # lib/jsoncheck.py: deeper frames are refused as not JSON


def _depth(v):
    """How many arrays and objects nest in v, counted without recursion."""
    most = 0
    todo = [(v, 1)]
    while todo:
        x, d = todo.pop()
        if isinstance(x, (list, dict)):
            most = max(most, d)
            todo.extend((y, d + 1) for y in (x.values() if isinstance(x, dict) else x))
    return most


def parse(frame):
    """(strict value with Decimal numbers or None, why not, whether an integer
    has more digits than CPython's int() takes by default)."""
    if frame[:3] == b"\xef\xbb\xbf":
        return None, "byte order mark", False
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid UTF-8", False
    limit = sys.get_int_max_str_digits()
    try:
        v = json.loads(text, parse_float=_number, parse_constant=_no_constant)
        if _depth(v) > MAX_DEPTH:
            return None, "nested deeper than %d levels" % MAX_DEPTH, False
        return v, "", False
    except RecursionError:
        return None, "nesting too deep for the host parser", False
    except ValueError as e:
        if "integer string conversion" not in str(e):
            return None, "not JSON: %s" % e, False
    sys.set_int_max_str_digits(0)
    try:
        v = json.loads(text, parse_float=_number, parse_constant=_no_constant)
        if _depth(v) > MAX_DEPTH:
            return None, "nested deeper than %d levels" % MAX_DEPTH, True
        return v, "", True
    except (ValueError, RecursionError) as e:
        return None, "not JSON: %s" % e, True
    finally:
        sys.set_int_max_str_digits(limit)


_SNIFF = re.compile(rb'^[ \t\r\n]*\[[ \t\r\n]*([0-9]{1,2})[ \t\r\n]*,'
                    rb'[ \t\r\n]*"([^"\\\x00-\x1f]*)"')


def sniff(frame):
    """Message type and unique id read from the start of a frame, or (None, None)."""
    m = _SNIFF.match(frame)
    if not m:
        return None, None
    try:
        return int(m.group(1)), m.group(2).decode("utf-8")
    except UnicodeDecodeError:
        return int(m.group(1)), None


def expect(frame, total=None, bufsize=BUFSIZE, ctx=None):
    """What the charge point must answer to one inbound frame."""
    ctx = ctx or Ctx()
    total = len(frame) if total is None else total
    n = min(len(frame), bufsize)
    mt, uid = sniff(frame[:n])
    quotable = mt == 2 and uid is not None and len(uid) <= 36
    if total > n:
        if quotable:
            return Expect({"FormationViolation"}, uid, why="message larger than the buffer")
        return Expect({"none", "FormationViolation"}, why="too large, no readable CALL id")
    v, why, big = parse(frame)
    if why:
        # Not JSON: FormationViolation when the id can be read. Both runtimes
        # check the text (lib/jsoncheck.py) before their own parser, so what
        # CPython's would take (NaN, a BOM, UTF-16) is refused alike.
        codes = {"FormationViolation"} if quotable else {"none", "FormationViolation"}
        return Expect(codes, uid if quotable else None, why=why)
    if big:
        # CPython refuses integers of over 4300 digits (a guard against slow
        # int(str)); the firmware on the test bench then sees no JSON.
        e = _expect_value(v, ctx)
        return Expect(e.codes | {"FormationViolation"}, e.uid, e.action, e.payload, e.why, e.rules)
    return _expect_value(v, ctx)


def _expect_value(v, ctx):
    if not isinstance(v, list) or len(v) < 2 or not isinstance(v[1], str):
        return Expect({"none"}, why="not an OCPP-J array with a string id")
    mt, uid = v[0], v[1]
    call = type(mt) is int and mt == 2
    # 2.0 is the number 2 to JSON; code that compares with == takes it as a CALL.
    loose_type = isinstance(mt, (float, decimal.Decimal)) and mt in (2, 3, 4)
    if len(v) < 3:
        return Expect({"FormationViolation", "ProtocolError"} if call else
                      {"none", "FormationViolation", "ProtocolError"}, uid, why="array too short")
    if len(uid) > 36:
        return Expect({"FormationViolation", "ProtocolError"} if call else
                      {"none", "FormationViolation", "ProtocolError"}, uid, why="id over 36")
    if loose_type:
        if mt != 2:
            return Expect({"none", "ProtocolError"}, uid, why="message type %r" % mt)
        e = _expect_call(v, ctx)
        return Expect(e.codes | {"ProtocolError"}, uid, e.action, e.payload,
                      "message type %r; %s" % (mt, e.why), e.rules)
    if type(mt) is int and mt in (3, 4):
        return Expect({"none"}, why="answer to nothing we sent")
    if not call:
        codes = {"ProtocolError"} if type(mt) is int else {"ProtocolError", "FormationViolation"}
        return Expect(codes, uid, why="unknown message type %r" % (mt,))
    return _expect_call(v, ctx)


def _expect_call(v, ctx):
    uid = v[1]
    if len(v) != 4:
        return Expect({"ProtocolError"}, uid, why="CALL with %d elements" % len(v))
    action, payload = v[2], v[3]
    if not isinstance(action, str):
        return Expect({"ProtocolError", "FormationViolation"}, uid, why="action not a string")
    if action not in CS_ACTIONS:
        codes = {"NotImplemented"}
        if action in fuzz_gen.CP_ACTIONS:   # known to OCPP, not in this direction
            codes.add("NotSupported")
        return Expect(codes, uid, why="unknown action")
    if action not in HANDLED:
        return Expect({"NotSupported"}, uid, why="known, not handled")
    if not isinstance(payload, dict):
        return Expect({"FormationViolation"}, uid, action, why="payload not an object")
    codes = set()
    try:
        errors = list(_VALIDATORS[action].iter_errors(payload))
    except (decimal.DecimalException, OverflowError, TypeError):
        # A number too big to divide by 0.1 is a multiple of it; NaN, Infinity
        # (CPython json takes them) are no number the rule can judge.
        errors = list(_VALIDATORS_NO_MULT[action].iter_errors(payload))
    # A value of the wrong type also fails its enum or length; the type is the fault.
    typed = set(tuple(e.absolute_path) for e in errors if e.validator == "type")
    errors = [e for e in errors if e.validator == "type" or tuple(e.absolute_path) not in typed]
    for e in errors:
        codes.add(_CODE.get(e.validator, _PROPERTY))
        where = ".".join(str(p) for p in e.absolute_path)
        if e.validator == "enum" and (action, where) in STATUS_ENUMS:
            codes.add("result")
    if errors:
        return Expect(codes, uid, action, payload, "schema: " + "; ".join(
            "%s %s" % ("/".join(str(p) for p in e.absolute_path) or "(top)", e.validator)
            for e in errors[:4]), [e.validator for e in errors])
    codes = {"result"}
    for code, when in SEMANTIC.get(action, ()):
        if when(payload, ctx):
            codes.add(code)
    return Expect(codes, uid, action, payload, "valid")


def judge(exp, verdict, detail):
    """None when the answer is one that exp allows, else what is wrong."""
    why = fuzz_harness.judge(exp.codes, exp.uid, verdict, detail)
    if why:
        return why if verdict in ("crash", "bad") else "%s (%s)" % (why, exp.why)
    if verdict == "result" and exp.action:
        try:
            official.validate(exp.action, detail[2], response=True)
        except AssertionError as e:
            return "CALLRESULT fails the official schema: %s" % str(e).splitlines()[1].strip()
    return None


# Schema rules a frame can break that the expectation does not hold the
# firmware to by themselves (see the uses).
UNCHECKED = {"format", "multipleOf"}


# Bugs found and not fixed yet, each (name, runtimes it shows on, what is
# wrong, fn(frame, exp, verdict, detail, logged) -> True when a failure is that
# bug; logged: the log.error lines of the frame, when known); the corpus holds
# a reproducer of each with a "bug" field. A campaign counts their failures
# instead of writing them to the corpus again. Fixed ones leave this list, so
# that a regression shows as a new failure (their corpus cases say "fixed").
# Empty since MicroPython's lenient json.loads got a strict check in front
# (lib/jsoncheck.py), the last one.
KNOWN_BUGS = ()


def known_bug(frame, exp, verdict, detail, runtime="cpython", logged=""):
    """The name of the known bug a failure is, or None."""
    for name, runtimes, _, fn in KNOWN_BUGS:
        if runtime in runtimes:
            try:
                if fn(frame, exp, verdict, detail, logged):
                    return name
            except Exception:
                pass
    return None
