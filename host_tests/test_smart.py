"""Smart charging: firmware/ocpp/smart.py, smart_calc.py and the SetChargingProfile,
ClearChargingProfile and GetCompositeSchedule handlers, checked under MicroPython and
CPython (mp/smart_check.py, mp/smart_actions.py, mp/smart_heap.py). Every composite
schedule and every answer is validated against the official OCPP 1.6 schemas."""
import json
import os

import pytest

import schemas
from mprun import must_pass, RUNTIMES

HERE = os.path.join(os.path.dirname(__file__), "mp")

# Every case each script must run: one that silently disappears fails the test.
RULES = """spec_example_accepted spec_example_composite_w spec_example_composite_a
spec_example_across_midnight spec_example_limit_before_8 spec_example_limit_at_8
spec_example_limit_skips_midnight spec_example_connector0 weekly_calendar_accepted
holiday_accepted weekly_with_holiday weekly_across_week_boundary weekly_sunday_to_monday
weekly_limit_second_week recurring_not_before_anchor daily_duration_fallback_across_midnight
recurring_tail_beyond_cycle_dropped stack_levels_overlap stack_limit_next_change
top_level_without_duration valid_from_to valid_limit_before valid_limit_inside
valid_limit_after duration_ends_profile duration_limit duration_limit_after
absolute_starts_later nothing_in_window_is_none no_profiles_is_none relative_tx_accepted
relative_from_tx_start relative_limit relative_without_tx_from_now relative_without_tx_limit
relative_with_tx_limit combined_tx combined_txdefault combined_connector0 combined_limit
tx_profile_falls_back_to_default tx_profile_needs_its_tx tx_profile_not_for_next_tx
w_to_a_three_phases w_to_a_number_phases w_to_a_more_phases_than_charger a_to_w_composite
min_charging_rate_converted min_charging_rate_carried unit_of_prevailing_profile
composite_capped_by_charger limit_not_capped mixed_units_minimum mixed_units_composite
rejected_stack_above_max rejected_negative_stack rejected_too_many_periods
rejected_cpmax_not_on_connector rejected_txprofile_without_tx rejected_txprofile_on_connector0
rejected_txprofile_other_tx rejected_transaction_id_on_default rejected_first_period_not_0
rejected_periods_not_increasing rejected_negative_limit rejected_zero_duration
rejected_recurring_without_kind rejected_recurring_without_start rejected_valid_to_before_from
rejected_installs_nothing bad_connector_callerror rejected_unit_not_allowed
allowed_unit_accepted max_stack_and_periods_accepted max_installed_rejected
replacement_when_full expired_make_room replace_by_id replace_by_purpose_and_stack
connector_default_beside_all connector_default_overrides other_purpose_same_level_kept
remote_start_profile_replaced remote_start_profile_limit clear_by_id clear_unknown_id
clear_by_connector clear_by_purpose clear_by_stack clear_and_of_fields clear_no_match_unknown
clear_all clear_all_again_unknown persisted_across_new_smart one_write_per_change
persisted_composite_same tx_ended_other_connector_keeps tx_ended_removes_txprofile
tx_ended_persisted clear_persisted load_drops_missing_connector composite_bounded
composite_truncated_duration composite_step_bound share_enough_for_all share_split_equally
share_water_filling share_rounds_down share_earliest_first share_idle_gets_what_is_left
share_own_limit_under_6_skipped limiter_splits_station_limit limiter_raise_waits_for_the_cut
limiter_unused_share_to_the_other
limiter_follows_station_period limiter_idle_offered_nothing_left
limiter_no_station_limit_no_sharing""".split()

ACTIONS = """composite_nothing_installed set_default_accepted set_reaches_limit composite_from_now
composite_connector0_in_w composite_unknown_connector_rejected composite_zero_duration_rejected
composite_bad_unit_callerror composite_missing_duration tx_profile_without_tx_rejected
tx_profile_with_tx_accepted composite_follows_tx tx_profile_other_tx_rejected
set_bad_connector_callerror set_negative_connector_callerror set_bad_unit_callerror
set_missing_field_callerror set_stack_too_high_rejected clear_unknown clear_tx_profile
clear_bad_purpose_callerror clear_all composite_after_clear not_supported_SetChargingProfile
not_supported_ClearChargingProfile not_supported_GetCompositeSchedule""".split()


def _run(runtime, script, tmp_path, must):
    return must_pass(runtime, os.path.join(HERE, script), str(tmp_path), must)[1]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_composite_and_rules(runtime, tmp_path):
    out = _run(runtime, "smart_check.py", tmp_path, RULES)
    scheds = [json.loads(l[6:]) for l in out.splitlines() if l.startswith("SCHED ")]
    reqs = [json.loads(l[4:]) for l in out.splitlines() if l.startswith("REQ ")]
    assert len(scheds) >= 27 and len(reqs) >= 100, out[-1000:]
    for s in scheds:
        schemas.validate("GetCompositeSchedule", {"status": "Accepted", "connectorId": 1,
                                                  "scheduleStart": s["startSchedule"],
                                                  "chargingSchedule": s}, response=True)
        # Periods start at 0, strictly increase and stay inside the duration.
        starts = [p["startPeriod"] for p in s["chargingSchedulePeriod"]]
        assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < s["duration"], s
    for r in reqs:
        schemas.validate("SetChargingProfile", r)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_actions_through_rpc(runtime, tmp_path):
    out = _run(runtime, "smart_actions.py", tmp_path, ACTIONS)
    answers = [l.split(" ", 2) for l in out.splitlines() if l.startswith("RES ")]
    reqs = [l.split(" ", 2) for l in out.splitlines() if l.startswith("REQ ")]
    assert len(answers) >= 15 and len(reqs) >= 20
    for _, action, text in answers:
        schemas.validate(action, json.loads(text), response=True)
    for _, action, text in reqs:
        schemas.validate(action, json.loads(text))
    # The rejected composite carries nothing but its status.
    rejected = [json.loads(t) for _, a, t in answers if a == "GetCompositeSchedule"
                and json.loads(t)["status"] == "Rejected"]
    assert rejected == [{"status": "Rejected"}] * 2


def test_heap_micropython(tmp_path):
    # Measured on the 64-bit unix port (pointers are half as wide on the boards).
    out = _run("micropython", "smart_heap.py", tmp_path, ["all_loaded", "limit_value",
                                                          "composite_month_capped", "nothing_kept"])
    mem = dict((l.split()[1], int(l.split()[2])) for l in out.splitlines() if l.startswith("MEM "))
    # 8 profiles of 24 periods, the most the keys allow: packed, not 60 KB of parsed JSON.
    assert 0 < mem["held_8x24"] < 20000, mem
    assert mem["limit_call"] < 4096, mem
    # A composite over 30 days costs about what one over a day does: it steps
    # through boundaries and stops at ChargingScheduleMaxPeriods.
    assert mem["composite_30_days"] < 32768 and mem["composite_30_days"] < 1.5 * mem["composite_day"], mem
