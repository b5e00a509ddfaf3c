# Frozen-module manifest: builds a MicroPython image for the ESP32 with the
# whole firmware in flash, which saves the heap that loading .mpy files costs
# (their bytecode and constants are copied to RAM; frozen ones run from flash).
#   cd micropython/ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/repo/boards/esp32/manifest.py
# then flash the image and run `tools/deploy.py --board esp32 --port PORT --frozen`,
# which installs only /main.py. Relative paths are from this folder.

# What the port freezes anyway (asyncio, ...).
include("$(PORT_DIR)/boards/manifest.py")

# lib/*.py as top-level modules (compat, log, ws, logfile, ...).
freeze("../../lib")

# The application package, and its REPL API again as the top-level `setup`.
package("firmware", base_path="../..")
module("setup.py", base_path="../../firmware")

# This board's driver as the top-level `board`, and what it shares with the
# other boards.
module("board.py")
module("mport.py", base_path="../common")
