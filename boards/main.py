# The boot script. A board's image freezes it as main.py (boards/<board>/manifest.py),
# which MicroPython runs at boot ahead of any /main.py. A .mpy deploy
# (tools/deploy.py) installs it as /main.py instead: from the filesystem
# MicroPython runs only a source main.py and compiles it on the device, so it
# stays this small. fwslot (the boot code, never updated) chooses the firmware
# slot first: an update's modules go ahead of the frozen or deployed ones.
# setup.boot builds the board from the driver, starts the firmware and, on
# Ctrl-C or an error, leaves the hardware safe and the REPL free; a version
# on trial that stops goes back to the previous one and resets instead.
import fwslot

fwslot.select("data")
print("boot: " + fwslot.note)
import board
import setup


def _guard(app, b):
    import asyncio
    asyncio.create_task(fwslot.guard(b))


setup.boot(board, _guard)
if fwslot.stopped():
    import machine
    machine.reset()
