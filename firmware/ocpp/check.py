# Compact payload validation for inbound OCPP calls, standing in for the JSON
# schemas (no jsonschema on a board). A schema is a dict of field -> spec, where
# a spec is a tuple (kind, arg) and kind may carry the REQ flag:
#   (S, 50)             string of at most 50 characters
#   (I,)  (D,)  (B,)    integer, number, boolean; (D, 1) a number with one decimal place
#   (T,)                RFC 3339 date-time string
#   (E, ("A", "B"))     one of the strings
#   (O, {...})          nested object with its own schema
#   (A, spec, min)      array of items matching spec, with at least `min` items
# check() returns None, or (error code, description) naming the first bad field,
# with the OCPP-J 1.6 error codes: a missing field is an occurrence violation,
# a wrong JSON type a type violation, a bad value a property violation, and an
# unexpected field or a payload that is not an object a formation violation.
from compat import parse_iso

S = 1
I = 2
D = 3
B = 4
T = 5
E = 6
O = 7
A = 8
REQ = 16

FORMATION = "FormationViolation"
OCCURRENCE = "OccurenceConstraintViolation"
PROPERTY = "PropertyConstraintViolation"
TYPE = "TypeConstraintViolation"

_TYPE_NAMES = {S: "a string", I: "an integer", D: "a number", B: "a boolean",
               T: "a date-time string", E: "a string", O: "an object", A: "an array"}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# A failure travels up as [code, text, where, part, part, ...]: the parts of the
# field's path, innermost first, added on the way out. No path string is built
# for the values that pass: on a board that string work cost more than the
# check itself (an 8 KB schedule of 150 periods: 138 ms on an RP2040).
_BEFORE = 0     # where: the path comes before the text ("x must be ...")
_AFTER = 1      # ... or after it ("missing required field x")


def _fail(code, text, where=_BEFORE):
    return [code, text, where]


def _value(v, spec):
    kind = spec[0] & 15
    if kind == S or kind == T or kind == E:
        if type(v) is not str:
            return _fail(TYPE, " must be " + _TYPE_NAMES[kind])
        if kind == S:
            if len(v) > spec[1]:
                return _fail(PROPERTY, " is longer than %d characters" % spec[1])
        elif kind == E:
            if v not in spec[1]:
                return _fail(PROPERTY, " must be one of " + ", ".join(spec[1]))
        else:
            try:
                parse_iso(v)
            except ValueError:
                return _fail(PROPERTY, " is not an RFC 3339 date-time")
        return None
    if kind == I:
        if type(v) is not int:
            return _fail(TYPE, " must be an integer")
        return None
    if kind == D:
        t = type(v)
        if t is int:
            return None
        if t is not float:
            return _fail(TYPE, " must be a number")
        if len(spec) > 1 and spec[1]:
            # multipleOf 0.1: at most one decimal place.
            t = v * 10
            if t != t:
                return _fail(FORMATION, " is not a JSON number")
            # Beyond 2**53 every float is a whole number, and inf has no round().
            if -1e15 < t < 1e15 and abs(t - round(t)) > 1e-6:
                return _fail(PROPERTY, " allows one decimal place")
        return None
    if kind == B:
        if type(v) is not bool:
            return _fail(TYPE, " must be a boolean")
        return None
    if kind == O:
        if type(v) is not dict:
            return _fail(TYPE, " must be an object")
        return _object(v, spec[1])
    if kind == A:
        if type(v) is not list:
            return _fail(TYPE, " must be an array")
        if len(spec) > 2 and len(v) < spec[2]:
            return _fail(OCCURRENCE, " needs at least %d item(s)" % spec[2])
        item = spec[1]
        i = 0
        for x in v:
            err = _value(x, item)
            if err:
                err.append(i)
                return err
            i += 1
        return None
    return _fail(PROPERTY, " has an unknown kind")


_NONE = object()     # a field that is not there (null is a value)


def _object(obj, schema):
    for k in obj:
        if k not in schema:
            err = _fail(FORMATION, "unexpected field ", _AFTER)
            err.append(k)
            return err
    for k in schema:
        spec = schema[k]
        v = obj.get(k, _NONE)
        if v is _NONE:
            if spec[0] & REQ:
                err = _fail(OCCURRENCE, "missing required field ", _AFTER)
                err.append(k)
                return err
            continue
        # Integers, the most common field, without a call.
        t = spec[0] & 15
        if (t == I or t == D) and type(v) is int:
            continue
        err = _value(v, spec)
        if err:
            err.append(k)
            return err
    return None


def _path(parts):
    out = ""
    for p in reversed(parts):
        if type(p) is int:
            out += "[%d]" % p
        elif out:
            out += "." + p
        else:
            out = p
    return out


def check(payload, schema):
    if type(payload) is not dict:
        return FORMATION, "payload must be a JSON object"
    err = _object(payload, schema)
    if err is None:
        return None
    path = _path(err[3:])
    if err[2] == _AFTER:
        return err[0], err[1] + path
    return err[0], path + err[1]
