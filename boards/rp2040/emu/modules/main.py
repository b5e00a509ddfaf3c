# The emulated board's boot script, frozen as main.py: the same start as a Pico W.
import board
import setup

setup.boot(board)
