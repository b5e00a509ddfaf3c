# Entry of the simulated charger process (MicroPython unix port or CPython):
#   start.py --data DIR [--csms URL] [--id ID] [--connectors N] [--control PORT]
#            [--probe 1]   (the benchmark's event-loop and heap probe)
#            [--set key=value ...]   (configuration keys, as the REPL's setup.set)
#            [--ev B|C]              (an EV plugged in on every connector at power-up)
#            [--board option=json ...]   (options of the simulated board, boards/README.md)
# tools/sim.py starts it and restarts it when it exits with code 3 (a reset).
import sys
import json
import asyncio
import log
import board
from firmware.main import App


def _args(argv):
    opts = {"data": "data", "csms": None, "id": None, "connectors": 1, "control": 0}
    i = 1
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--") or i + 1 >= len(argv):
            raise SystemExit("usage: start.py --data DIR [--csms URL] [--id ID] "
                             "[--connectors N] [--control PORT]; bad argument %r" % a)
        if a == "--set":
            k, _, v = argv[i + 1].partition("=")
            opts.setdefault("set", {})[k] = v
        elif a == "--board":
            k, _, v = argv[i + 1].partition("=")
            opts.setdefault("board", {})[k] = json.loads(v)
        else:
            opts[a[2:]] = argv[i + 1]
        i += 2
    opts["connectors"] = int(opts["connectors"])
    opts["control"] = int(opts["control"])
    return opts


async def _main(opts):
    # The simulated socket has a cable lock, as most wallboxes with a socket do.
    bo = {"data_dir": opts["data"], "connectors": opts["connectors"], "lock": True}
    bo.update(opts.get("board", {}))
    b = board.Board(bo)
    if opts.get("ev"):
        # An EV already plugged in at power-up, as one that stayed connected
        # through a power cut is.
        for c in range(1, opts["connectors"] + 1):
            b.plug(c)
            b.ev_state(c, opts["ev"])
    settings = {}
    if opts["csms"]:
        settings["csms_url"] = opts["csms"]
    if opts["id"]:
        settings["charge_point_id"] = opts["id"]
    for k, v in opts.get("set", {}).items():
        settings[k] = v
    app = App(b, settings)
    probe = None
    if opts.get("probe"):
        from probe import Probe
        probe = Probe()
        asyncio.create_task(probe.run())
    if opts["control"]:
        import control
        await control.start(opts["control"], b, app, probe)
    await app.run()


def main():
    opts = _args(sys.argv)
    try:
        import os
        os.mkdir(opts["data"])
    except OSError:
        pass
    try:
        asyncio.run(_main(opts))
    except KeyboardInterrupt:
        log.info("sim", "stopped")


main()
