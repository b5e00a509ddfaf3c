# Reservation checks (firmware/ocpp/reservation.py, ReserveNow,
# CancelReservation), run under MicroPython and CPython by test_reservation.py.
# argv[1]: an empty directory. Prints "PASS name" / "FAIL name: why", "REQ" and
# "RES <action> <json>" for every request and CALLRESULT (the test validates
# them against the official schemas), "DONE n" at the end.
import sys
import json
import asyncio
import log
import compat
from compat import iso, ticks_ms, ticks_add
from firmware.store import Store
from firmware.ocpp.reservation import Reservations, NAME
from rpcfake import expect, results
from realcp import RealCP, call

ROOT = sys.argv[1]
T0 = 1767225600          # 2026-01-01T00:00:00Z
log.level = log.ERROR + 1




def rn(c, rid, tag, expiry_s=T0 + 600, parent=None):
    p = {"connectorId": c, "expiryDate": iso(expiry_s), "idTag": tag, "reservationId": rid}
    if parent is not None:
        p["parentIdTag"] = parent
    return p


async def reserve(cp, *a, **kw):
    res, err = await call(cp, "ReserveNow", rn(*a, **kw))
    return res["status"] if res else err


async def cancel(cp, rid):
    res, err = await call(cp, "CancelReservation", {"reservationId": rid})
    return res["status"] if res else err


async def basic():
    cp = RealCP(ROOT + "/basic")
    rs = cp.reservations
    w = cp.store.writes
    st = await reserve(cp, 1, 11, "TAG-A", parent="GRP")
    expect("accepted_connector_shows_reserved", st == "Accepted" and cp.out.status[1] == "Reserved"
           and cp.out.status[2] == "Available" and 1 in cp.changed, (st, cp.out.status, cp.changed))
    expect("accepted_is_persisted_one_write", cp.store.writes == w + 1 and cp.store.exists(NAME),
           cp.store.writes - w)
    expect("group_reservation_binds_its_connector_only", rs.for_group(1) and rs.for_group()
           and not rs.for_group(2), (rs.for_group(1), rs.for_group(2)))
    expect("occupied_reserved_for_another_tag", await reserve(cp, 1, 12, "TAG-B") == "Occupied")
    expect("occupied_reserved_for_same_tag_other_id", await reserve(cp, 1, 13, "TAG-A") == "Occupied")
    expect("failed_request_leaves_one_reservation", len(rs) == 1 and rs.connector_of(12) is None, len(rs))

    # The same reservationId replaces: new expiry, and it may move connector.
    st = await reserve(cp, 1, 11, "TAG-A", expiry_s=T0 + 900, parent="GRP")
    expect("same_id_replaces_on_same_connector", st == "Accepted" and len(rs) == 1
           and rs.next_expiry_s(T0) == 900, (st, len(rs), rs.next_expiry_s(T0)))
    cp.changed = []
    st = await reserve(cp, 2, 11, "TAG-A", expiry_s=T0 + 900, parent="GRP")
    expect("same_id_replaces_moves_connector", st == "Accepted" and len(rs) == 1 and rs.connector_of(11) == 2
           and cp.out.status[1] == "Available" and cp.out.status[2] == "Reserved" and 1 in cp.changed
           and 2 in cp.changed, (st, cp.out.status, cp.changed))
    st = await reserve(cp, 2, 11, "TAG-A", expiry_s=T0 - 1)
    expect("replacement_in_the_past_keeps_old", st == "Rejected" and rs.next_expiry_s(T0) == 900,
           (st, rs.next_expiry_s(T0)))

    # Who may start on the reserved connector 2 (idTag TAG-A, parent GRP).
    expect("other_tag_refused", rs.allows(2, "OTHER", None) == (False, None))
    expect("other_tag_other_parent_refused", rs.allows(2, "OTHER", "GRP2") == (False, None))
    expect("reserving_tag_allowed_case_insensitive", rs.allows(2, "tag-a", None) == (True, 11))
    expect("same_parent_allowed", rs.allows(2, "CHILD", "grp") == (True, 11))
    expect("parent_tag_itself_allowed", rs.allows(2, "GRP", None) == (True, 11))
    expect("free_connector_allows_anyone", rs.allows(1, "OTHER", None) == (True, None))
    w = cp.store.writes
    for _ in range(5):
        rs.reserved(1), rs.reserved(2), rs.allows(2, "OTHER", None), rs.expire(T0 + 10)
    expect("queries_write_nothing", cp.store.writes == w, cp.store.writes - w)

    # A refused tag does not authorise the connector; the reserving one does.
    expect("gate_refuses_other_tag", cp.present(2, "OTHER") is False and cp.conns[2].auth is None
           and cp.out.status[2] == "Reserved")
    expect("reserving_tag_shows_preparing", cp.present(2, "CHILD", "GRP") is True
           and cp.out.status[2] == "Preparing" and len(rs) == 1, cp.out.status)
    # The authorisation lapses (ConnectionTimeOut): the reservation shows again.
    a = cp.conns[2].auth
    cp.conns[2].auth = (a[0], a[1], ticks_add(ticks_ms(), -3600 * 1000))
    cp.conns[2].tick()
    expect("lapsed_authorisation_back_to_reserved", cp.out.status[2] == "Reserved" and len(rs) == 1, cp.out.status)

    # The reserving group starts: StartTransaction carries the id and the reservation ends.
    cp.present(2, "CHILD", "GRP")
    cp.plug(2)
    pushed = cp.pushed()
    start = pushed[-1][1] if pushed else {}
    expect("start_carries_reservation_id", len(pushed) == 1 and pushed[0][0] == "StartTransaction"
           and start.get("reservationId") == 11 and start.get("idTag") == "CHILD", pushed)
    print("REQ StartTransaction %s" % json.dumps(start))
    expect("start_uses_up_reservation", len(rs) == 0 and rs.connector_of(11) is None
           and not cp.store.exists(NAME) and cp.out.status[2] == "Charging", (len(rs), cp.out.status))
    expect("occupied_by_transaction", await reserve(cp, 2, 14, "TAG-B") == "Occupied")
    cp.conns[2].stop("Local")
    expect("occupied_while_finishing", cp.out.status[2] == "Finishing"
           and await reserve(cp, 2, 14, "TAG-B") == "Occupied", cp.out.status)
    cp.plug(2, False)
    expect("unplugged_connector_reservable", cp.out.status[2] == "Available"
           and await reserve(cp, 2, 14, "TAG-B") == "Accepted", cp.out.status)
    cp.plug(1)
    expect("occupied_while_preparing", cp.out.status[1] == "Preparing"
           and await reserve(cp, 1, 15, "TAG-C") == "Occupied", cp.out.status)
    cp.plug(1, False)

    # Cancel.
    cp.changed = []
    st = await cancel(cp, 14)
    expect("cancel_accepted_connector_available", st == "Accepted" and len(rs) == 0
           and cp.out.status[2] == "Available" and 2 in cp.changed, (st, cp.out.status, cp.changed))
    expect("cancel_again_rejected", await cancel(cp, 14) == "Rejected")
    expect("cancel_unknown_rejected", await cancel(cp, 999) == "Rejected")
    expect("reservation_after_cancel_accepted", await reserve(cp, 2, 16, "TAG-D") == "Accepted")
    expect("cancel_other_id_keeps_it", await cancel(cp, 17) == "Rejected" and cp.out.status[2] == "Reserved")


async def states():
    cp = RealCP(ROOT + "/states", n=3)
    rs = cp.reservations
    cp.ctls[1].fault = "GroundFailure"
    cp.out.changed(1)
    expect("faulted_connector_faulted", cp.out.status[1] == "Faulted"
           and await reserve(cp, 1, 1, "A") == "Faulted", cp.out.status)
    cp.ctls[1].fault = "EVCommunicationError"     # a warning, not a fault
    cp.out.changed(1)
    expect("warning_is_not_faulted", await reserve(cp, 1, 1, "A") == "Accepted" and cp.out.status[1] == "Reserved")
    await cancel(cp, 1)
    cp.ctls[1].fault = None
    cp.conns[2].set_operative(False)
    expect("unavailable_connector_unavailable", cp.out.status[2] == "Unavailable"
           and await reserve(cp, 2, 2, "A") == "Unavailable", cp.out.status)
    cp.conns[2].set_operative(True)
    cp.conns[0].set_operative(False)
    expect("charge_point_unavailable", await reserve(cp, 3, 3, "A") == "Unavailable")
    cp.conns[0].set_operative(True)
    expect("connector_zero_unsupported_rejected", await reserve(cp, 0, 4, "A") == "Rejected" and len(rs) == 0)
    expect("no_such_connector_rejected", await reserve(cp, 4, 5, "A") == "Rejected")
    expect("expiry_in_the_past_rejected", await reserve(cp, 3, 6, "A", expiry_s=T0 - 60) == "Rejected")
    res, err = await call(cp, "ReserveNow", rn(-1, 7, "A"), show=False)
    expect("negative_connector_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    p = rn(1, 8, "A")
    p["expiryDate"] = "tomorrow"
    res, err = await call(cp, "ReserveNow", p, show=False)
    expect("bad_expiry_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    p = rn(1, 8, "A")
    del p["idTag"]
    res, err = await call(cp, "ReserveNow", p, show=False)
    expect("missing_tag_callerror", err is not None and err[0] == "OccurenceConstraintViolation", err)
    res, err = await call(cp, "ReserveNow", rn(1, 8, "T" * 21), show=False)
    expect("long_tag_callerror", err is not None and err[0] == "PropertyConstraintViolation", err)
    res, err = await call(cp, "CancelReservation", {"reservationId": "8"}, show=False)
    expect("cancel_bad_id_callerror", err is not None and err[0] == "TypeConstraintViolation", err)
    expect("nothing_reserved_by_errors", len(rs) == 0, len(rs))

    # 5.13 (3): Faulted or Unavailable ends the reservation.
    await reserve(cp, 1, 20, "A")
    await reserve(cp, 2, 21, "B")
    await reserve(cp, 3, 22, "C")
    cp.ctls[1].fault = "HighTemperature"
    cp.out.changed(1)
    cp.ctls[1].fault = None
    cp.out.changed(1)
    expect("fault_ends_reservation", rs.connector_of(20) is None and cp.out.status[1] == "Available"
           and cp.out.status[2] == "Reserved" and not cp.store.load(NAME) is None, cp.out.status)
    cp.conns[2].set_operative(False)
    cp.conns[2].set_operative(True)
    expect("unavailable_ends_reservation", rs.connector_of(21) is None and cp.out.status[2] == "Available"
           and rs.connector_of(22) == 3, cp.out.status)
    cp.conns[0].set_operative(False)
    cp.conns[0].set_operative(True)
    expect("charge_point_unavailable_ends_all", len(rs) == 0 and cp.out.status[3] == "Available", cp.out.status)


async def expiry_and_persistence():
    root = ROOT + "/persist"
    cp = RealCP(root)
    rs = cp.reservations
    await reserve(cp, 1, 31, "TAG-A", expiry_s=T0 + 600, parent="GRP")
    await reserve(cp, 2, 32, "TAG-B", expiry_s=T0 + 1200)
    expect("next_expiry", rs.next_expiry_s(T0) == 600 and rs.next_expiry_s(T0 + 700) == 0, rs.next_expiry_s(T0))

    # A reboot: a new charge point on the same store, and a new Reservations
    # on its connectors.
    cp2 = RealCP(root)
    rs2 = Reservations(Store(root), cp2.conns, cp2.cfg, None)
    expect("persisted_across_new_instance", rs2.connector_of(31) == 1 and rs2.connector_of(32) == 2
           and rs2.reserved(1) and rs2.allows(1, "X", "grp") == (True, 31)
           and rs2.allows(1, "X", None) == (False, None) and rs2.next_expiry_s(T0) == 600)
    expect("reserved_after_reboot", cp2.out.status[1] == "Reserved" and cp2.out.status[2] == "Reserved", cp2.out.status)

    w = cp2.store.writes
    cp2.changed = []
    cp2.reservations.expire(T0 + 599)
    expect("not_expired_early", cp2.out.status[1] == "Reserved" and cp2.store.writes == w and cp2.changed == [])
    gone = cp2.reservations.expire(T0 + 600)
    expect("expired_on_time", list(gone) == [1] and cp2.reservations.connector_of(31) is None
           and cp2.reservations.connector_of(32) == 2 and cp2.store.writes == w + 1, (gone, cp2.store.writes - w))
    cp2.out.changed(1)
    expect("expired_connector_available", cp2.out.status[1] == "Available" and cp2.out.status[2] == "Reserved")
    cp2.reservations.expire(T0 + 5000)
    expect("expiry_refreshes_status", cp2.out.status[2] == "Available" and 2 in cp2.changed
           and len(cp2.reservations) == 0 and cp2.reservations.next_expiry_s(T0) is None, cp2.out.status)
    expect("expired_is_persisted", len(Reservations(Store(root), [None] * 3, None, None)) == 0)

    # What a reboot finds on flash is checked, not trusted.
    st = Store(ROOT + "/bad")
    st.save(NAME, [[1, 1, 100, "OK", None], [1, 2, 100, "DUPID", None], [2, 9, 100, "NOCONN", None],
                   [3, 2, "x", "BADEXP", None], [4, 2, 100, "", None], [5, 1, 100, "SAMECONN", None],
                   [6, 2, 100, "GOOD", "P"], "junk"])
    rs3 = Reservations(st, [None] * 3, None, None)
    expect("bad_stored_entries_dropped", len(rs3) == 2 and rs3.connector_of(1) == 1 and rs3.connector_of(6) == 2
           and len(Reservations(st, [None] * 3, None, None)) == 2 and len(st.load(NAME)) == 2,
           len(rs3))
    st.save(NAME, {"not": "a list"})
    expect("stored_garbage_ignored", len(Reservations(st, [None] * 3, None, None)) == 0)


async def zero():
    cp = RealCP(ROOT + "/zero", n=2, ReserveConnectorZeroSupported=True)
    rs = cp.reservations
    st = await reserve(cp, 0, 40, "ZTAG", parent="ZGRP")
    expect("zero_accepted_when_supported", st == "Accepted" and rs.connector_of(40) == 0, st)
    expect("zero_with_slack_shows_available", cp.out.status[1] == "Available" and cp.out.status[2] == "Available",
           cp.out.status)
    expect("zero_with_slack_others_may_start", rs.allows(1, "OTHER", None) == (True, None))
    expect("zero_second_one_fits", await reserve(cp, 0, 41, "Z2", expiry_s=T0 + 300) == "Accepted")
    expect("zero_full_shows_reserved", cp.out.status[1] == "Reserved" and cp.out.status[2] == "Reserved", cp.out.status)
    expect("zero_full_refuses_others", rs.allows(1, "OTHER", None) == (False, None))
    expect("zero_third_occupied", await reserve(cp, 0, 42, "Z3") == "Occupied")
    expect("zero_blocks_specific_occupied", await reserve(cp, 1, 43, "S") == "Occupied")
    gone = rs.expire(T0 + 300)
    expect("zero_expiry_reports_connector_0", list(gone) == [0], gone)
    expect("zero_expiry_frees_connectors", cp.out.status[1] == "Available" and cp.out.status[2] == "Available",
           cp.out.status)
    expect("specific_next_to_zero_fits", await reserve(cp, 2, 44, "S") == "Accepted"
           and cp.out.status[2] == "Reserved" and cp.out.status[1] == "Reserved", cp.out.status)
    expect("zero_then_specific_refuses_other", rs.allows(1, "OTHER", None) == (False, None))
    await cancel(cp, 44)
    expect("cancel_specific_gives_slack_back", cp.out.status[1] == "Available" and cp.out.status[2] == "Available",
           cp.out.status)

    # Someone else starts on connector 1: connector 2 is now the last one and is held.
    cp.present(1, "OTHER")
    cp.plug(1)
    expect("other_start_no_reservation_id", "reservationId" not in cp.pushed()[-1][1]
           and rs.connector_of(40) == 0, cp.pushed())
    expect("last_free_connector_reserved", cp.out.status[1] == "Charging" and cp.out.status[2] == "Reserved", cp.out.status)
    expect("last_free_connector_refuses", cp.present(2, "OTHER2") is False)
    expect("zero_tag_accepted_by_parent", rs.allows(2, "CHILD", "zgrp") == (True, 40))
    cp.present(2, "ZTAG")
    expect("zero_tag_authorised_preparing", cp.out.status[2] == "Preparing", cp.out.status)
    cp.plug(2)
    start = cp.pushed()[-1][1]
    print("REQ StartTransaction %s" % json.dumps(start))
    expect("zero_used_by_start", start.get("reservationId") == 40 and len(rs) == 0
           and cp.out.status[2] == "Charging", (start, cp.out.status))

    # Nothing free: why.
    expect("zero_all_busy_occupied", await reserve(cp, 0, 45, "Z") == "Occupied")
    cp.conns[1].stop("Local")
    cp.conns[2].stop("Local")
    cp.plug(1, False)
    cp.plug(2, False)
    for c in (1, 2):
        cp.ctls[c].fault = "GroundFailure"
        cp.out.changed(c)
    expect("zero_all_faulted_faulted", await reserve(cp, 0, 46, "Z") == "Faulted")
    cp.ctls[1].fault = None
    cp.conns[1].set_operative(False)
    expect("zero_faulted_and_unavailable_faulted", await reserve(cp, 0, 47, "Z") == "Faulted")
    cp.ctls[2].fault = None
    cp.conns[2].set_operative(False)
    expect("zero_all_unavailable_unavailable", await reserve(cp, 0, 48, "Z") == "Unavailable")
    cp.conns[1].set_operative(True)
    cp.conns[2].set_operative(True)

    # With slack the zero tag uses its reservation on whichever connector it starts.
    await reserve(cp, 0, 49, "ZTAG")
    cp.present(1, "ztag")
    cp.plug(1)
    expect("zero_used_on_any_connector", cp.pushed()[-1][1].get("reservationId") == 49 and len(rs) == 0)
    cp.conns[1].stop("Local")
    cp.plug(1, False)

    # An EV waits at 1, so 2 is held for the reservation; its tag starts at 1 and frees 2.
    await reserve(cp, 0, 50, "ZTAG")
    cp.plug(1)
    expect("pool_holds_other_connector", cp.out.status[1] == "Preparing" and cp.out.status[2] == "Reserved", cp.out.status)
    cp.present(1, "ZTAG")
    expect("zero_used_frees_pool", cp.pushed()[-1][1].get("reservationId") == 50 and len(rs) == 0
           and cp.out.status[1] == "Charging" and cp.out.status[2] == "Available", cp.out.status)


async def main():
    compat.set_wall(T0)
    await basic()
    await states()
    await expiry_and_persistence()
    await zero()
    print("DONE %d" % len(results))


asyncio.run(main())
