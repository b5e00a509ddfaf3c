"""Reservations (firmware/ocpp/reservation.py, ReserveNow, CancelReservation),
checked under MicroPython and CPython by mp/reservation_check.py, and every
request and answer checked against the official OCPP 1.6 schemas."""
import json
import os

import pytest

import schemas
from mprun import must_pass, tagged, RUNTIMES

SCRIPT = os.path.join(os.path.dirname(__file__), "mp", "reservation_check.py")

# Every rule promised; a case that silently disappears fails instead of shrinking the run.
MUST = """accepted_connector_shows_reserved accepted_is_persisted_one_write
group_reservation_binds_its_connector_only
occupied_reserved_for_another_tag occupied_reserved_for_same_tag_other_id
same_id_replaces_on_same_connector same_id_replaces_moves_connector replacement_in_the_past_keeps_old
other_tag_refused other_tag_other_parent_refused reserving_tag_allowed_case_insensitive same_parent_allowed
free_connector_allows_anyone queries_write_nothing gate_refuses_other_tag reserving_tag_shows_preparing
lapsed_authorisation_back_to_reserved start_carries_reservation_id start_uses_up_reservation
occupied_by_transaction occupied_while_finishing occupied_while_preparing cancel_accepted_connector_available
cancel_again_rejected cancel_unknown_rejected faulted_connector_faulted warning_is_not_faulted
unavailable_connector_unavailable charge_point_unavailable connector_zero_unsupported_rejected
no_such_connector_rejected expiry_in_the_past_rejected negative_connector_callerror bad_expiry_callerror
fault_ends_reservation unavailable_ends_reservation charge_point_unavailable_ends_all next_expiry
persisted_across_new_instance reserved_after_reboot not_expired_early expired_on_time
expired_connector_available expiry_refreshes_status expired_is_persisted bad_stored_entries_dropped
zero_accepted_when_supported zero_with_slack_shows_available zero_with_slack_others_may_start
zero_full_shows_reserved zero_full_refuses_others zero_third_occupied zero_blocks_specific_occupied
zero_expiry_reports_connector_0 zero_expiry_frees_connectors last_free_connector_reserved
last_free_connector_refuses zero_tag_accepted_by_parent zero_used_by_start zero_all_busy_occupied
zero_all_faulted_faulted zero_all_unavailable_unavailable zero_used_on_any_connector
pool_holds_other_connector zero_used_frees_pool""".split()

STATUSES = ("Accepted", "Faulted", "Occupied", "Rejected", "Unavailable")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reservation_rules(runtime, tmp_path):
    out = must_pass(runtime, SCRIPT, str(tmp_path), MUST, 75)[1]
    reqs, answers = tagged(out, "REQ"), tagged(out, "RES")
    for action, text in reqs:
        schemas.validate(action, json.loads(text))
    for action, text in answers:
        schemas.validate(action, json.loads(text), response=True)
    seen = set(json.loads(t)["status"] for a, t in answers if a == "ReserveNow")
    assert seen == set(STATUSES), seen
    assert {"Accepted", "Rejected"} <= set(json.loads(t)["status"] for a, t in answers
                                           if a == "CancelReservation")
    assert sum(1 for a, _t in reqs if a == "StartTransaction") == 2
