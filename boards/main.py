# The boot script. A board's image freezes it as main.py (boards/<board>/manifest.py),
# which MicroPython runs at boot ahead of any /main.py. A .mpy deploy
# (tools/deploy.py) installs it as /main.py instead: from the filesystem
# MicroPython runs only a source main.py and compiles it on the device, so it
# stays this small. setup.boot builds the board from the driver (the frozen or
# installed `board`), starts the firmware and, on Ctrl-C or an error, leaves the
# hardware safe and the REPL free (never a reset, so never a boot loop).
import board
import setup

setup.boot(board)
