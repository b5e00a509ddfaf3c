"""firmware/ocpp/auth.py: Authorize flow, authorization cache, offline rules and
stopping by group, checked under MicroPython and CPython (mp/auth_check.py)."""
import json
import os

import pytest

import schemas
from mprun import must_pass, tagged, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "auth_check.py")

# Every rule the firmware promises; a case that silently disappears from the
# script fails the test instead of shrinking it.
MUST = """online_unknown_asks_central_system answer_cached_one_write
known_tag_without_preauthorize_still_asks same_answer_no_flash_write
preauthorize_skips_network_case_insensitive preauthorize_not_for_blocked_entry
offline_cached_accepted offline_blocked_refused_despite_unknown_allowed offline_unknown_allowed
offline_unknown_refused local_authorize_offline_off_refuses_cached
failed_authorize_falls_back_timeout failed_authorize_falls_back_linkdown malformed_conf_falls_back
offline_expired_refused expiry_marked_in_cache_once expired_mark_persisted
list_over_cache list_tag_never_cached preauthorize_from_list list_entry_expired_copy
lookup_touch_no_write lru_evicts_least_recently_used not_valid_evicted_first persisted_across_new_auth
recency_persisted_with_next_change update_same_content_no_write update_changed_content_writes
disabled_cache_not_consulted clear_cache bad_entries_dropped_on_load same_tag_stops same_parent_stops
other_parent_refused no_parent_refused may_stop_same_tag_no_authorize may_stop_asks_parent_online
conflict_expired_entry_answered_invalid no_conflict_same_validity conflict_blocked_against_accepted
conflict_accepted_against_expired_entry conflict_reported_without_cache no_conflict_while_list_disabled""".split()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_auth_rules(runtime, tmp_path):
    out = must_pass(runtime, SCRIPT, str(tmp_path), MUST, 60)[1]
    sent, answers = tagged(out, "MSG"), tagged(out, "RES")
    assert len(sent) >= 15 and len(answers) >= 30
    for action, text in sent:
        assert action == "Authorize"
        schemas.validate(action, json.loads(text))
    # What authorize() answers is an idTagInfo in the shape of Authorize.conf.
    for action, text in answers:
        schemas.validate(action, json.loads(text), response=True)

    if runtime == "micropython":
        mem = [int(l.split()[1]) for l in out.splitlines() if l.startswith("MEM ")]
        # 64 entries with 20-character tag and parent: about 13 KB on the 64-bit
        # unix port (half that with 32-bit pointers on a board).
        assert mem and 0 < mem[0] < 16 * 1024, mem


def test_bad_expiry_from_central_system_not_trusted():
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for p in (root, os.path.join(root, "lib")):
        if p not in sys.path:
            sys.path.insert(0, p)
    from firmware.ocpp.auth import clean_info
    assert clean_info({"status": "Accepted", "expiryDate": "2030-01-01T00:00:00+02:00"}) == \
        {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00+02:00"}
    assert clean_info({"status": "Accepted", "expiryDate": "next week"}) is None
    assert clean_info({"status": "Accepted", "parentIdTag": "p" * 21}) is None
    assert clean_info({"status": "accepted"}) is None
    assert clean_info({"status": "Blocked", "extra": 1}) == {"status": "Blocked"}
