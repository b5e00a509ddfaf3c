"""GetConfiguration, ChangeConfiguration and ClearCache handlers through the RPC
layer, under MicroPython and CPython (mp/auth_actions.py); every answer is checked
against the official OCPP 1.6 response schemas."""
import json
import os

import pytest

import schemas
from mprun import must_pass, tagged, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "auth_actions.py")

MUST = """get_all_lists_every_ocpp_key get_all_no_device_keys get_values_as_ocpp_text get_readonly_flags
get_secret_listed_without_value get_secret_named_without_value get_some_and_unknown
get_over_max_keys_callerror change_accepted change_reboot_required
change_rejected_GetConfigurationMaxKeys change_rejected_WebSocketPingInterval
rejected_logged_with_reason change_not_supported_Foo change_not_supported_csms_url
secret_never_logged clear_cache_accepted clear_disabled_cache_accepted clear_cache_fails_rejected
""".split()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_config_actions(runtime, tmp_path):
    out = must_pass(runtime, SCRIPT, str(tmp_path), MUST, 38)[1]
    answers = tagged(out, "RES")
    kinds = set(a[0] for a in answers)
    assert kinds == {"GetConfiguration", "ChangeConfiguration", "ClearCache"}, kinds
    statuses = set()
    for action, text in answers:
        payload = json.loads(text)
        schemas.validate(action, payload, response=True)
        if action == "ChangeConfiguration":
            statuses.add(payload["status"])
    assert statuses == {"Accepted", "RebootRequired", "Rejected", "NotSupported"}
    assert "s3cr3t-0123456789abcdef" not in out
