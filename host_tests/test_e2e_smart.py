"""End to end: smart charging reaches the pilot, reservations hold and expire,
TriggerMessage yields each message."""
import datetime
import time

CP = "cp-test"


def conn1(st):
    return st["connectors"][0]


def calls(csms, action):
    return [m["payload"] for m in csms.messages(cp_id=CP, action=action, direction="in",
                                                message_type="CALL")]


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def online(csms, make_charger):
    ch = make_charger(csms.url).start()
    csms.wait_message(cp_id=CP, action="StatusNotification")
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", what="online")
    return ch


def charging(ch, tag="SMART"):
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag=tag)
    return ch.wait(lambda s: conn1(s)["contactor"] and conn1(s)["power_w"] > 0, what="charging")


def profile(pid, purpose, periods, stack=0, kind="Absolute", start=None, unit="A"):
    sched = {"chargingRateUnit": unit, "chargingSchedulePeriod": periods}
    if start is not None:
        sched["startSchedule"] = iso(start)
    return {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": sched}


def test_tx_default_profile_lowers_the_offer_within_a_second(csms, make_charger):
    ch = online(csms, make_charger)
    st = charging(ch)
    assert conn1(st)["offered_a"] == 16
    p16 = conn1(st)["sim"]["ev_power_w"]
    prof = profile(1, "TxDefaultProfile", [{"startPeriod": 0, "limit": 10}], start=now()
                   - datetime.timedelta(minutes=1))
    t0 = time.time()
    ans = csms.call(CP, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": prof})
    assert ans["status"] == "Accepted"
    st = ch.wait(lambda s: conn1(s)["offered_a"] == 10, timeout=5, what="10 A offered")
    assert time.time() - t0 < 1.5
    # The EV reads the offer back from the duty cycle (16.6 % -> 9.96 A).
    st = ch.wait(lambda s: abs(conn1(s)["sim"]["ev_power_w"] - 10 * 230 * 3) < 100, timeout=3,
                 what="the EV follows")
    assert conn1(st)["sim"]["ev_power_w"] < p16
    comp = csms.call(CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 600,
                                                  "chargingRateUnit": "A"})
    assert comp["status"] == "Accepted"
    periods = comp["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods[0]["startPeriod"] == 0 and periods[0]["limit"] == 10
    # Cleared: the full offer comes back.
    assert csms.call(CP, "ClearChargingProfile", {"id": 1})["status"] == "Accepted"
    ch.wait(lambda s: conn1(s)["offered_a"] == 16, timeout=3, what="16 A again")


def test_zero_amp_period_suspends_then_the_next_period_resumes(csms, make_charger):
    ch = online(csms, make_charger)
    charging(ch)
    tid = conn1(ch.status())["transaction_id"]
    prof = profile(7, "TxProfile", [{"startPeriod": 0, "limit": 0}, {"startPeriod": 3, "limit": 8}],
                   kind="Relative")
    prof["transactionId"] = tid
    prof["chargingSchedule"]["duration"] = 3600
    # A Relative profile counts from the transaction start: shift it so the
    # 0 A period is now.
    ans = csms.call(CP, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": dict(
        prof, chargingProfileKind="Absolute", chargingSchedule=dict(
            prof["chargingSchedule"], startSchedule=iso(now())))})
    assert ans["status"] == "Accepted"
    st = ch.wait(lambda s: conn1(s)["offered_a"] == 0 and not conn1(s)["contactor"], timeout=3,
                 what="suspended")
    ch.wait(lambda s: conn1(s)["status"] == "SuspendedEVSE", timeout=3, what="SuspendedEVSE")
    st = ch.wait(lambda s: conn1(s)["offered_a"] == 8 and conn1(s)["contactor"], timeout=6,
                 what="resumed at 8 A")
    assert conn1(st)["transaction_id"] == tid
    seen = [p["status"] for p in calls(csms, "StatusNotification") if p["connectorId"] == 1]
    assert "SuspendedEVSE" in seen
    # The TxProfile ends with its transaction.
    ch.ctl("rfid", tag="SMART")
    ch.wait(lambda s: conn1(s)["transaction_id"] is None, what="stopped")
    comp = csms.call(CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 60})
    assert comp["status"] == "Accepted" and "chargingSchedule" not in comp


def test_reservation_blocks_another_tag_and_expires(csms, make_charger):
    ch = online(csms, make_charger)
    exp = now() + datetime.timedelta(seconds=4)
    ans = csms.call(CP, "ReserveNow", {"connectorId": 1, "expiryDate": iso(exp), "idTag": "OWNER",
                                       "reservationId": 42})
    assert ans["status"] == "Accepted"
    ch.wait(lambda s: conn1(s)["status"] == "Reserved", what="Reserved")
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="STRANGER")
    time.sleep(1)
    assert conn1(ch.status())["transaction_id"] is None
    assert calls(csms, "StartTransaction") == []
    ch.ctl("unplug", connector=1)
    st = ch.wait(lambda s: conn1(s)["status"] == "Available", timeout=8, what="expired")
    assert time.time() >= exp.timestamp() - 1.2
    # A second reservation is used by its owner.
    exp = now() + datetime.timedelta(minutes=5)
    assert csms.call(CP, "ReserveNow", {"connectorId": 1, "expiryDate": iso(exp), "idTag": "OWNER",
                                        "reservationId": 43})["status"] == "Accepted"
    ch.wait(lambda s: conn1(s)["status"] == "Reserved", what="Reserved again")
    charging(ch, "OWNER")
    start = csms.wait_message(cp_id=CP, action="StartTransaction")["payload"]
    assert start["reservationId"] == 43 and start["idTag"] == "OWNER"
    assert csms.call(CP, "CancelReservation", {"reservationId": 43})["status"] == "Rejected"


def test_trigger_message_yields_each_message(csms, make_charger):
    ch = online(csms, make_charger)
    charging(ch)
    for msg in ("Heartbeat", "StatusNotification", "MeterValues", "DiagnosticsStatusNotification",
                "FirmwareStatusNotification"):
        mark = csms.mark()
        assert csms.call(CP, "TriggerMessage", {"requestedMessage": msg})["status"] == "Accepted"
        got = csms.wait_message(cp_id=CP, action=msg, after=mark)
        answer = [m for m in csms.messages(cp_id=CP, action="TriggerMessage")
                  if m["seq"] > mark and m["message_type"] == "CALLRESULT"][0]
        assert answer["seq"] < got["seq"], "the message follows the answer"
        if msg == "MeterValues":
            sv = got["payload"]["meterValue"][0]["sampledValue"][0]
            assert sv["context"] == "Trigger"
            assert got["payload"]["transactionId"] == conn1(ch.status())["transaction_id"]
    mark = csms.mark()
    assert csms.call(CP, "TriggerMessage", {"requestedMessage": "StatusNotification",
                                            "connectorId": 1})["status"] == "Accepted"
    got = csms.wait_message(cp_id=CP, action="StatusNotification", after=mark)
    assert got["payload"]["connectorId"] == 1 and got["payload"]["status"] == "Charging"
    assert csms.call(CP, "TriggerMessage", {"requestedMessage": "StatusNotification",
                                            "connectorId": 5})["status"] == "Rejected"
    # Errata 3.35: no second BootNotification once accepted.
    assert csms.call(CP, "TriggerMessage", {"requestedMessage": "BootNotification"})["status"] \
        == "Rejected"


def test_trigger_boot_while_pending(csms, make_charger):
    csms.boot_answers = [{"status": "Pending", "interval": 60}]
    make_charger(csms.url).start()
    csms.wait_message(cp_id=CP, action="BootNotification", direction="out", message_type="CALLRESULT")
    time.sleep(0.3)
    mark = csms.mark()
    assert csms.call(CP, "TriggerMessage", {"requestedMessage": "BootNotification"})["status"] \
        == "Accepted"
    csms.wait_message(cp_id=CP, action="BootNotification", after=mark, timeout=5)
    csms.wait_message(cp_id=CP, action="StatusNotification", after=mark, timeout=5)


def test_remote_start_learns_the_parent_of_an_unknown_tag_for_a_reservation(csms, make_charger):
    # Spec 5.13: neither the list nor the cache knows MEMBER, so its parentIdTag
    # comes from an Authorize.req; the group's reservation then lets it start.
    csms.tags["MEMBER"] = {"status": "Accepted", "parentIdTag": "GROUP"}
    csms.tags["OUTSIDER"] = {"status": "Accepted", "parentIdTag": "ELSEWHERE"}
    ch = online(csms, make_charger)
    exp = now() + datetime.timedelta(minutes=5)
    assert csms.call(CP, "ReserveNow", {"connectorId": 1, "expiryDate": iso(exp), "idTag": "OWNER",
                                        "parentIdTag": "GROUP", "reservationId": 7})["status"] == "Accepted"
    ch.wait(lambda s: conn1(s)["status"] == "Reserved", what="Reserved")
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    mark = csms.mark()
    assert csms.call(CP, "RemoteStartTransaction", {"connectorId": 1, "idTag": "OUTSIDER"})["status"] \
        == "Accepted"
    assert csms.wait_message(cp_id=CP, action="Authorize", after=mark)["payload"]["idTag"] == "OUTSIDER"
    time.sleep(1)
    assert calls(csms, "StartTransaction") == [] and conn1(ch.status())["transaction_id"] is None
    # Known now (cached with its parent): refused at once, no second Authorize.
    mark = csms.mark()
    assert csms.call(CP, "RemoteStartTransaction", {"connectorId": 1, "idTag": "OUTSIDER"})["status"] \
        == "Rejected"
    assert not [m for m in csms.messages(cp_id=CP, action="Authorize") if m["seq"] > mark]
    mark = csms.mark()
    assert csms.call(CP, "RemoteStartTransaction", {"idTag": "MEMBER"})["status"] == "Accepted"
    assert csms.wait_message(cp_id=CP, action="Authorize", after=mark)["payload"]["idTag"] == "MEMBER"
    start = csms.wait_message(cp_id=CP, action="StartTransaction", after=mark)["payload"]
    assert (start["idTag"], start["connectorId"], start.get("reservationId")) == ("MEMBER", 1, 7)
    ch.wait(lambda s: conn1(s)["contactor"], what="charging")


def test_charge_point_max_profile_is_shared_between_connectors(csms, make_charger):
    # Spec 3.13.1: the ChargePointMaxProfile limits the charge point as a whole.
    ch = make_charger(csms.url, connectors=2).start()
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted", what="online")
    prof = profile(1, "ChargePointMaxProfile", [{"startPeriod": 0, "limit": 20}],
                   start=now() - datetime.timedelta(minutes=1))
    assert csms.call(CP, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": prof})[
        "status"] == "Accepted"
    c1 = charging(ch, "FIRST")
    assert c1["connectors"][0]["offered_a"] == 16
    ch.ctl("plug", connector=2)
    ch.ctl("ev", connector=2, state="C")
    ch.ctl("rfid", tag="SECOND")
    # The first offer falls at once, the second rises only once the first EV
    # has had 5 s to follow: the offers never add up to more than the limit.
    seen = []
    end = time.time() + 12
    while time.time() < end:
        st = ch.status()
        seen.append([c["offered_a"] for c in st["connectors"]])
        if seen[-1] == [10, 10] and st["connectors"][1]["contactor"]:
            break
        time.sleep(0.1)
    assert seen[-1] == [10, 10], seen[-5:]
    assert all(sum(o) <= 20 for o in seen), [o for o in seen if sum(o) > 20]
    assert [10, 0] in seen
    assert sum(c["sim"]["ev_power_w"] for c in st["connectors"]) <= 20 * 230 * 3 + 100
    ch.ctl("rfid", tag="FIRST")
    ch.wait(lambda s: s["connectors"][0]["transaction_id"] is None
            and s["connectors"][1]["offered_a"] == 16, what="the second gets 16 A again")
