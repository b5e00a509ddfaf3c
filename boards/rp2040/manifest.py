# Frozen-module manifest: builds a MicroPython image for the Raspberry Pi Pico W
# with the whole firmware in flash, which saves the heap that loading .mpy
# files costs (their bytecode and constants are copied to RAM; frozen ones run
# from flash).
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/repo/boards/rp2040/manifest.py
# then flash the .uf2 and run `tools/deploy.py --board rp2040 --port PORT --frozen`,
# which installs only /main.py. Relative paths are from this folder.

# What the Pico W image freezes anyway (asyncio, the network bundle, ...).
include("$(BOARD_DIR)/manifest.py")

# lib/*.py as top-level modules (compat, log, ws, logfile, ...).
freeze("../../lib")

# The application package, and its REPL API again as the top-level `setup`.
package("firmware", base_path="../..")
module("setup.py", base_path="../../firmware")

# This board's driver as the top-level `board`, and what it shares with the
# other boards.
module("board.py")
module("mport.py", base_path="../common")
