# The data of release 0.1.0 read by this firmware: run by test_upgrade.py under
# MicroPython and CPython on a copy of host_tests/fixtures/release-0.1.0
# (argv[1]), written by that release's own code (fixtures/make_release_0_1_0.py).
# Prints "PASS name" / "FAIL name: why" and "DONE n".
import os
import sys
import log
import board as simboard
from compat import parse_iso, set_wall
from firmware.main import App
from firmware import setup, store
from firmware.ocpp.txrecord import unpack
from rpcfake import expect, results

ROOT = sys.argv[1]
lines = []
log.add_sink(lambda lvl, line: lines.append(line))
log.level = log.INFO
set_wall(parse_iso("2026-06-01T12:05:00Z"))
before = sorted(os.listdir(ROOT))
app = App(simboard.Board({"data_dir": ROOT, "connectors": 3}), link_up=False)
cp = app.cp
text = "\n".join(lines)
expect("nothing_refused_or_dropped", "damaged" not in text and "not read" not in text
       and "unreadable" not in text and "unknown format" not in text, lines)
expect("config", cp.cfg.get("HeartbeatInterval") == 123
       and cp.cfg.get("StopTxnSampledData") == ["Energy.Active.Import.Register"])
setup.DATA = ROOT
expect("device", setup._device() == {"board": {"has_feedback": True}, "log": {"kb": 8}},
       setup._device())
expect("authcache_upgraded", cp.auth.tags() == ["cached1", "cached2"]
       and cp.auth.lookup("cached1") == {"status": "Accepted", "parentIdTag": "GRP",
                                         "expiryDate": "2031-01-01T00:00:00Z"}
       and cp.auth.lookup("CACHED2") == {"status": "Blocked"}, cp.auth.tags())
expect("locallist", cp.locallist.version == 3 and cp.locallist.count == 2
       and cp.locallist.lookup("listed1") == {"status": "Accepted", "parentIdTag": "GRP"}
       and cp.locallist.lookup("LISTED2") == {"status": "Invalid",
                                              "expiryDate": "2030-05-06T07:08:09Z"})
rs = cp.reservations
expect("reservation", rs.connector_of(77) == 2 and rs.allows(2, "X", "grp") == (True, 77)
       and cp.out.status[2] == "Reserved", cp.out.status)
expect("profiles", [e[2]["chargingProfileId"] for e in cp.smart.entries] == [5]
       and cp.smart.limit(1, parse_iso("2026-06-01T12:05:00Z"), None)[0] == 10)
expect("availability", cp.conns[3].operative is False and cp.conns[1].operative
       and cp.conns[2].operative and cp.out.status[3] == "Unavailable", cp.out.status)
# The queue held a reading of 1500 Wh beyond the saved register: the register
# restarts there, and the transaction the Reset left ends with reason Reboot.
expect("register_and_queue", app.register.saved[0] == 1500, app.register.saved)
recs = [r for _o, r in cp.queue.log.records() if "q" in r]
stop = [r for r in recs if r["a"] == "StopTransaction"]
start = [r for r in recs if r["a"] == "StartTransaction"]
expect("transaction_recovered", len(start) == 1 and len(stop) == 1 and stop[0]["r"] == start[0]["q"]
       and stop[0]["p"]["reason"] == "Reboot" and stop[0]["p"]["meterStop"] == 1500
       and [unpack(mv)["sampledValue"][0]["context"] for mv in stop[0]["p"]["transactionData"]]
       == ["Transaction.Begin", "Transaction.End"] and cp.conns[1].tx is None, recs)
expect("recovery_files_gone", "tx1" not in os.listdir(ROOT)
       and "resetreason" not in os.listdir(ROOT) and "resetreason" in before, os.listdir(ROOT))
# Written again, each file carries this firmware's version of its format.
cp.auth.update("NEW", {"status": "Accepted"})
f = open(ROOT + "/authcache", "rb")
head = f.read(3)
f.close()
expect("rewritten_in_current_version", head == b"S2 ", head)
listed = store.FILES.split()[::2]
expect("every_file_listed", [n for n in os.listdir(ROOT)
                             if n.rstrip("0123456789") not in listed] == [], os.listdir(ROOT))
# Files that release 0.1.0 did not have yet: the security events, the
# firmware update's job and boot state, the charger's own certificate and the
# security profile on trial (0.2.0).
NEWER = ("secq", "fwjob", "fwboot", "cpcert", "secprof")
expect("fixture_has_every_file", [n for n in listed if n not in NEWER
                                  and n not in [b.rstrip("0123456789") for b in before]] == [],
       before)
print("DONE %d" % len(results))
