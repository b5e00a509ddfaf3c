"""End to end, MQTT beside OCPP, on MicroPython and CPython, against a real
broker (Debian's mosquitto on 127.0.0.1, tools/broker.py): the telemetry and
Home Assistant discovery payloads, the command topics and the local limit they
set, pause and resume in one transaction, a stale limit falling back, the
broker going down and up while charging with OCPP untouched, bad payloads, the
password kept out of sight, and MQTT switched off."""
import json
import time

from broker import Broker
from test_e2e_tls import certs  # noqa: F401  (the fixture: a CA and a server certificate)

CP = "cp-mqtt"
P = "evse/" + CP


def c1(st):
    return st["connectors"][0]


def calls(csms, action):
    return [m["payload"] for m in csms.messages(cp_id=CP, action=action, direction="in",
                                                message_type="CALL")]


def start(csms, make_charger, broker, sets=(), board=()):
    ch = make_charger(csms.url, ident=CP, sets=["mqtt_url=" + broker.url] + list(sets),
                      board=board).start()
    ch.wait(lambda s: s["online"] and s["boot"] == "Accepted" and s["mqtt"] == "connected",
            timeout=20, what="online to the central system and the broker")
    return ch


def charging(ch):
    ch.ctl("plug", connector=1)
    ch.ctl("ev", connector=1, state="C")
    ch.ctl("rfid", tag="MQTTTAG")
    return ch.wait(lambda s: c1(s)["contactor"] and c1(s)["power_w"] > 0
                   and c1(s)["transaction_id"], what="charging, the transaction id known")


STATUS_KEYS = {"id", "status", "cp", "offered_a", "contactor", "power_w", "energy_wh",
               "transaction_id", "fault"}


def test_telemetry_and_discovery_payloads(csms, make_charger, broker):
    w = broker.watch("#")
    ch = start(csms, make_charger, broker)
    assert w.wait(P + "/available") == b"online"
    doc = json.loads(w.wait(P + "/status", lambda v: json.loads(v)["online"], what="online"))
    assert doc["online"] is True and doc["firmware"]
    assert STATUS_KEYS <= set(doc["connectors"][0]), doc
    for t in ("online", "firmware", "heap_free", "current_a", "pause", "phases", "1/status",
              "1/cp", "1/offered_a", "1/contactor", "1/power_w", "1/energy_wh", "1/session_wh",
              "1/transaction_id", "1/fault", "1/phases"):
        w.wait(P + "/" + t, what="telemetry")
    assert w.last[P + "/current_a"] == b"none" and w.last[P + "/pause"] == b"false"
    # Retained: a client that comes later gets them at once.
    late = broker.watch(P + "/#")
    assert late.wait(P + "/1/status", timeout=5) == b"Available"

    # Discovery: one device, every entity the issue names, with its required keys.
    conf = {}
    for t in list(w.last):
        if t.startswith("homeassistant/") and w.last[t]:
            conf[t.split("/")[1] + "/" + t.split("/")[3]] = json.loads(w.last[t])
    want = {"sensor/c1_power", "sensor/c1_energy", "sensor/c1_session_energy", "sensor/c1_current",
            "sensor/c1_status", "binary_sensor/c1_plugged", "binary_sensor/c1_charging",
            "binary_sensor/c1_fault", "number/current_limit", "switch/pause", "select/phases"}
    assert want <= set(conf), sorted(conf)
    ids = set()
    for name, d in conf.items():
        for k in ("name", "unique_id", "state_topic", "availability_topic", "device"):
            assert k in d, (name, k)
        assert d["availability_topic"] == P + "/available"
        assert d["state_topic"].startswith(P + "/")
        ids.add(tuple(d["device"]["identifiers"]))
        assert d["device"]["name"] and d["device"]["sw_version"] == doc["firmware"]
        if name.split("/")[0] in ("number", "switch", "select"):
            assert d["command_topic"].startswith(P + "/set/"), d
    assert len(ids) == 1, ids
    e = conf["sensor/c1_energy"]
    assert (e["device_class"], e["state_class"], e["unit_of_measurement"]) == \
        ("energy", "total_increasing", "Wh")
    assert conf["sensor/c1_power"]["device_class"] == "power"
    assert conf["sensor/c1_current"]["unit_of_measurement"] == "A"
    assert conf["number/current_limit"]["max"] == 16 and conf["number/current_limit"]["min"] == 0
    assert conf["select/phases"]["options"] == ["3"]     # no phase contactor fitted
    assert conf["switch/pause"]["payload_on"] == "true"
    assert len(set(d["unique_id"] for d in conf.values())) == len(conf)

    # Home Assistant started again (its birth message): the configs come again.
    t = time.time()
    w.publish("homeassistant/status", "online")
    end = time.time() + 10
    while not w.since(t, "homeassistant/sensor/") and time.time() < end:
        time.sleep(0.1)
    assert w.since(t, "homeassistant/sensor/"), "configs published again"

    # While charging: on change, and everything again within 30 s.
    st = charging(ch)
    tid = c1(st)["transaction_id"]
    w.wait(P + "/1/contactor", lambda v: v == b"true", what="contactor true")
    w.wait(P + "/1/transaction_id", lambda v: v == str(tid).encode())
    w.wait(P + "/1/power_w", lambda v: int(v) > 0, what="power")
    doc = json.loads(w.wait(P + "/status", lambda v: json.loads(v)["connectors"][0]["contactor"]))
    d = doc["connectors"][0]
    assert d["status"] == "Charging" and d["transaction_id"] == tid and d["cp"] == "C"
    assert d["offered_a"] == 16 and d["fault"] is None

    # The last will: a power cut leaves "offline" behind.
    ch.ctl("power_cut")
    assert w.wait(P + "/available", lambda v: v == b"offline", timeout=20) == b"offline"


def test_limit_pause_and_resume_keep_one_transaction(csms, make_charger, broker):
    w = broker.watch(P + "/#")
    ch = start(csms, make_charger, broker, sets=["MeterValueSampleInterval=0"])
    st = charging(ch)
    tid = c1(st)["transaction_id"]
    assert c1(st)["offered_a"] == 16
    t0 = time.time()
    w.publish(P + "/set/current_a", "10")
    st = ch.wait(lambda s: c1(s)["offered_a"] == 10, timeout=5, what="10 A offered")
    assert time.time() - t0 < 2
    assert c1(st)["sim"]["duty_pct"] == 16.6
    w.wait(P + "/current_a", lambda v: v == b"10")

    # The same limit every 0.2 s, as a solar controller repeats it: no flash
    # write, no StatusNotification.
    time.sleep(1.5)
    before = ch.ctl("stats")
    n_status = len(calls(csms, "StatusNotification"))
    for _ in range(10):
        w.publish(P + "/set/current_a", "10")
        time.sleep(0.2)
    after = ch.ctl("stats")
    assert after["store_writes"] == before["store_writes"], (before, after)
    assert len(calls(csms, "StatusNotification")) == n_status

    # Below 6 A: a pause, SuspendedEVSE, the transaction goes on.
    w.publish(P + "/set/current_a", "0")
    st = ch.wait(lambda s: c1(s)["status"] == "SuspendedEVSE" and not c1(s)["contactor"],
                 timeout=10, what="SuspendedEVSE")
    assert c1(st)["transaction_id"] == tid and c1(st)["sim"]["pilot_out"] == "+12"
    csms.wait_for(lambda m: [x for x in m if x["action"] == "StatusNotification"
                             and x["payload"].get("status") == "SuspendedEVSE"], timeout=10)
    comp = csms.call(CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 300,
                                                  "chargingRateUnit": "A"})
    assert comp["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 0, comp
    w.publish(P + "/set/current_a", "13")
    st = ch.wait(lambda s: c1(s)["status"] == "Charging" and c1(s)["offered_a"] == 13,
                 timeout=10, what="charging again at 13 A")
    assert c1(st)["transaction_id"] == tid
    comp = csms.call(CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 300})
    assert comp["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 13}]

    # The pause switch: the same, and the limit comes back after it.
    w.publish(P + "/set/pause", "true")
    st = ch.wait(lambda s: c1(s)["status"] == "SuspendedEVSE", timeout=10, what="paused")
    w.wait(P + "/pause", lambda v: v == b"true")
    w.publish(P + "/set/pause", "false")
    st = ch.wait(lambda s: c1(s)["status"] == "Charging" and c1(s)["offered_a"] == 13,
                 timeout=10, what="resumed")
    assert c1(st)["transaction_id"] == tid
    # The smallest limit wins: a profile of 8 A under the MQTT limit of 13 A.
    prof = {"chargingProfileId": 5, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative", "transactionId": tid,
            "chargingSchedule": {"chargingRateUnit": "A",
                                 "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}}
    assert csms.call(CP, "SetChargingProfile", {"connectorId": 1,
                                                "csChargingProfiles": prof})["status"] == "Accepted"
    ch.wait(lambda s: c1(s)["offered_a"] == 8, timeout=5, what="the profile's 8 A")
    w.publish(P + "/set/current_a", "none")
    w.wait(P + "/current_a", lambda v: v == b"none")
    assert c1(ch.status())["offered_a"] == 8
    ch.ctl("rfid", tag="MQTTTAG")
    ch.wait(lambda s: c1(s)["transaction_id"] is None, what="stopped")
    stop = csms.wait_message(cp_id=CP, action="StopTransaction")["payload"]
    assert stop["reason"] == "Local" and stop["transactionId"] == tid
    assert len(calls(csms, "StartTransaction")) == 1


def test_a_stale_limit_falls_back_to_the_safe_value(csms, make_charger, broker):
    w = broker.watch(P + "/#")
    ch = start(csms, make_charger, broker, sets=["mqtt_limit_timeout_s=3", "mqtt_fallback_a=7"])
    charging(ch)
    w.publish(P + "/set/current_a", "12")
    ch.wait(lambda s: c1(s)["offered_a"] == 12, timeout=5, what="12 A")
    t0 = time.time()
    ch.wait(lambda s: c1(s)["offered_a"] == 7, timeout=10, what="the fallback, 7 A")
    assert 1.5 < time.time() - t0 < 6
    w.wait(P + "/current_a", lambda v: v == b"7")
    # A fresh limit ends the fallback.
    w.publish(P + "/set/current_a", "11")
    ch.wait(lambda s: c1(s)["offered_a"] == 11, timeout=5, what="11 A again")
    assert "current limit 11 A" in ch.log()


def test_broker_down_and_up_while_charging_leaves_ocpp_alone(csms, make_charger, broker):
    ch = start(csms, make_charger, broker, sets=["MeterValueSampleInterval=1"])
    st = charging(ch)
    tid = c1(st)["transaction_id"]
    broker.stop()
    ch.wait(lambda s: s["mqtt"] != "connected", timeout=10, what="the broker gone")
    n = len(calls(csms, "MeterValues"))
    time.sleep(3)
    st = ch.status()
    assert st["online"] and c1(st)["contactor"] and c1(st)["transaction_id"] == tid
    assert len(calls(csms, "MeterValues")) >= n + 2, "meter values go on without the broker"
    broker.start()
    w = broker.watch(P + "/#")
    ch.wait(lambda s: s["mqtt"] == "connected", timeout=30, what="the broker back")
    doc = json.loads(w.wait(P + "/status", timeout=10))
    assert doc["connectors"][0]["transaction_id"] == tid and doc["online"] is True
    assert w.wait(P + "/available") == b"online"
    # and the other way round: the central system gone, MQTT goes on.
    ch.ctl("net", up=False)
    ch.wait(lambda s: not s["online"] and s["mqtt"] == "down", timeout=10,
            what="both links down with the network")
    ch.ctl("net", up=True)
    ch.wait(lambda s: s["online"] and s["mqtt"] == "connected", timeout=30, what="both back")
    assert "retry in" in ch.log()
    assert not csms.messages(cp_id=CP, action="StopTransaction")


BAD = [
    ("current_a", b"abc", "is not a number"),
    ("current_a", b"-3", "is not a number"),
    ("current_a", b"81", "out of range"),
    ("current_a", b"1e3", "is not a number"),
    ("current_a", b"nan", "is not a number"),
    ("current_a", b"", "is not a number"),
    ("current_a", b"\xff\xfe\x00\x01", "is not text"),
    ("current_a", b"9" * 40, "too long"),
    ("pause", b"yes", "must be true or false"),
    ("pause", b"\x00", "must be true or false"),
    ("phases", b"2", "no phase contactor"),
    ("phases", b"three", "must be 1 or 3"),
    ("colour", b"red", "unknown command"),
]


def test_bad_payloads_get_a_log_line_and_change_nothing(csms, make_charger, broker):
    w = broker.watch(P + "/#")
    # Retained: the broker hands it over at the subscription, flagged as kept;
    # a value kept by the broker is no live setpoint.
    w.publish(P + "/set/current_a", "6", retain=True)
    ch = start(csms, make_charger, broker)
    charging(ch)
    w.publish(P + "/set/current_a", "12")
    ch.wait(lambda s: c1(s)["offered_a"] == 12, timeout=5, what="12 A")
    for name, payload, why in BAD:
        w.publish(P + "/set/" + name, payload)
    # Huge: skipped as it arrives, never held in the charger's memory.
    w.publish(P + "/set/current_a", b"7" * 100000)
    w.publish(P + "/set/pause", "true")      # a good one after them all: they were read
    ch.wait(lambda s: c1(s)["status"] == "SuspendedEVSE", timeout=10, what="the pause")
    log = ch.log()
    for name, payload, why in BAD:
        assert "set/%s: " % name in log and why in log, (name, why)
    assert log.count("; ignored") >= len(BAD) + 1
    assert "a message of 100" in log and "is larger than 256: ignored" in log
    assert "retained command is ignored" in log
    st = ch.status()
    assert st["mqtt"] == "connected" and c1(st)["offered_a"] == 0
    w.publish(P + "/set/current_a", b"", retain=True)   # clears the retained one
    w.publish(P + "/set/pause", "false")
    st = ch.wait(lambda s: c1(s)["status"] == "Charging", timeout=10, what="resumed")
    assert c1(st)["offered_a"] == 12, "none of the bad payloads changed the limit"


def test_password_stays_out_of_sight(csms, make_charger, tmp_path):
    secret = "brokerPass-93517"
    with Broker(users={"evse": secret}) as b:
        ch = make_charger(csms.url, ident=CP, sets=["mqtt_url=" + b.url, "mqtt_user=evse",
                                                    "mqtt_password=" + secret]).start()
        ch.wait(lambda s: s["mqtt"] == "connected", timeout=20, what="connected with a password")
        ch.stop()
        assert secret not in ch.log()
        ch.sets = ["mqtt_password=wrong-password"]
        ch.start()
        ch.wait(lambda s: s["mqtt"] == "down", timeout=20, what="refused")
        time.sleep(0.5)
        # mosquitto answers a wrong password with "not authorised" (5).
        assert "refused: not authorised (check mqtt_user and mqtt_password)" in ch.log()
        assert "wrong-password" not in ch.log() and secret not in ch.log()


def test_switching_off_removes_the_discovery_configs(csms, make_charger, broker):
    w = broker.watch("#")
    ch = start(csms, make_charger, broker)
    cfgs = "homeassistant/sensor/evse_%s/c1_power/config" % CP
    w.wait(cfgs)
    assert ch.ctl("set", key="mqtt_discovery", value="false")["ok"]
    w.wait(cfgs, lambda v: v == b"", what="the config removed")
    w.wait(P + "/status")
    assert ch.status()["mqtt"] == "connected"
    assert ch.ctl("set", key="mqtt_discovery", value="true")["ok"]
    w.wait(cfgs, lambda v: v != b"", what="the config again")
    ans = ch.ctl("set", key="mqtt_url", value="http://x")
    assert not ans["ok"] and "mqtt://host[:port]" in ans["error"]
    assert ch.ctl("set", key="mqtt_url", value="")["ok"]
    w.wait(cfgs, lambda v: v == b"", what="removed when MQTT is off")
    assert w.wait(P + "/available", lambda v: v == b"offline") == b"offline"
    ch.wait(lambda s: s["mqtt"] == "off", timeout=10, what="MQTT off")
    assert ch.status()["online"]
    # Nothing is left retained for this charger's device in Home Assistant.
    late = broker.watch("homeassistant/#")
    time.sleep(1)
    assert not [m for m in late.messages if m[1]], late.messages


def _t(log, text):
    # The firmware's own time of the first log line holding text, in seconds.
    for line in log.splitlines():
        if text in line:
            return float(line.split()[0])
    raise AssertionError("no %r in the log" % text)


def test_phase_switch_from_mqtt_and_from_number_phases(csms, make_charger, broker):
    sets = ["MeterValuesSampledData=Energy.Active.Import.Register,Current.Import",
            "MeterValueSampleInterval=1"]
    w = broker.watch(P + "/#")
    ch = start(csms, make_charger, broker, sets=sets, board=["phase_switch=true"])
    st = charging(ch)
    tid = c1(st)["transaction_id"]
    # The phase contactor starts de-energised: the first offer waited for it.
    assert c1(st)["phases"] == 3 and c1(st)["sim"]["phases"] == 3
    assert abs(c1(st)["sim"]["ev_power_w"] - 16 * 230 * 3) < 100
    disc = json.loads(broker.watch("homeassistant/#").wait(
        "homeassistant/select/evse_%s/phases/config" % CP))
    assert disc["options"] == ["1", "3"]

    w.publish(P + "/set/phases", "1")
    st = ch.wait(lambda s: c1(s)["phases"] == 1 and c1(s)["contactor"], timeout=20,
                 what="charging on one phase")
    sim = c1(st)["sim"]
    assert sim["phases"] == 1 and sim["phase_switch_under_load"] == 0
    assert c1(st)["transaction_id"] == tid
    w.wait(P + "/1/phases", lambda v: v == b"1")
    w.wait(P + "/phases", lambda v: v == b"1")
    st = ch.wait(lambda s: abs(c1(s)["sim"]["ev_power_w"] - 16 * 230) < 50, timeout=5,
                 what="16 A on one phase")
    log = ch.log()
    t_ask = _t(log, "mqtt: 1 phase(s) asked for")
    t_open = _t(log[log.index("mqtt: 1 phase(s) asked for"):], "evse1: contactor open")
    t_switch = _t(log, "phase contactor: 3 -> 1")
    t_closed = _t(log[log.index("phase contactor: 3 -> 1"):], "evse1: contactor closed")
    assert t_open - t_ask < 1.0, (t_ask, t_open)
    assert t_switch - t_open >= 5.0, (t_open, t_switch)
    assert 0.5 <= t_closed - t_switch < 2.0, (t_switch, t_closed)
    # On one phase the meter values say L1, and the composite schedule says 1 phase.
    def l1(recs):
        return [r for r in recs if r["action"] == "MeterValues" and r["direction"] == "in"
                and any(sv.get("phase") == "L1" for mv in r["payload"]["meterValue"]
                        for sv in mv["sampledValue"])]
    csms.wait_for(l1, timeout=10)
    comp = csms.call(CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 60,
                                                  "chargingRateUnit": "W"})
    assert comp["chargingSchedule"]["chargingSchedulePeriod"] == \
        [{"startPeriod": 0, "limit": 3680, "numberPhases": 1}], comp

    # Back to three from MQTT, then one again from a profile's numberPhases.
    w.publish(P + "/set/phases", "3")
    ch.wait(lambda s: c1(s)["phases"] == 3 and c1(s)["contactor"], timeout=20, what="3 again")
    prof = {"chargingProfileId": 9, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative", "transactionId": tid,
            "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 2300, "numberPhases": 1}]}}
    assert csms.call(CP, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": prof}
                     )["status"] == "Accepted"
    st = ch.wait(lambda s: c1(s)["phases"] == 1 and c1(s)["contactor"], timeout=20,
                 what="one phase from numberPhases")
    # 2300 W on the one phase: 10 A.
    assert c1(st)["offered_a"] == 10 and c1(st)["sim"]["phase_switch_under_load"] == 0
    assert c1(st)["transaction_id"] == tid and len(calls(csms, "StartTransaction")) == 1


def test_mqtts_with_the_broker_ca(csms, make_charger, certs):
    # certs: test_e2e_tls's CA and a server certificate for 127.0.0.1.
    with Broker(tls=(certs["cert"], certs["key"])) as b:
        w = b.watch(P + "/#", ca=certs["ca"])
        ch = make_charger(csms.url, ident=CP, sets=["mqtt_url=" + b.url,
                                                    "mqtt_ca_file=" + certs["ca"]]).start()
        ch.wait(lambda s: s["mqtt"] == "connected", timeout=30, what="connected over TLS")
        assert json.loads(w.wait(P + "/status"))["connectors"][0]["id"] == 1
        ch.stop()
        # Another CA: no connection, and the log says why.
        ch.sets = ["mqtt_ca_file=" + certs["other"]]
        ch.start()
        time.sleep(4)
        assert ch.status()["mqtt"] != "connected" and "retry in" in ch.log()
