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


def _value(v, spec, path):
    kind = spec[0] & 15
    if kind == S or kind == T or kind == E:
        if not isinstance(v, str):
            return TYPE, "%s must be %s" % (path, _TYPE_NAMES[kind])
        if kind == S:
            if len(v) > spec[1]:
                return PROPERTY, "%s is longer than %d characters" % (path, spec[1])
        elif kind == E:
            if v not in spec[1]:
                return PROPERTY, "%s must be one of %s" % (path, ", ".join(spec[1]))
        else:
            try:
                parse_iso(v)
            except ValueError:
                return PROPERTY, "%s is not an RFC 3339 date-time" % path
        return None
    if kind == I:
        if not _is_int(v):
            return TYPE, "%s must be an integer" % path
        return None
    if kind == D:
        if not (_is_int(v) or isinstance(v, float)):
            return TYPE, "%s must be a number" % path
        if len(spec) > 1 and spec[1]:
            # multipleOf 0.1: at most one decimal place.
            t = v * 10
            if t != t:
                return FORMATION, "%s is not a JSON number" % path
            # Beyond 2**53 every float is a whole number, and inf has no round().
            if -1e15 < t < 1e15 and abs(t - round(t)) > 1e-6:
                return PROPERTY, "%s allows one decimal place" % path
        return None
    if kind == B:
        if not isinstance(v, bool):
            return TYPE, "%s must be a boolean" % path
        return None
    if kind == O:
        if not isinstance(v, dict):
            return TYPE, "%s must be an object" % path
        return _object(v, spec[1], path + ".")
    if kind == A:
        if not isinstance(v, list):
            return TYPE, "%s must be an array" % path
        if len(spec) > 2 and len(v) < spec[2]:
            return OCCURRENCE, "%s needs at least %d item(s)" % (path, spec[2])
        for i in range(len(v)):
            err = _value(v[i], spec[1], "%s[%d]" % (path, i))
            if err:
                return err
        return None
    return PROPERTY, "%s has an unknown kind" % path


def _object(obj, schema, prefix):
    for k in obj:
        if k not in schema:
            return FORMATION, "unexpected field %s%s" % (prefix, k)
    for k in schema:
        spec = schema[k]
        if k in obj:
            err = _value(obj[k], spec, prefix + k)
            if err:
                return err
        elif spec[0] & REQ:
            return OCCURRENCE, "missing required field %s%s" % (prefix, k)
    return None


def check(payload, schema):
    if not isinstance(payload, dict):
        return FORMATION, "payload must be a JSON object"
    return _object(payload, schema, "")
