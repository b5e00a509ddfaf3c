"""Modbus energy meters, one table each: adding a meter is adding a table.

    PROFILES[name] = (function, blocks, fields)

function   3 (holding registers) or 4 (input registers)
blocks     ((first register, count), ...): one request each, so a reading
           costs a few frames however many values it has
fields     ((quantity, register, format, divisor), ...): the value is the
           register(s) read in `format` divided by `divisor`

Quantities (firmware/evse/mbmeter.py): v1 v2 v3 (V, phase to neutral), i1 i2
i3 (A), p1 p2 p3 (W), f (Hz), e (import energy register, kWh). A one-phase
meter gives L1 only.

Eastron SDM120 / SDM630: IEEE-754 floats, high word first, input registers.
ABB B23/B24 (firmware 1.x map, holding registers): integers with a fixed
scale; a value of all ones means "not available" and is refused as NaN.
"""
from compat import const

F32 = const(0)
U16 = const(1)
U32 = const(2)
S32 = const(3)
U64 = const(4)
WORDS = (2, 1, 2, 2, 4)      # registers per format

QUANTITIES = ("v1", "v2", "v3", "i1", "i2", "i3", "p1", "p2", "p3", "f", "e")

PROFILES = {
    "sdm120": (4, ((0x0000, 0x000E), (0x0046, 4)), (
        ("v1", 0x0000, F32, 1), ("i1", 0x0006, F32, 1), ("p1", 0x000C, F32, 1),
        ("f", 0x0046, F32, 1), ("e", 0x0048, F32, 1))),
    "sdm630": (4, ((0x0000, 0x0012), (0x0046, 4)), (
        ("v1", 0x0000, F32, 1), ("v2", 0x0002, F32, 1), ("v3", 0x0004, F32, 1),
        ("i1", 0x0006, F32, 1), ("i2", 0x0008, F32, 1), ("i3", 0x000A, F32, 1),
        ("p1", 0x000C, F32, 1), ("p2", 0x000E, F32, 1), ("p3", 0x0010, F32, 1),
        ("f", 0x0046, F32, 1), ("e", 0x0048, F32, 1))),
    "abb_b23": (3, ((0x5000, 4), (0x5B00, 0x002E)), (
        ("e", 0x5000, U64, 100),
        ("v1", 0x5B00, U32, 10), ("v2", 0x5B02, U32, 10), ("v3", 0x5B04, U32, 10),
        ("i1", 0x5B0C, U32, 100), ("i2", 0x5B0E, U32, 100), ("i3", 0x5B10, U32, 100),
        ("p1", 0x5B16, S32, 100), ("p2", 0x5B18, S32, 100), ("p3", 0x5B1A, S32, 100),
        ("f", 0x5B2C, U16, 100))),
}

NAMES = ("s0",) + tuple(sorted(PROFILES))
