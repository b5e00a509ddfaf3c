"""Meter values (firmware/ocpp/metering.py) on both runtimes: values and units, contexts,
clock-aligned and sampled timing on a fake clock, configuration changes, bounded
transaction data. Every meter value the script makes is validated here against the
official MeterValues schema, and its transaction data inside a StopTransaction."""
import json
import os

import pytest

import schemas
from mprun import cases, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "metering_check.py")


@pytest.fixture(scope="module", params=RUNTIMES)
def outcome(request):
    return request.param, cases(request.param, SCRIPT)


def test_metering_cases(outcome):
    runtime, (passed, failed, out) = outcome
    assert not failed, "%s:\n%s" % (runtime, "\n".join(failed))
    assert len(passed) >= 75, out[-2000:]
    if runtime == "micropython":
        assert "memory_bounded" in passed and "memory_small" in passed


def _lines(out, tag):
    return [l[len(tag) + 1:] for l in out.splitlines() if l.startswith(tag + " ")]


def test_meter_values_match_the_schema(outcome):
    runtime, (_p, _f, out) = outcome
    mvs = _lines(out, "MV")
    assert len(mvs) > 100, "too few meter values made to check"
    kinds = set()
    for line in mvs:
        c, text = line.split(" ", 1)
        mv = json.loads(text)
        schemas.validate("MeterValues", {"connectorId": int(c), "transactionId": 7,
                                         "meterValue": [mv]})
        for sv in mv["sampledValue"]:
            kinds.add((sv["measurand"], sv["unit"], sv["context"]))
            # What the spec allows as a Raw value: a decimal number as text.
            float(sv["value"])
            assert sv["value"].strip() == sv["value"] and "e" not in sv["value"].lower()
    for m in ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Current.Offered", "Voltage"):
        assert any(k[0] == m for k in kinds), m
    contexts = set(k[2] for k in kinds)
    assert {"Sample.Periodic", "Sample.Clock", "Transaction.Begin",
            "Transaction.End"} <= contexts, contexts


def test_transaction_data_matches_the_schema(outcome):
    runtime, (_p, _f, out) = outcome
    txs = _lines(out, "TX")
    assert len(txs) >= 2
    for text in txs:
        data = json.loads(text)
        assert data, "empty transaction data printed"
        schemas.validate("StopTransaction", {"transactionId": 7, "meterStop": 2000,
                                             "timestamp": "2025-03-02T00:00:00Z",
                                             "reason": "Local", "transactionData": data})


def test_schema_check_is_not_vacuous():
    bad = {"connectorId": 1, "meterValue": [{"timestamp": "2025-03-02T00:00:00Z",
                                             "sampledValue": [{"value": "1", "unit": "kw"}]}]}
    with pytest.raises(AssertionError):
        schemas.validate("MeterValues", bad)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_single_phase_begin_end_and_trigger_readings(runtime, tmp_path):
    # Every reading of a single-phase charger names the phase of its currents
    # and voltage, the transaction's Begin and End and a triggered one too.
    from mprun import must_pass, tagged
    must = ["%s_%d_phase" % (w, n) for n in (1, 3) for w in ("begin", "end", "trigger")]
    out = must_pass(runtime, os.path.join(os.path.dirname(__file__), "mp", "phases_check.py"),
                    str(tmp_path), must, 6)[1]
    reqs = tagged(out, "REQ")
    assert {a for a, _t in reqs} == {"StopTransaction", "MeterValues"}
    for action, text in reqs:
        schemas.validate(action, json.loads(text))
