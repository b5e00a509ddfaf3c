# Frozen-module manifest of the Raspberry Pi Pico W image: the whole firmware in
# flash, which saves the heap that loading .mpy files costs (their bytecode and
# constants are copied to RAM; frozen ones run from flash).
#   make firmware BOARD=rp2040      (tools/images.py: ports/rp2, BOARD=RPI_PICO_W)
# then copy build/firmware/rp2040/firmware.uf2 onto the RPI-RP2 drive. The image
# starts the charger by itself: its frozen main.py runs ahead of any /main.py.
# Relative paths are from this folder.

# What the Pico W image freezes anyway (asyncio, the network bundle, ...).
include("$(BOARD_DIR)/manifest.py")

include("../common/manifest.py")

# This board's driver as the top-level `board`, what it shares with the ESP32's,
# and the boot script.
module("board.py")
module("sampler.py")
module("mport.py", base_path="../common")
module("main.py", base_path="..")
