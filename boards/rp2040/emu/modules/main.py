# The emulated chip's start, frozen as main.py into the emulator's image only
# (the Pico W image freezes boards/main.py). The host hands this run its
# settings over the bridge, as the simulator's command line does; they are set
# as a user sets them at the REPL, and then the charger starts exactly as on a
# board, through setup.boot, with the host's test channel beside it.
import os
import json
import socket
# The console rides on the network bridge's UART0 (the emulator's USB is not
# fast enough to measure with), which leaves UART1 to the board's RS-485 bus.
os.dupterm(socket.bridge().console)
import fwslot
# The boot code first (boards/main.py): an update's modules go ahead of the
# frozen ones.
fwslot.select("data")
print("boot: " + fwslot.note)
import board
import setup

args = json.loads(socket.bridge().hello())
if args.get("exec"):
    # tools/chip/run.py: run a script on the chip instead of the charger.
    try:
        exec(args["exec"], {"__name__": "__main__"})
    except Exception as e:
        import sys
        sys.print_exception(e)
    print("\x04chip: done")
    while True:
        pass
setup.board(**args.get("board", {}))
pairs = list(args.get("settings", {}).items())
if pairs:
    setup.apply(pairs, "start")


def _on_start(app, b):
    import asyncio
    import control
    probe = None
    if args.get("probe"):
        from probe import Probe
        probe = Probe(collect_ms=1000, report_ms=args.get("stall_report", 0))
        asyncio.create_task(probe.run())
    if args.get("control"):
        asyncio.create_task(control.dial(args["control"], b, app, probe))
    asyncio.create_task(fwslot.guard(b))


setup.boot(board, _on_start)
if fwslot.stopped():
    import machine
    machine.reset()
