# /main.py on the board, installed by tools/deploy.py (from boards/main.py).
# MicroPython runs only a source main.py at boot and compiles it on the
# device, so it stays this small: everything else is precompiled. setup.boot
# builds the board from the driver installed as lib/board.mpy, starts the
# firmware and, on Ctrl-C or an error, leaves the hardware safe and the REPL
# free (never a reset, so never a boot loop).
import board
import setup

setup.boot(board)
