"""Check OCPP 1.6 payloads against the official JSON schemas shipped in the `ocpp` package.

    validate(action, payload, response=False)   AssertionError saying what is wrong
    check_all(records) -> count                 every CALL a charge point sent and every
                                                CALLRESULT it returned, in a CentralSystem
                                                recording (tools/csms.py messages())

Quirks of the 1.6 schema files handled here:
- Most are draft-04, the security whitepaper ones draft-06: each gets its own validator
  class, so draft-04's integer rule (1.0 is not an integer) applies where it is declared.
- `multipleOf: 0.1` (charging schedules) fails binary floats such as 21.4: schema and payload
  are both read with decimal numbers, so 21.4 passes and 21.45 fails.
- "format" is not checked by jsonschema without optional packages: "date-time" is checked
  here as RFC 3339 (what JSON Schema means by it, and the ISO 8601 profile OCPP 3.15 needs:
  fractions of any length and any offset pass, a missing offset or a 25th hour does not);
  "uri" must have a scheme.
"""
import decimal
import json
import os
import re

import jsonschema
import ocpp

SCHEMA_DIR = os.path.join(os.path.dirname(ocpp.__file__), "v16", "schemas")

# OCPP-J 1.6 section 4.2.3 keeps the misspelt codes; the errata's corrected spellings
# are accepted too because later versions use them.
ERROR_CODES = ("NotImplemented", "NotSupported", "InternalError", "ProtocolError",
               "SecurityError", "FormationViolation", "PropertyConstraintViolation",
               "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError",
               "FormatViolation", "OccurrenceConstraintViolation")

_DATE_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?"
                        r"([Zz]|[+-](\d\d):(\d\d))$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_checker = jsonschema.FormatChecker(formats=())
_validators = {}


@_checker.checks("date-time")
def _is_date_time(value):
    if not isinstance(value, str):
        return True  # "format" only constrains strings; "type" catches the rest
    m = _DATE_TIME.match(value)
    if not m:
        return False
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and 1 <= d <= _MONTH_DAYS[mo - 1]) or (mo == 2 and d == 29 and not leap):
        return False
    if h > 23 or mi > 59 or s > 60:
        return False
    return m.group(9) is None or (int(m.group(9)) <= 23 and int(m.group(10)) <= 59)


@_checker.checks("uri")
def _is_uri(value):
    return not isinstance(value, str) or bool(_URI.match(value))


def _validator(name):
    """(validator, number parser) for one schema file, loaded once."""
    v = _validators.get(name)
    if v is None:
        path = os.path.join(SCHEMA_DIR, name + ".json")
        if not os.path.exists(path):
            raise AssertionError("no OCPP 1.6 schema %s.json in %s: unknown action?" % (name, SCHEMA_DIR))
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
        # Decimals only where multipleOf needs them: elsewhere a draft-06 schema must keep
        # seeing 1.0 as the float that its integer rule accepts.
        parse = decimal.Decimal if '"multipleOf"' in text else float
        schema = json.loads(text, parse_float=parse)
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
        v = _validators[name] = (cls(schema, format_checker=_checker), parse)
    return v


def validate(action, payload, response=False):
    """Raise AssertionError unless `payload` is a valid `action` request (or response)."""
    if not isinstance(action, str) or not action.isalpha():
        raise AssertionError("%r is not an OCPP action name" % (action,))
    name = action + ("Response" if response else "")
    v, parse = _validator(name)
    try:
        # Through JSON text, as the wire has it: no tuples, NaN or non-string keys.
        data = json.loads(json.dumps(payload, allow_nan=False), parse_float=parse)
    except (TypeError, ValueError) as e:
        raise AssertionError("%s: payload is not JSON: %s" % (name, e)) from None
    errors = sorted(v.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = ["%s at %s: %s" % (name, "/".join(str(p) for p in e.absolute_path) or "(top)",
                                   e.message) for e in errors[:8]]
        raise AssertionError("%s fails the OCPP 1.6 schema:\n  %s\n  payload: %s"
                             % (name, "\n  ".join(lines), _short(payload)))


def check_all(records):
    """Validate what the charge points sent in a CentralSystem recording; returns how many
    messages were checked, raises AssertionError listing every problem."""
    problems, n = [], 0
    for r in records:
        if r.get("direction") != "in":
            continue
        kind, where = r.get("message_type"), "#%s %s %s" % (r.get("seq"), r.get("cp_id"),
                                                            r.get("unique_id"))
        n += 1
        try:
            if kind == "CALL":
                validate(r["action"], r["payload"])
            elif kind == "CALLRESULT":
                if r.get("action") is None:
                    raise AssertionError("CALLRESULT answers no CALL the central system sent")
                validate(r["action"], r["payload"], response=True)
            elif kind == "CALLERROR":
                _check_error(r)
            else:
                raise AssertionError("not an OCPP-J message (%s): %s"
                                     % (r.get("problem"), _short(r.get("raw"))))
        except AssertionError as e:
            problems.append("%s: %s" % (where, e))
    if problems:
        raise AssertionError("%d of %d messages from charge points are invalid:\n%s"
                             % (len(problems), n, "\n".join(problems[:20])))
    return n


def _check_error(r):
    if r.get("error_code") not in ERROR_CODES:
        raise AssertionError("CALLERROR code %r is not an OCPP-J 1.6 code" % (r.get("error_code"),))
    if not isinstance(r.get("error_description"), str):
        raise AssertionError("CALLERROR description must be a string")
    if not isinstance(r.get("error_details"), dict):
        raise AssertionError("CALLERROR details must be an object")


def _short(x, n=300):
    s = x if isinstance(x, str) else json.dumps(x, default=repr)
    return s if len(s) <= n else s[:n] + "..."
