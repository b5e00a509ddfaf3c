# The hardware options of the ESP32 and RP2040 drivers (boards/common/mport.py):
# one table for the drivers, which take the default of an option not given,
# and for setup.board(), which refuses what it does not allow.
# boards/README.md says what each one means (a test holds it to this table).
#
#   name: (kind, lowest, highest, default); lowest/highest: an int's range,
#   default None: the board driver's own (its pin table, its pilot front end)
OPTIONS = {
    "pins": (dict, None, None, None),
    "imp_per_kwh": (int, 1, 100000, 1000),
    "has_feedback": (bool, None, None, False),
    "fb_active": (int, 0, 1, 0),
    "has_rcd_test": (bool, None, None, True),
    "rcd_active": (int, 0, 1, 1),
    "has_pp": (bool, None, None, False),
    "pp_pullup_ohm": (int, None, None, 1000),
    "pp_supply_mv": (int, None, None, 3300),
    "has_lock": (bool, None, None, False),
    "has_phase_switch": (bool, None, None, False),
    "cp_zero_mv": (int, None, None, None),
    "cp_gain_pm": (int, None, None, None),
    "cp_samples": (int, 1, 1000, None),
    "vendor": (str, None, None, "DIY-EVSE"),
    "rx_buf": (int, 1024, 65536, 8192),
    "s0_irq": (bool, None, None, False),
    "rs485": (bool, None, None, False),
    "rs485_uart": (int, 0, 2, None),
    "cp_comparator": (bool, None, None, False),
}


def get(opts, name, default=None):
    """opts[name] when given, else the table's default (default: a board's own)."""
    v = opts.get(name)
    if v is None:
        v = OPTIONS[name][3]
    return default if v is None else v

