# Frozen-module manifest of the "32-bit twin": the unix port built for i386 with
# the firmware and the simulated board frozen in, so that a PC runs the firmware
# from frozen bytecode as a board does (make firmware BOARD=twin; run it with
# tools/sim.py --runtime twin). Relative paths are from this folder.

# What the unix port's standard variant freezes anyway (asyncio, ssl, ...).
include("$(PORT_DIR)/variants/standard/manifest.py")

include("../common/manifest.py")

# The simulated board as top-level modules; `start` is the entry (micropython -m start).
module("board.py")
module("control.py")
module("ev.py")
module("mbsim.py")
module("probe.py")
module("start.py")
