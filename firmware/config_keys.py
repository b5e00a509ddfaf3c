# The table of configuration keys, one tuple per key, kept apart from the code
# that checks them (firmware/config.py) so that both stay short. Plain tuples,
# no per-key objects: loaded from .mpy the table costs about 16 KB of heap on the
# 64-bit unix port (measured; pointers are half as wide on the boards).
#
#   (name, flags, default, rule)
#
# flags: the value kind (INT, BOOL, STR, CSL) plus RO (no one writes it; boards
# change it through Config's defaults), REBOOT (takes effect after a restart),
# DEV (device-only: not visible to OCPP), SECRET (write-only: never shown or
# returned).
# rule by kind:
#   INT  (lowest, highest or None, what the number means)
#   BOOL None
#   STR  (shortest, longest, check) with check one of None, "url", "id", "key",
#        "ssid", "wpa", "path", "mqtt", "topic", "text" (see config._check_str),
#        or a tuple of the values allowed
#   CSL  (allowed, most items) where allowed is a tuple of names, "measurand"
#        (the MEASURANDS list) or "phase" (<connector>.<rotation>), and most
#        items is a number or the name of the ...MaxLength key that holds it
#   a rule "=other" makes the key show the value of key `other` (one source
#   of truth for NumberOfConnectors and the board's connectors setting).
#
# Every entry is made of literals and const() names only, so the compiler folds
# the whole table into one constant: frozen into a firmware image it lives in
# flash and costs no heap at all.
from compat import const

INT = const(0)
BOOL = const(1)
STR = const(2)
CSL = const(3)
KIND = const(3)
RO = const(4)
REBOOT = const(8)
DEV = const(16)
SECRET = const(32)

# What the meter can give (spec 3.16.4: a CSL naming anything else is
# Rejected). Other modules that teach the meter more append to this list before
# the first Config is made.
MEASURANDS = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Current.Offered", "Voltage", "Frequency"]

ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")

KEYS = (
    # 9.1 Core profile, with the errata's MessageTimeout and StopTransactionMaxMeterValues
    ("AllowOfflineTxForUnknownId", BOOL, False, None),
    ("AuthorizationCacheEnabled", BOOL, True, None),
    ("AuthorizeRemoteTxRequests", BOOL, False, None),
    ("BlinkRepeat", INT, 3, (0, None, "times")),
    ("ClockAlignedDataInterval", INT, 0, (0, 86400, "seconds; 0 turns clock-aligned data off")),
    ("ConnectionTimeOut", INT, 60, (1, None, "seconds")),
    ("ConnectorPhaseRotation", CSL, (), ("phase", "ConnectorPhaseRotationMaxLength")),
    ("ConnectorPhaseRotationMaxLength", INT | RO, 5, (0, None, "items")),
    ("GetConfigurationMaxKeys", INT | RO, 64, (1, None, "keys")),
    ("HeartbeatInterval", INT, 300, (0, None, "seconds")),
    ("LightIntensity", INT, 100, (0, 100, "%")),
    ("LocalAuthorizeOffline", BOOL, True, None),
    ("LocalPreAuthorize", BOOL, False, None),
    ("MaxEnergyOnInvalidId", INT, 0, (0, None, "Wh")),
    ("MessageTimeout", INT, 30, (1, None, "seconds")),
    ("MeterValuesAlignedData", CSL, ("Energy.Active.Import.Register",), ("measurand", "MeterValuesAlignedDataMaxLength")),
    ("MeterValuesAlignedDataMaxLength", INT | RO, 8, (0, None, "items")),
    ("MeterValuesSampledData", CSL, ("Energy.Active.Import.Register",), ("measurand", "MeterValuesSampledDataMaxLength")),
    ("MeterValuesSampledDataMaxLength", INT | RO, 8, (0, None, "items")),
    ("MeterValueSampleInterval", INT, 60, (0, None, "seconds; 0 turns sampled data off")),
    ("MinimumStatusDuration", INT, 0, (0, None, "seconds")),
    ("NumberOfConnectors", INT | RO, 1, "=connectors"),
    ("ResetRetries", INT, 1, (0, None, "times")),
    ("StopTransactionMaxMeterValues", INT | RO, 20, (0, None, "meter values")),
    ("StopTransactionOnEVSideDisconnect", BOOL, True, None),
    ("StopTransactionOnInvalidId", BOOL, True, None),
    ("StopTxnAlignedData", CSL, (), ("measurand", "StopTxnAlignedDataMaxLength")),
    ("StopTxnAlignedDataMaxLength", INT | RO, 8, (0, None, "items")),
    ("StopTxnSampledData", CSL, (), ("measurand", "StopTxnSampledDataMaxLength")),
    ("StopTxnSampledDataMaxLength", INT | RO, 8, (0, None, "items")),
    ("SupportedFeatureProfiles", CSL | RO,
     ("Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation", "SmartCharging",
      "RemoteTrigger"),
     (("Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation",
       "SmartCharging", "RemoteTrigger"), "SupportedFeatureProfilesMaxLength")),
    ("SupportedFeatureProfilesMaxLength", INT | RO, 6, (0, None, "items")),
    ("TransactionMessageAttempts", INT, 3, (1, None, "times")),
    ("TransactionMessageRetryInterval", INT, 60, (1, None, "seconds")),
    ("UnlockConnectorOnEVSideDisconnect", BOOL, True, None),
    ("WebSocketPingInterval", INT, 60, (0, None, "seconds; 0 turns client pings off")),
    # 9.5 Firmware management (errata): what firmware/transfer.py speaks.
    ("SupportedFileTransferProtocols", CSL | RO, ("FTP", "HTTP", "HTTPS"),
     (("FTP", "FTPS", "HTTP", "HTTPS"), 4)),
    # 9.2 Local auth list management
    ("LocalAuthListEnabled", BOOL, True, None),
    ("LocalAuthListMaxLength", INT | RO, 1000, (0, None, "identifiers")),
    ("SendLocalListMaxLength", INT | RO, 32, (0, None, "identifiers")),
    # 9.3 Reservation
    ("ReserveConnectorZeroSupported", BOOL | RO, False, None),
    # 9.4 Smart charging
    ("ChargeProfileMaxStackLevel", INT | RO, 8, (0, None, "")),
    ("ChargingScheduleAllowedChargingRateUnit", CSL | RO, ("Current", "Power"),
     (("Current", "Power"), 2)),
    ("ChargingScheduleMaxPeriods", INT | RO, 24, (1, None, "periods")),
    ("ConnectorSwitch3to1PhaseSupported", BOOL | RO, False, None),
    ("MaxChargingProfilesInstalled", INT | RO, 8, (1, None, "profiles")),
    # Security whitepaper edition 2, chapter 7
    ("AdditionalRootCertificateCheck", BOOL | RO, False, None),
    ("AuthorizationKey", STR | SECRET, "", (16, 40, "key")),
    ("CertificateSignedMaxChainSize", INT | RO, 6000, (0, 10000, "characters")),
    ("CertificateStoreMaxLength", INT | RO, 8, (0, None, "certificates")),
    ("CpoName", STR, "", (0, 64, None)),
    ("SecurityProfile", INT, 0, (0, 3, "0 none, 1 basic auth, 2 TLS with basic auth, "
                                       "3 TLS with a client certificate")),
    # Device-only settings (the serial REPL, never OCPP)
    ("csms_url", STR | DEV | REBOOT, "", (0, 200, "url")),
    ("charge_point_id", STR | DEV | REBOOT, "", (0, 48, "id")),
    ("wifi_ssid", STR | DEV | REBOOT, "", (0, 32, "ssid")),
    ("wifi_password", STR | DEV | REBOOT | SECRET, "", (0, 63, "wpa")),
    ("ca_cert_file", STR | DEV | REBOOT, "", (0, 64, "path")),
    ("cert_renew_days", INT | DEV, 30, (1, 365, "days before its expiry the charge point certificate is renewed")),
    ("max_current_a", INT | DEV | REBOOT, 16, (6, 80, "A")),
    ("imp_per_kwh", INT | DEV | REBOOT, 1000, (1, 100000, "meter impulses per kWh")),
    ("connectors", INT | DEV | REBOOT, 1, (1, 4, "connectors")),
    ("phases", INT | DEV | REBOOT, 3, (1, 3, "phases wired to the EV")),
    ("voltage", INT | DEV | REBOOT, 230, (100, 480, "V, nominal phase voltage")),
    ("fixed_cable_a", INT | DEV | REBOOT, 0, (0, 80, "A of a tethered cable; 0 = socket, read the proximity pilot")),
    ("ventilation", BOOL | DEV | REBOOT, False, None),
    ("free_vend", BOOL | DEV, False, None),
    ("free_vend_tag", STR | DEV, "FreeVend", (1, 20, "id")),
    ("resume_after_power_loss", BOOL | DEV, False, None),
    # Updates over the air (firmware/ocpp/fwupdate.py)
    ("update_signed_only", BOOL | DEV, False, None),
    ("update_allow_downgrade", BOOL | DEV, False, None),
    ("update_trial_s", INT | DEV, 600, (10, 3600, "seconds a new version has to reach BootNotification accepted")),
    # MQTT (firmware/mqtt/): applied at once, no restart
    ("mqtt_url", STR | DEV, "", (0, 200, "mqtt")),
    ("mqtt_user", STR | DEV, "", (0, 64, "text")),
    ("mqtt_password", STR | DEV | SECRET, "", (0, 64, "text")),
    ("mqtt_prefix", STR | DEV, "", (0, 64, "topic")),
    ("mqtt_ca_file", STR | DEV, "", (0, 64, "path")),
    ("mqtt_discovery", BOOL | DEV, True, None),
    ("mqtt_limit_timeout_s", INT | DEV, 0, (0, 86400, "seconds a current limit from MQTT holds without a new one; 0: until replaced")),
    ("mqtt_fallback_a", INT | DEV, 6, (0, 80, "A once a limit from MQTT is older than mqtt_limit_timeout_s; below 6 pauses")),
    # Modbus meters on the RS-485 bus (firmware/meterbus.py): read at start
    ("meter_type", STR | DEV | REBOOT, "s0", (2, 8, ("s0", "abb_b23", "sdm120", "sdm630"))),
    ("meter_address", INT | DEV | REBOOT, 1, (1, 247, "Modbus address of connector 1's meter; connector n: address + n - 1")),
    ("modbus_baud", INT | DEV | REBOOT, 9600, (1200, 115200, "baud of the RS-485 bus")),
    ("modbus_parity", STR | DEV | REBOOT, "none", (3, 4, ("none", "even", "odd"))),
    ("grid_meter_type", STR | DEV | REBOOT, "sdm630", (6, 8, ("abb_b23", "sdm120", "sdm630"))),
    ("grid_meter_address", INT | DEV | REBOOT, 0, (0, 247, "Modbus address of the grid meter; 0 = none")),
    # Load management (firmware/gridlimit.py): applied at once
    ("main_fuse_a", INT | DEV, 0, (0, 630, "A per phase of the main fuse; 0 turns load management off")),
    ("grid_safe_a", INT | DEV, 6, (0, 80, "A offered while the grid meter is silent; below 6 pauses")),
    ("meter_grace_s", INT | DEV | REBOOT, 60, (0, 3600, "seconds charging goes on once the EV meter stops answering")),
)
