"""The hardware watchdog is fed only while the controllers step and each board
safety path (the pilot sampler's interrupt) keeps sampling: either one stuck,
and the board is reset (firmware/main.py, boards/README.md)."""
import asyncio
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "boards", "sim"), ROOT):
    if p not in sys.path:
        sys.path.insert(0, p)


def _app(tmp_path):
    import board
    from firmware.main import App
    b = board.Board({"data_dir": str(tmp_path / "data")})
    feeds = []
    b.wdt_feed = lambda: feeds.append(1)
    return App(b, {}), b, feeds


async def _watch(app, seconds, sample=None):
    for c in app.ctls:
        asyncio.create_task(c.run())
    w = asyncio.create_task(app._watchdog())
    t = 0
    while t < seconds:
        await asyncio.sleep(0.25)
        t += 0.25
        if sample:
            sample()
    w.cancel()


def test_fed_while_the_safety_path_samples_and_not_once_it_stops(tmp_path):
    app, b, feeds = _app(tmp_path)
    port = b.port(1)
    port.ticks = 0

    def sampling():
        port.ticks += 1     # the sampler's interrupt, still running
    asyncio.run(_watch(app, 2.6, sampling))
    assert len(feeds) >= 2
    del feeds[:]
    asyncio.run(_watch(app, 2.6))     # the interrupt no longer runs
    assert feeds == [], "a stopped safety path must let the watchdog reset the board"


def test_a_board_without_a_sampler_is_fed_while_the_controller_steps(tmp_path):
    app, b, feeds = _app(tmp_path)
    asyncio.run(_watch(app, 2.6))
    assert len(feeds) >= 2
