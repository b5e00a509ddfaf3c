# Entry of the simulated charger process (MicroPython unix port or CPython):
#   start.py --data DIR [--csms URL] [--id ID] [--connectors N] [--control PORT]
#            [--probe 1]   (the benchmark's event-loop and heap probe)
#            [--set key=value ...]   (configuration keys, as the REPL's setup.set)
#            [--ev B|C]              (an EV plugged in on every connector at power-up)
#            [--clock unset]         (the RTC at the embedded ports' epoch, as after a power loss)
#            [--board option=json ...]   (options of the simulated board, boards/README.md)
# tools/sim.py starts it and restarts it when it exits with code 3 (a reset).
# The boot code (lib/fwslot.py) chooses the firmware slot before anything of
# the firmware or the board is imported.
import sys
import json
import fwslot


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


# MicroPython's epoch on the embedded ports, 2000-01-01T00:00:00Z, where a board's
# RTC without a battery starts after a power loss (the ESP32 port's; the rp2
# port sets 2021-01-01 at every start).
_RTC_EPOCH = 946684800


async def _main(opts):
    import asyncio
    import log
    import logfile
    import board
    from firmware.main import App
    # The log on the simulated flash, as a board keeps it (diagnostics upload it).
    lf = logfile.LogFile(opts["data"])
    log.add_sink(lf.sink)
    asyncio.create_task(lf.run())
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
    asyncio.create_task(fwslot.guard(b))
    await app.run()


def main():
    opts = _args(sys.argv)
    if opts.get("clock") == "unset":
        import compat
        compat.set_rtc(_RTC_EPOCH)
    try:
        import os
        os.mkdir(opts["data"])
    except OSError:
        pass
    fwslot.select(opts["data"])
    print("boot: " + fwslot.note)
    import asyncio
    try:
        asyncio.run(_main(opts))
    except KeyboardInterrupt:
        print("sim: stopped")
    except Exception as e:
        print("sim: firmware stopped: %s: %s" % (e.__class__.__name__, e))
        # A version on trial that fails at start goes back at once; the
        # launcher restarts the process (exit 3, a reset).
        if fwslot.stopped():
            sys.exit(3)
        raise


main()
