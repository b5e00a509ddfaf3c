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
# acheck() is the same for a coroutine: it lets the event loop run after each
# 20 ms of checking (a 10 KB charging schedule takes 80 ms on an RP2040).
#
# The walk keeps its own stack instead of recursing, so that it can pause, and
# builds a field's path only when it reports it: on a board the path strings
# cost more than the check itself.
from compat import parse_iso, sleep_ms, ticks_ms, ticks_diff
try:
    import micropython          # the native emitter, for the check's hot loops
except ImportError:
    from compat import micropython

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


# A failure is a list [code, text, where, part, part, ...]: the parts of the
# field's path, innermost first.
_BEFORE = 0     # where: the path comes before the text ("x must be ...")
_AFTER = 1      # ... or after it ("missing required field x")
_NONE = object()     # a field that is not there (null is a value)
EVERY = 16      # values between two looks at the clock in acheck()
SLICE_MS = 20   # work between two pauses of acheck()


def _fail(code, text, where=_BEFORE):
    return [code, text, where]


@micropython.native
def _scalar(v, spec, kind):
    if kind == I:
        if type(v) is not int:
            return _fail(TYPE, " must be an integer")
        return None
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
    return _fail(PROPERTY, " has an unknown kind")


def _unexpected(obj, schema):
    for k in obj:
        if k not in schema:
            err = _fail(FORMATION, "unexpected field ", _AFTER)
            err.append(k)
            return err
    return None


_KEYS = {}


def _keys(schema):
    # A schema's keys in order, once: schemas are the handlers' module constants.
    ks = _KEYS.get(id(schema))
    if ks is None:
        ks = _KEYS[id(schema)] = tuple(schema)
    return ks


_FLAT = {}


def _flat(schema):
    # Whether an object schema has scalar fields only (charging periods, list
    # entries): its items are then checked in one tight loop, without a frame.
    f = _FLAT.get(id(schema))
    if f is None:
        f = True
        for k in schema:
            kind = schema[k][0] & 15
            if kind == O or kind == A:
                f = False
        _FLAT[id(schema)] = f
    return f


@micropython.native
def _items(arr, sch, start, stop):
    # Items start..stop-1 of an array of flat objects: (index, failure) or None.
    keys = _keys(sch)
    for i in range(start, stop):
        v = arr[i]
        if type(v) is not dict:
            return i, _fail(TYPE, " must be an object")
        for k in v:
            if k not in sch:
                err = _fail(FORMATION, "unexpected field ", _AFTER)
                err.append(k)
                return i, err
        for k in keys:
            spec = sch[k]
            x = v.get(k, _NONE)
            if x is _NONE:
                if spec[0] & REQ:
                    err = _fail(OCCURRENCE, "missing required field ", _AFTER)
                    err.append(k)
                    return i, err
                continue
            kind = spec[0] & 15
            if (kind == I or kind == D) and type(x) is int:
                continue
            err = _scalar(x, spec, kind)
            if err:
                err.append(k)
                return i, err
    return None


def _at(stack, err, part):
    err.append(part)
    for i in range(len(stack) - 1, 0, -1):
        err.append(stack[i][4])
    return err


def _walk(payload, schema, every, out):
    # Depth first, in schema order, as a recursive check would go, so the first
    # bad field is the same. A frame: [value, its schema (an object) or its
    # items' spec (an array), the schema's keys or None, next position, its
    # part of the path].
    stack = [[payload, schema, _keys(schema), 0, None]]
    n = 0
    while stack:
        fr = stack[-1]
        c = fr[0]
        keys = fr[2]
        i = fr[3]
        if keys is not None:
            if i == len(keys):
                stack.pop()
                continue
            part = keys[i]
            spec = fr[1][part]
            v = c.get(part, _NONE)
            if v is _NONE:
                fr[3] = i + 1
                if spec[0] & REQ:
                    out[0] = _at(stack, _fail(OCCURRENCE, "missing required field ", _AFTER),
                                 part)
                    return
                continue
        else:
            if i == len(c):
                stack.pop()
                continue
            spec = fr[1]
            if spec[0] & 15 == O and _flat(spec[1]):
                # Flat objects: a run of them at a time, then a look at the clock.
                stop = i + every if every and i + every < len(c) else len(c)
                bad = _items(c, spec[1], i, stop)
                fr[3] = stop
                if bad:
                    out[0] = _at(stack, bad[1], bad[0])
                    return
                n += stop - i
                if every and n >= every:
                    n = 0
                    yield
                continue
            part = i
            v = c[i]
        fr[3] = i + 1
        kind = spec[0] & 15
        if kind == O:
            if type(v) is not dict:
                out[0] = _at(stack, _fail(TYPE, " must be an object"), part)
                return
            err = _unexpected(v, spec[1])
            if err:
                out[0] = _at(stack, err, part)
                return
            stack.append([v, spec[1], _keys(spec[1]), 0, part])
        elif kind == A:
            if type(v) is not list:
                out[0] = _at(stack, _fail(TYPE, " must be an array"), part)
                return
            if len(spec) > 2 and len(v) < spec[2]:
                out[0] = _at(stack, _fail(OCCURRENCE, " needs at least %d item(s)" % spec[2]),
                             part)
                return
            stack.append([v, spec[1], None, 0, part])
        else:
            err = _scalar(v, spec, kind)
            if err:
                out[0] = _at(stack, err, part)
                return
        n += 1
        if every and n >= every:
            n = 0
            yield


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


def _result(err):
    if err is None:
        return None
    path = _path(err[3:])
    if err[2] == _AFTER:
        return err[0], err[1] + path
    return err[0], path + err[1]


def _start(payload, schema):
    if type(payload) is not dict:
        return FORMATION, "payload must be a JSON object"
    return _result(_unexpected(payload, schema))


def check(payload, schema):
    err = _start(payload, schema)
    if err:
        return err
    out = [None]
    for _ in _walk(payload, schema, 0, out):
        pass
    return _result(out[0])


async def acheck(payload, schema, every=EVERY, slice_ms=SLICE_MS):
    err = _start(payload, schema)
    if err:
        return err
    out = [None]
    t = ticks_ms()
    for _ in _walk(payload, schema, every, out):
        # Give way after a slice of work, not after every few values: each
        # pause lets every ready task run, which costs the answer its time too.
        if ticks_diff(ticks_ms(), t) >= slice_ms:
            await sleep_ms(0)
            t = ticks_ms()
    return _result(out[0])
