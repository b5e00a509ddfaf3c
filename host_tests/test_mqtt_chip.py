"""MQTT on the emulated RP2040 (tools/chip/): the rp2 port with the firmware and
umqtt.simple frozen in, its network through the UART bridge to a mosquitto on
127.0.0.1. Telemetry and discovery, a limit from a solar controller on the
pilot, a pause that keeps the transaction, a bad payload refused."""
import json

from charger import Charger
from test_mqtt import c1

CP = "cp-chip-mqtt"
P = "evse/" + CP


def test_mqtt_on_the_chip(tmp_path, csms, broker):
    w = broker.watch("#")
    ch = Charger("rp2040", csms.url, tmp_path / CP, CP, 1, None,
                 ["mqtt_url=" + broker.url, "free_vend=true"]).start()
    try:
        ch.wait(lambda s: s["online"] and s["mqtt"] == "connected", timeout=120,
                what="online and connected to the broker")
        doc = json.loads(w.wait(P + "/status", timeout=60))
        assert doc["connectors"][0]["id"] == 1 and doc["firmware"]
        conf = json.loads(w.wait("homeassistant/sensor/evse_%s/c1_energy/config" % CP, timeout=60))
        assert conf["state_class"] == "total_increasing" and conf["device_class"] == "energy"
        ch.ctl("plug", connector=1)
        ch.ctl("ev", connector=1, state="C")
        st = ch.wait(lambda s: c1(s)["contactor"] and c1(s)["transaction_id"], timeout=60,
                     what="charging, the transaction id known")
        tid = c1(st)["transaction_id"]
        w.publish(P + "/set/current_a", "10")
        st = ch.wait(lambda s: c1(s)["offered_a"] == 10, timeout=60, what="10 A")
        assert c1(st)["sim"]["duty_pct"] == 16.6
        w.publish(P + "/set/current_a", "ten")
        w.publish(P + "/set/pause", "true")
        st = ch.wait(lambda s: c1(s)["status"] == "SuspendedEVSE", timeout=60, what="paused")
        assert c1(st)["transaction_id"] == tid and not c1(st)["sim"]["contactor_physical"]
        w.publish(P + "/set/pause", "false")
        st = ch.wait(lambda s: c1(s)["status"] == "Charging", timeout=60, what="charging again")
        assert c1(st)["transaction_id"] == tid and c1(st)["offered_a"] == 10
        assert "set/current_a: 'ten' is not a number" in ch.log()
        w.wait(P + "/1/offered_a", lambda v: v == b"10", timeout=60)
    finally:
        ch.stop()
