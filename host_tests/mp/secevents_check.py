# The security event queue (firmware/ocpp/secevents.py) on MicroPython and
# CPython: events kept on flash across a restart, sent in order until
# confirmed, the log trimmed with the undelivered kept, and a change at the
# REPL recorded while no firmware runs. Usage: secevents_check.py DIR
import sys
from firmware.store import Store
from firmware.ocpp import secevents
from firmware.ocpp.secevents import SecurityEvents, record

DIR = sys.argv[1]


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))


st = Store(DIR + "/a")
sec = SecurityEvents(st)
sec.event("StartupOfTheDevice", "boot")
sec.event("FailedToAuthenticateAtCentralSystem", "401")     # logged, not sent
sec.event("ResetOrReboot", "Soft")
m = sec.next_message()
check("first event first", m[0] == "SecurityEventNotification" and m[1]["type"] ==
      "StartupOfTheDevice" and m[1]["techInfo"] == "boot", m)
check("one at a time", sec.next_message() is None)
m[2](Exception("no answer"))
m2 = sec.next_message()
check("not confirmed: sent again", m2[1]["type"] == "StartupOfTheDevice", m2)
m2[2]({})
# A power cut: a new instance reads the log.
sec = SecurityEvents(Store(DIR + "/a"))
m = sec.next_message()
check("after a restart the unconfirmed one is next", m[1]["type"] == "ResetOrReboot", m)
m[2]({})
check("nothing left", sec.next_message() is None and sec.waiting == 0)
lines = list(sec.lines())
check("security log has every event", len(lines) == 3 and "FailedToAuthenticate" in lines[1]
      and lines[0].endswith("(sent)\n"), lines)
# Trim: past MAX_BYTES the oldest delivered go first, the undelivered stay.
secevents.MAX_BYTES = 2048
for i in range(60):
    sec.event("SettingSystemTime", "x" * 40 + str(i))
sec2 = SecurityEvents(Store(DIR + "/a"))
left = list(sec2.lines())
check("log bounded", sec2.log.size < 4096 and len(left) < 60, (sec2.log.size, len(left)))
check("undelivered kept", sec2.waiting == len([x for x in left if "(to send)" in x]) > 0,
      (sec2.waiting, left[-3:]))
# No firmware running (the REPL): the event is on flash for the next start.
record(Store(DIR + "/b"), "ReconfigurationOfSecurityParameters", "REPL: set max_current_a")
sec3 = SecurityEvents(Store(DIR + "/b"))
m = sec3.next_message()
check("REPL change recorded", m is not None and m[1]["techInfo"] == "REPL: set max_current_a", m)
from firmware import setup
setup.DATA = DIR + "/c"
setup.apply([("max_current_a", 20)])
m = SecurityEvents(Store(DIR + "/c")).next_message()
check("setup.apply records it", m is not None and m[1]["type"] ==
      "ReconfigurationOfSecurityParameters" and "max_current_a" in m[1]["techInfo"], m)
print("DONE")
