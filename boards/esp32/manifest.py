# Frozen-module manifest of the ESP32 image: the whole firmware in flash, which
# saves the heap that loading .mpy files costs (their bytecode and constants are
# copied to RAM; frozen ones run from flash). ESP-IDF builds it;
# `make firmware BOARD=esp32` prints the commands:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/repo/boards/esp32/manifest.py
# The image starts the charger by itself: its frozen main.py runs ahead of any
# /main.py. Relative paths are from this folder.

# What the port freezes anyway (asyncio, ...).
include("$(PORT_DIR)/boards/manifest.py")

include("../common/manifest.py")

# This board's driver as the top-level `board`, what it shares with the RP2040's,
# and the boot script.
module("board.py")
module("mport.py", base_path="../common")
module("main.py", base_path="..")
