# Frozen-module manifest of the image for an RP2040 emulator: the Pico's chip
# without the Pico W's radio (ports/rp2, BOARD=RPI_PICO), with the firmware as the
# Pico W image freezes it, and the emulator's own modules.
#   make firmware BOARD=rp2040-emu  ->  build/firmware/rp2040-emu/firmware.uf2
# Relative paths are from this folder.

# What the RPI_PICO image freezes anyway (asyncio, ...).
include("$(PORT_DIR)/boards/manifest.py")

include("../../common/manifest.py")
module("board.py", base_path="..")
module("sampler.py", base_path="..")
module("mport.py", base_path="../../common")

# Every module of modules/, top-level, its main.py among them (the boot script),
# and the test channel and probe the simulated board has too.
freeze("modules")
module("control.py", base_path="../../sim")
module("probe.py", base_path="../../sim")
