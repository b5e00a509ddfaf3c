# GetConfiguration, ChangeConfiguration and ClearCache through the RPC layer, run
# under MicroPython and CPython by test_config_actions.py. argv[1]: an empty
# directory. Prints "PASS name" / "FAIL name: why", and "RES <action> <json>" for
# every CALLRESULT payload (checked against the official schemas by the test).
import sys
import json
import asyncio
import log
from firmware.store import Store
from firmware import config
from firmware.config import Config
from firmware.config_keys import INT, REBOOT
from rpcfake import expect, results, call
from realcp import RealCP
from firmware.ocpp.auth import Auth, NAME as CACHE_FILE

ROOT = sys.argv[1]
SECRET = "s3cr3t-0123456789abcdef"
BAD_SECRET = "zq7short"     # too short for AuthorizationKey: Rejected
log.level = log.INFO
lines = []
log.add_sink(lambda lvl, line: lines.append(line))

# No OCPP key of the real table needs a restart; one test key shows that the
# registry's RebootRequired reaches the central system unchanged.
config.KEYS = config.KEYS + (("TestRebootKey", INT | REBOOT, 1, (0, 9, "")),)


def by_key(res):
    d = {}
    for it in res.get("configurationKey", ()):
        d[it["key"]] = it
    return d


async def main():
    cp = RealCP(ROOT + "/a")
    cfg = cp.cfg

    # --- GetConfiguration
    res, err = await call(cp, "GetConfiguration", {})
    names = [it["key"] for it in res["configurationKey"]]
    want = list(cfg.keys())
    expect("get_all_lists_every_ocpp_key", err is None and names == want and len(want) > 40
           and "unknownKey" not in res, (err, len(names), len(want)))
    expect("get_all_no_device_keys", "csms_url" not in names and "wifi_password" not in names
           and "connectors" not in names, names)
    d = by_key(res)
    expect("get_values_as_ocpp_text", d["HeartbeatInterval"] == {"key": "HeartbeatInterval", "readonly": False,
                                                                 "value": "300"}
           and d["AuthorizationCacheEnabled"]["value"] == "true"
           and d["LocalPreAuthorize"]["value"] == "false"
           and d["SupportedFeatureProfiles"]["value"]
           == "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
           "RemoteTrigger"
           and d["StopTxnSampledData"]["value"] == "", (d["HeartbeatInterval"], d["SupportedFeatureProfiles"]))
    expect("get_readonly_flags", d["GetConfigurationMaxKeys"]["readonly"] is True
           and d["NumberOfConnectors"]["readonly"] is True and d["MeterValuesSampledData"]["readonly"] is False)
    res2, err = await call(cp, "GetConfiguration", {"key": []})
    expect("get_empty_list_means_all", res2 == res, err)

    cfg.set("AuthorizationKey", SECRET, "repl")
    res, err = await call(cp, "GetConfiguration", {})
    d = by_key(res)
    expect("get_secret_listed_without_value", d.get("AuthorizationKey") == {"key": "AuthorizationKey",
                                                                            "readonly": False}, d.get("AuthorizationKey"))
    res, err = await call(cp, "GetConfiguration", {"key": ["authorizationkey"]})
    expect("get_secret_named_without_value", res == {"configurationKey": [{"key": "AuthorizationKey",
                                                                          "readonly": False}]}, (res, err))

    res, err = await call(cp, "GetConfiguration", {"key": ["HeartbeatInterval", "heartbeatinterval", "Nope",
                                                           "csms_url", "Nope", "MeterValuesSampledData"]})
    expect("get_some_and_unknown", err is None and res == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                             {"key": "MeterValuesSampledData", "readonly": False,
                              "value": "Energy.Active.Import.Register"}],
        "unknownKey": ["Nope", "csms_url"]}, (res, err))
    res, err = await call(cp, "GetConfiguration", {"key": ["Nope"]})
    expect("get_only_unknown", res == {"configurationKey": [], "unknownKey": ["Nope"]}, (res, err))

    most = cfg.get("GetConfigurationMaxKeys")
    res, err = await call(cp, "GetConfiguration", {"key": ["K%d" % i for i in range(most)]})
    expect("get_max_keys_allowed", err is None and len(res["unknownKey"]) == most, err)
    res, err = await call(cp, "GetConfiguration", {"key": ["K%d" % i for i in range(most + 1)]})
    expect("get_over_max_keys_callerror", res is None and err[0] == "OccurenceConstraintViolation"
           and str(most) in err[1], (res, err))
    res, err = await call(cp, "GetConfiguration", {"key": ["x" * 51]})
    expect("get_key_too_long", err is not None and err[0] == "PropertyConstraintViolation", err)
    res, err = await call(cp, "GetConfiguration", {"key": "HeartbeatInterval"})
    expect("get_key_not_array", err is not None and err[0] == "TypeConstraintViolation", err)
    res, err = await call(cp, "GetConfiguration", {"keys": []})
    expect("get_extra_field", err is not None and err[0] == "FormationViolation", err)

    # --- ChangeConfiguration
    res, err = await call(cp, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})
    got, _ = await call(cp, "GetConfiguration", {"key": ["HeartbeatInterval"]})
    expect("change_accepted", res == {"status": "Accepted"} and cfg.get("HeartbeatInterval") == 60
           and got["configurationKey"][0]["value"] == "60", (res, err, got))
    res, err = await call(cp, "ChangeConfiguration", {"key": "localpreauthorize", "value": "TRUE"})
    expect("change_bool_any_case", res == {"status": "Accepted"} and cfg.get("LocalPreAuthorize") is True, res)
    res, err = await call(cp, "ChangeConfiguration", {"key": "TestRebootKey", "value": "5"})
    expect("change_reboot_required", res == {"status": "RebootRequired"} and cfg.get("TestRebootKey") == 5,
           (res, err))
    del lines[:]
    for key, value in (("GetConfigurationMaxKeys", "10"), ("HeartbeatInterval", "abc"),
                       ("WebSocketPingInterval", "-1"), ("LightIntensity", "101"),
                       ("MeterValuesSampledData", "Energy.Active.Import.Register,Temperature"),
                       ("ConnectorPhaseRotation", "1.RST,2.RST,3.RST,4.RST,5.RST,6.RST")):
        res, err = await call(cp, "ChangeConfiguration", {"key": key, "value": value})
        expect("change_rejected_" + key, res == {"status": "Rejected"}, (res, err))
    expect("rejected_logged_with_reason", len(lines) == 6 and "GetConfigurationMaxKeys is read-only" in lines[0]
           and "LightIntensity must be an integer from 0 to 100" in lines[3], lines)
    expect("rejected_changes_nothing", cfg.get("WebSocketPingInterval") == 60
           and cfg.get("GetConfigurationMaxKeys") == most)
    for key in ("Foo", "csms_url", "wifi_password"):
        res, err = await call(cp, "ChangeConfiguration", {"key": key, "value": "1"})
        expect("change_not_supported_" + key, res == {"status": "NotSupported"}, (res, err))
    del lines[:]
    res, err = await call(cp, "ChangeConfiguration", {"key": "AuthorizationKey", "value": BAD_SECRET})
    r2, err2 = await call(cp, "ChangeConfiguration", {"key": "AuthorizationKey", "value": SECRET + "X"})
    expect("change_secret_statuses", res == {"status": "Rejected"} and r2 == {"status": "Accepted"}
           and cfg.get("AuthorizationKey") == SECRET + "X", (res, r2))
    text = "\n".join(lines)
    expect("secret_never_logged", len(lines) >= 2 and BAD_SECRET not in text and SECRET not in text, lines)
    res, err = await call(cp, "ChangeConfiguration", {"key": "HeartbeatInterval"})
    expect("change_missing_value", err is not None and err[0] == "OccurenceConstraintViolation", err)
    res, err = await call(cp, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": 60})
    expect("change_value_not_string", err is not None and err[0] == "TypeConstraintViolation", err)
    res, err = await call(cp, "ChangeConfiguration", {"key": "CpoName", "value": "v" * 501})
    expect("change_value_too_long", err is not None and err[0] == "PropertyConstraintViolation", err)
    c2 = Config(cp.store)
    expect("changes_persisted", c2.get("HeartbeatInterval") == 60 and c2.get("LocalPreAuthorize") is True)

    # --- ClearCache
    cp.auth.update("TAG1", {"status": "Accepted"})
    cp.auth.update("TAG2", {"status": "Blocked"})
    res, err = await call(cp, "ClearCache", {})
    expect("clear_cache_accepted", res == {"status": "Accepted"} and cp.auth.tags() == []
           and not cp.store.exists(CACHE_FILE)
           and Auth(cfg, cp.store, None, lambda: False).tags() == [], (res, err, cp.auth.tags()))
    cp.auth.update("TAG3", {"status": "Accepted"})
    cfg.set("AuthorizationCacheEnabled", "false", "ocpp")
    res, err = await call(cp, "ClearCache", {})
    expect("clear_disabled_cache_accepted", res == {"status": "Accepted"} and cp.auth.tags() == [], res)
    cfg.set("AuthorizationCacheEnabled", "true", "ocpp")
    res, err = await call(cp, "ClearCache", {"x": 1})
    expect("clear_cache_extra_field", err is not None and err[0] == "FormationViolation", err)

    class StuckStore(Store):
        def remove(self, name):
            return False
    cp2 = RealCP(ROOT + "/b")
    cp2.auth = Auth(cp2.cfg, StuckStore(ROOT + "/b"), None, lambda: False)
    cp2.auth.update("TAG1", {"status": "Accepted"})
    res, err = await call(cp2, "ClearCache", {})
    expect("clear_cache_fails_rejected", res == {"status": "Rejected"}, (res, err))


asyncio.run(main())
print("DONE %d" % len(results))
