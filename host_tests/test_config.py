"""firmware/config.py: the typed registry of configuration keys behind
ChangeConfiguration, GetConfiguration and the REPL."""
import os
import re
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (_ROOT, os.path.join(_ROOT, "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import log  # noqa: E402
from firmware.store import Store  # noqa: E402
from firmware.config import Config  # noqa: E402
from firmware import config_keys  # noqa: E402
from mprun import cases, RUNTIMES  # noqa: E402

SPEC = "/work/shared/spec/ocpp-1.6-edition-2.txt"
# Chapter 9 of OCPP 1.6 edition 2 (9.1 to 9.4), kept here so the test also runs
# where the spec text is not at hand; checked against the text when it is.
SPEC_KEYS = """AllowOfflineTxForUnknownId AuthorizationCacheEnabled AuthorizeRemoteTxRequests
BlinkRepeat ClockAlignedDataInterval ConnectionTimeOut ConnectorPhaseRotation
ConnectorPhaseRotationMaxLength GetConfigurationMaxKeys HeartbeatInterval LightIntensity
LocalAuthorizeOffline LocalPreAuthorize MaxEnergyOnInvalidId MeterValuesAlignedData
MeterValuesAlignedDataMaxLength MeterValuesSampledData MeterValuesSampledDataMaxLength
MeterValueSampleInterval MinimumStatusDuration NumberOfConnectors ResetRetries
StopTransactionOnEVSideDisconnect StopTransactionOnInvalidId StopTxnAlignedData
StopTxnAlignedDataMaxLength StopTxnSampledData StopTxnSampledDataMaxLength
SupportedFeatureProfiles SupportedFeatureProfilesMaxLength TransactionMessageAttempts
TransactionMessageRetryInterval UnlockConnectorOnEVSideDisconnect WebSocketPingInterval
LocalAuthListEnabled LocalAuthListMaxLength SendLocalListMaxLength
ReserveConnectorZeroSupported ChargeProfileMaxStackLevel
ChargingScheduleAllowedChargingRateUnit ChargingScheduleMaxPeriods
ConnectorSwitch3to1PhaseSupported MaxChargingProfilesInstalled""".split()
ERRATA_KEYS = ["MessageTimeout", "StopTransactionMaxMeterValues", "SupportedFileTransferProtocols"]
SECURITY_KEYS = ["SecurityProfile", "AuthorizationKey", "CpoName", "CertificateStoreMaxLength",
                 "AdditionalRootCertificateCheck", "CertificateSignedMaxChainSize"]
DEVICE_KEYS = ["csms_url", "charge_point_id", "wifi_ssid", "wifi_password", "ca_cert_file",
               "cert_renew_days",
               "max_current_a", "imp_per_kwh", "connectors", "phases", "voltage",
               "fixed_cable_a", "ventilation", "free_vend", "free_vend_tag",
               "resume_after_power_loss", "update_signed_only",
               "update_allow_downgrade", "update_trial_s", "mqtt_url", "mqtt_user",
               "mqtt_password", "mqtt_prefix", "mqtt_ca_file", "mqtt_discovery",
               "mqtt_limit_timeout_s", "mqtt_fallback_a", "meter_type", "meter_address",
               "modbus_baud", "modbus_parity", "grid_meter_type", "grid_meter_address",
               "main_fuse_a", "grid_safe_a", "meter_grace_s"]
SECRET = "s3cr3t-0123456789abcdef"


@pytest.fixture
def st(tmp_path):
    return Store(str(tmp_path))


@pytest.fixture
def cfg(st):
    return Config(st)


@pytest.fixture
def lines():
    got = []

    def sink(lvl, line):
        got.append(line)
    log.add_sink(sink)
    yield got
    log.remove_sink(sink)


def test_every_spec_key_is_there(cfg):
    if os.path.exists(SPEC):
        with open(SPEC, encoding="utf-8") as f:
            found = set(re.findall(r"9\.[1-4]\.\d+\.? ([A-Z][A-Za-z0-9]+)", f.read()))
        assert found == set(SPEC_KEYS)
    ocpp = list(cfg.keys())
    for k in SPEC_KEYS + ERRATA_KEYS + SECURITY_KEYS:
        assert k in ocpp, k
        assert cfg.entry(k) is not None, k
    everything = list(cfg.keys(ocpp_only=False))
    assert [k for k in everything if k not in ocpp] == DEVICE_KEYS
    assert everything == list(cfg.keys(ocpp_only=False)), "stable order"
    assert len(set(everything)) == len(everything)
    # A central system can ask for every key by name in one GetConfiguration.
    assert cfg.get("GetConfigurationMaxKeys") >= len(ocpp)
    for k in ocpp:
        assert len(k) <= 50                                        # CiString50
        ro, val = cfg.entry(k)
        assert val is None or (isinstance(val, str) and len(val) <= 500)  # CiString500


def test_defaults_are_typed(cfg):
    assert cfg.get("HeartbeatInterval") == 300
    assert cfg.get("LocalPreAuthorize") is False
    assert cfg.get("MeterValuesSampledData") == ["Energy.Active.Import.Register"]
    assert cfg.get("StopTxnSampledData") == []
    assert cfg.get("CpoName") == ""
    assert cfg.get("NumberOfConnectors") == 1
    assert cfg.entry("StopTxnSampledData") == (False, "")
    assert cfg.entry("LocalAuthListEnabled") == (False, "true")
    assert cfg.entry("NumberOfConnectors") == (True, "1")
    with pytest.raises(KeyError):
        cfg.get("NoSuchKey")


def test_int_key(cfg, st):
    assert cfg.set("HeartbeatInterval", "60") == ("Accepted", "HeartbeatInterval = 60")
    assert cfg.get("HeartbeatInterval") == 60
    assert cfg.entry("HeartbeatInterval") == (False, "60")
    msg = "HeartbeatInterval must be an integer >= 0 (seconds)"
    for bad in ("-1", "abc", "", "1.5", "1e3", "0x10", "99999999999", "\u0661\u0662", True, None, 2.0):
        assert cfg.set("HeartbeatInterval", bad) == ("Rejected", msg), bad
    assert cfg.get("HeartbeatInterval") == 60
    assert cfg.set("HeartbeatInterval", " 120 ")[0] == "Accepted"
    assert cfg.set("HeartbeatInterval", 30, "repl")[0] == "Accepted"
    assert cfg.get("HeartbeatInterval") == 30
    assert cfg.set("LightIntensity", "101") == (
        "Rejected", "LightIntensity must be an integer from 0 to 100 (%)")
    assert cfg.set("LightIntensity", "100")[0] == "Accepted"


def test_negative_websocket_ping_interval_is_rejected(cfg):
    st, msg = cfg.set("WebSocketPingInterval", "-5")
    assert st == "Rejected"
    assert msg.startswith("WebSocketPingInterval must be an integer >= 0")
    assert cfg.set("WebSocketPingInterval", "0")[0] == "Accepted"
    assert cfg.get("WebSocketPingInterval") == 0


def test_bool_key(cfg):
    assert cfg.set("LocalPreAuthorize", "TRUE") == ("Accepted", "LocalPreAuthorize = true")
    assert cfg.get("LocalPreAuthorize") is True
    assert cfg.entry("LocalPreAuthorize") == (False, "true")
    for bad in ("yes", "1", "", 1, None):
        assert cfg.set("LocalPreAuthorize", bad) == (
            "Rejected", "LocalPreAuthorize must be true or false"), bad
    assert cfg.set("LocalPreAuthorize", False, "repl")[0] == "Accepted"
    assert cfg.get("LocalPreAuthorize") is False


def test_csl_measurands(cfg):
    st, msg = cfg.set("MeterValuesSampledData", "Energy.Active.Import.Register, voltage,Current.Offered")
    assert st == "Accepted"
    # Spelled as the spec spells it, whatever case the central system used.
    assert cfg.get("MeterValuesSampledData") == ["Energy.Active.Import.Register", "Voltage",
                                                 "Current.Offered"]
    assert cfg.entry("MeterValuesSampledData") == (
        False, "Energy.Active.Import.Register,Voltage,Current.Offered")
    st, msg = cfg.set("MeterValuesSampledData", "Energy.Active.Import.Register,Temperature")
    assert st == "Rejected"
    assert "'Temperature' is not supported" in msg and "Power.Active.Import" in msg
    assert cfg.get("MeterValuesSampledData")[1] == "Voltage", "a rejected change changes nothing"
    assert cfg.set("StopTxnSampledData", "Voltage,Voltage")[0] == "Rejected"
    assert cfg.set("StopTxnSampledData", "Voltage,,Power.Active.Import") == (
        "Rejected", "StopTxnSampledData has an empty item; separate items with single commas")
    assert cfg.set("StopTxnAlignedData", ["Voltage", "Current.Import"], "repl")[0] == "Accepted"
    assert cfg.get("StopTxnAlignedData") == ["Voltage", "Current.Import"]
    assert cfg.set("StopTxnAlignedData", "")[0] == "Accepted"           # spec 3.16.5
    assert cfg.get("StopTxnAlignedData") == []
    got = cfg.get("MeterValuesSampledData")
    got.append("x")
    assert "x" not in cfg.get("MeterValuesSampledData"), "get returns a copy"


def test_csl_longer_than_its_max_length(st):
    cfg = Config(st, {"MeterValuesSampledDataMaxLength": 2})
    assert cfg.set("MeterValuesSampledData", "Voltage,Current.Import")[0] == "Accepted"
    assert cfg.set("MeterValuesSampledData", "Voltage,Current.Import,Power.Active.Import") == (
        "Rejected", "MeterValuesSampledData takes at most 2 item(s) (MeterValuesSampledDataMaxLength)")


def test_measurands_can_be_extended(st, monkeypatch):
    monkeypatch.setattr(config_keys, "MEASURANDS", config_keys.MEASURANDS + ["SoC"])
    import firmware.config as config_mod
    monkeypatch.setattr(config_mod, "MEASURANDS", config_keys.MEASURANDS)
    assert Config(st).set("MeterValuesSampledData", "SoC")[0] == "Accepted"


def test_phase_rotation(st):
    cfg = Config(st, {"NumberOfConnectors": 2})
    assert cfg.set("ConnectorPhaseRotation", "0.RST,1.rts,2.NotApplicable")[0] == "Accepted"
    assert cfg.get("ConnectorPhaseRotation") == ["0.RST", "1.RTS", "2.NotApplicable"]
    for bad in ("3.RST", "RST", "1.XYZ", "1.RST,1.RTS", "a.RST"):
        st_, msg = cfg.set("ConnectorPhaseRotation", bad)
        assert st_ == "Rejected", bad
    assert "connector 0 to 2" in cfg.set("ConnectorPhaseRotation", "3.RST")[1]


def test_string_key(cfg):
    assert cfg.set("CpoName", "Example CPO")[0] == "Accepted"
    assert cfg.get("CpoName") == "Example CPO"
    assert cfg.set("CpoName", "x" * 65) == ("Rejected", "CpoName must be at most 64 characters")


def test_read_only_unknown_and_device_only(cfg):
    assert cfg.set("NumberOfConnectors", "2") == (
        "Rejected", "NumberOfConnectors is read-only; it follows connectors")
    assert cfg.set("GetConfigurationMaxKeys", "5") == ("Rejected", "GetConfigurationMaxKeys is read-only")
    assert cfg.set("SupportedFeatureProfiles", "Core", "repl")[0] == "Rejected"
    assert cfg.set("NoSuchKey", "1") == ("NotSupported", "NoSuchKey is not a supported configuration key")
    assert cfg.entry("NoSuchKey") is None
    # Device settings do not exist for the central system.
    assert cfg.set("csms_url", "ws://evil.example/")[0] == "NotSupported"
    assert cfg.set("max_current_a", "32")[0] == "NotSupported"
    for k in DEVICE_KEYS:
        assert cfg.entry(k) is None


def test_names_are_case_insensitive(cfg):
    assert cfg.set("heartbeatINTERVAL", "42")[0] == "Accepted"
    assert cfg.get("HeartbeatInterval") == 42
    assert cfg.entry("HEARTBEATINTERVAL") == (False, "42")
    assert cfg.canonical("heartbeatinterval") == "HeartbeatInterval"
    assert cfg.canonical("nope") is None


def test_reboot_required_device_keys(cfg, st):
    assert cfg.reboot_pending() == []
    st_, msg = cfg.set("csms_url", "ws://127.0.0.1:9000/ocpp", "repl")
    assert st_ == "RebootRequired" and "restart" in msg
    assert cfg.get("csms_url") == "ws://127.0.0.1:9000/ocpp"
    assert cfg.reboot_pending() == ["csms_url"]
    # Said again before the restart: still not in effect.
    assert cfg.set("csms_url", "ws://127.0.0.1:9000/ocpp", "repl")[0] == "RebootRequired"
    assert cfg.set("connectors", 2, "repl")[0] == "RebootRequired"
    assert cfg.get("NumberOfConnectors") == 2
    assert cfg.set("csms_url", "http://x", "repl") == (
        "Rejected", "csms_url must be a ws:// or wss:// URL of at most 200 characters")
    assert cfg.set("charge_point_id", "CP:1", "repl")[0] == "Rejected"
    assert cfg.set("charge_point_id", "RDAM 123", "repl")[0] == "RebootRequired"
    assert cfg.set("max_current_a", 5, "repl") == (
        "Rejected", "max_current_a must be an integer from 6 to 80 (A)")
    assert cfg.set("wifi_password", "short", "repl")[0] == "Rejected"
    assert cfg.set("wifi_ssid", "\u00e9" * 17, "repl")[0] == "Rejected"   # 34 bytes
    assert "csms_url = ws://127.0.0.1:9000/ocpp  (restart to apply)" in cfg.show()
    assert Config(st).reboot_pending() == [], "a restart applies it"


def test_persistence_and_write_budget(st):
    cfg = Config(st)
    assert cfg.set("HeartbeatInterval", "77")[0] == "Accepted"
    assert cfg.set("MeterValuesSampledData", "Voltage,Current.Import")[0] == "Accepted"
    assert cfg.set("LocalPreAuthorize", "true")[0] == "Accepted"
    assert cfg.set("csms_url", "wss://example.org/ocpp", "repl")[0] == "RebootRequired"
    w = st.writes
    assert w == 4
    # Unchanged values and rejected values cost no flash write.
    assert cfg.set("HeartbeatInterval", "77") == ("Accepted", "HeartbeatInterval is already 77")
    cfg.set("HeartbeatInterval", "-3")
    cfg.set("NoSuchKey", "1")
    assert st.writes == w
    again = Config(st)
    assert again.get("HeartbeatInterval") == 77
    assert again.get("MeterValuesSampledData") == ["Voltage", "Current.Import"]
    assert again.get("LocalPreAuthorize") is True
    assert again.get("csms_url") == "wss://example.org/ocpp"
    assert st.writes == w


def test_torn_config_file_falls_back_to_defaults(st, tmp_path, lines):
    cfg = Config(st)
    cfg.set("HeartbeatInterval", "77")
    p = str(tmp_path / "config")
    with open(p, "rb") as f:
        data = f.read()
    with open(p, "wb") as f:
        f.write(data[:-3])
    del lines[:]
    fresh = Config(st)
    assert fresh.get("HeartbeatInterval") == 300
    assert len([line for line in lines if " W " in line]) == 1


def test_saved_values_are_checked_again(st, lines):
    st.save("config", {"HeartbeatInterval": -4, "GetConfigurationMaxKeys": 1, "Bogus": 1,
                       "LocalPreAuthorize": True, "ConnectorPhaseRotation": ["2.RST"],
                       "connectors": 2})
    cfg = Config(st)
    assert cfg.get("HeartbeatInterval") == 300
    assert cfg.get("GetConfigurationMaxKeys") == 64
    assert cfg.get("LocalPreAuthorize") is True
    # Checked after connectors, whatever order the file has.
    assert cfg.get("ConnectorPhaseRotation") == ["2.RST"]
    assert len([line for line in lines if " W config:" in line]) == 3


def test_board_defaults(st):
    cfg = Config(st, {"NumberOfConnectors": 3, "HeartbeatInterval": 60,
                      "SupportedFileTransferProtocols": ["HTTP", "HTTPS"]})
    assert cfg.get("NumberOfConnectors") == 3 and cfg.get("connectors") == 3
    assert cfg.get("HeartbeatInterval") == 60
    assert cfg.entry("SupportedFileTransferProtocols") == (True, "HTTP,HTTPS")
    # Checked against the other defaults, whatever order the board gives them in.
    cfg = Config(st, {"ConnectorPhaseRotation": "3.RST", "MeterValuesSampledDataMaxLength": 1,
                      "MeterValuesSampledData": ["Voltage"], "NumberOfConnectors": 3})
    assert cfg.get("ConnectorPhaseRotation") == ["3.RST"]
    assert cfg.set("MeterValuesSampledData", "Voltage,Current.Import")[0] == "Rejected"
    with pytest.raises(ValueError):
        Config(st, {"NoSuchKey": 1})
    with pytest.raises(ValueError):
        Config(st, {"NumberOfConnectors": 0})


def test_secrets_are_write_only(cfg, lines):
    assert cfg.set("AuthorizationKey", "short")[0] == "Rejected"
    st_, msg = cfg.set("AuthorizationKey", SECRET)
    assert st_ == "Accepted" and SECRET not in msg
    assert cfg.set("wifi_password", SECRET, "repl")[0] == "RebootRequired"
    assert cfg.get("AuthorizationKey") == SECRET          # the WebSocket client needs it
    # GetConfiguration lists the key without its value.
    assert cfg.entry("AuthorizationKey") == (False, None)
    shown = "\n".join(cfg.show())
    assert SECRET not in shown
    assert "AuthorizationKey = <hidden>" in shown and "wifi_password = <hidden>" in shown
    assert SECRET not in "\n".join(lines)
    assert any("AuthorizationKey changed" in line for line in lines)
    assert cfg.set("AuthorizationKey", SECRET)[1] == "AuthorizationKey is already <hidden>"
    assert "wifi_password = <not set>" in Config(Store(cfg._store.root + "/x")).show()


def test_security_profile_rules(cfg):
    assert cfg.set("SecurityProfile", "1") == (
        "Rejected", "SecurityProfile 1 needs an AuthorizationKey (16 to 40 characters) first")
    cfg.set("AuthorizationKey", SECRET)
    assert cfg.set("SecurityProfile", "1")[0] == "Accepted"
    assert cfg.set("SecurityProfile", "1")[0] == "Rejected"     # A05.FR.01: not equal
    assert cfg.set("SecurityProfile", "0") == (
        "Rejected", "SecurityProfile can only be raised over OCPP (it is 1)")
    assert cfg.set("SecurityProfile", "2") == (
        "Rejected", "SecurityProfile 2 needs a CA certificate: set ca_cert_file first")
    assert cfg.set("SecurityProfile", "3")[0] == "Rejected"
    assert cfg.set("AuthorizationKey", "", "repl")[0] == "Rejected"
    cfg.set("ca_cert_file", "ca.pem", "repl")
    assert cfg.set("SecurityProfile", "2")[0] == "Accepted"
    assert cfg.set("ca_cert_file", "", "repl")[0] == "Rejected"
    # The owner at the REPL may go back down.
    assert cfg.set("SecurityProfile", 0, "repl")[0] == "Accepted"
    assert cfg.set("AuthorizationKey", "", "repl")[0] == "Accepted"
    assert cfg.set("AuthorizationKey", "")[0] == "Rejected"


def test_watchers(cfg):
    seen = []
    cfg.watch(lambda n, v: seen.append((n, v)))

    def broken(n, v):
        raise RuntimeError("watcher bug")
    cfg.watch(broken)
    cfg.set("HeartbeatInterval", "10")
    cfg.set("HeartbeatInterval", "10")
    cfg.set("HeartbeatInterval", "-10")
    cfg.set("MeterValuesSampledData", "Voltage")
    assert seen == [("HeartbeatInterval", 10), ("MeterValuesSampledData", ["Voltage"])]
    cfg.unwatch(broken)


def test_a_failed_save_changes_nothing(cfg, monkeypatch):
    def full(name, obj):
        raise OSError(28, "ENOSPC")
    monkeypatch.setattr(cfg._store, "save", full)
    st_, msg = cfg.set("HeartbeatInterval", "10")
    assert st_ == "Rejected" and "cannot save" in msg
    assert cfg.get("HeartbeatInterval") == 300


def test_reset(cfg, st):
    cfg.set("HeartbeatInterval", "10")
    assert cfg.reset() is False
    cfg.set("csms_url", "ws://h/", "repl")
    assert cfg.reset() is True
    assert Config(st).get("csms_url") == "" and Config(st).get("HeartbeatInterval") == 300


def test_show_lists_every_key_once(cfg):
    shown = cfg.show()
    assert [line.split(" = ")[0] for line in shown] == list(cfg.keys(ocpp_only=False))
    assert "HeartbeatInterval = 300" in shown
    assert "NumberOfConnectors = 1  (read-only)" in shown


# ---- the same registry under the real MicroPython interpreter

MP_SCRIPT = r'''
import sys
from firmware.store import Store
from firmware.config import Config
root = sys.argv[1]
def check(name, ok):
    print(("PASS " if ok else "FAIL ") + name)
st = Store(root)
c = Config(st, {"NumberOfConnectors": 2})
check("int", c.set("HeartbeatInterval", "60") == ("Accepted", "HeartbeatInterval = 60"))
check("int rejected", c.set("HeartbeatInterval", "-1") ==
      ("Rejected", "HeartbeatInterval must be an integer >= 0 (seconds)"))
check("bool", c.set("LocalPreAuthorize", "True")[0] == "Accepted" and c.get("LocalPreAuthorize") is True)
check("csl", c.set("MeterValuesSampledData", "Voltage,current.import")[0] == "Accepted"
      and c.get("MeterValuesSampledData") == ["Voltage", "Current.Import"])
check("csl rejected", c.set("MeterValuesSampledData", "Temperature")[0] == "Rejected")
check("phase", c.set("ConnectorPhaseRotation", "1.RST,2.TSR")[0] == "Accepted")
check("read-only", c.set("NumberOfConnectors", "3")[0] == "Rejected" and c.get("NumberOfConnectors") == 2)
check("unknown", c.set("Nope", "1")[0] == "NotSupported")
check("device", c.set("csms_url", "ws://x/")[0] == "NotSupported"
      and c.set("csms_url", "ws://127.0.0.1:1/ocpp", "repl")[0] == "RebootRequired")
check("secret", c.set("AuthorizationKey", "0123456789abcdefXYZ")[0] == "Accepted"
      and c.entry("AuthorizationKey") == (False, None)
      and "0123456789abcdefXYZ" not in "".join(c.show()))
check("profile", c.set("SecurityProfile", "1")[0] == "Accepted")
d = Config(st, {"NumberOfConnectors": 2})
check("persisted", d.get("HeartbeatInterval") == 60 and d.get("ConnectorPhaseRotation") == ["1.RST", "2.TSR"]
      and d.get("SecurityProfile") == 1 and d.get("AuthorizationKey") == "0123456789abcdefXYZ")
f = open(root + "/config", "rb"); data = f.read(); f.close()
f = open(root + "/config", "wb"); f.write(data[:len(data) // 2]); f.close()
check("torn", Config(st).get("HeartbeatInterval") == 300)
from firmware.config_keys import KEYS, DEV
check("keys", len(list(c.keys())) >= 51 and len(list(c.keys(False))) == len(list(c.keys())) + len([k for k in KEYS if k[1] & DEV]))
print("DONE")
'''


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_config_on_both_runtimes(tmp_path, runtime):
    script = tmp_path / "config_check.py"
    script.write_text(MP_SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    passed, failed, out = cases(runtime, str(script), str(data))
    assert not failed, out
    assert len(passed) == 14, out
