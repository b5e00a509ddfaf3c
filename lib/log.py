# Levelled logging to the console, one line per event: "12.345 I ws: connected".
# The timestamp is seconds since start, so lines stay short and need no clock.
# A sink can be added (for example a rotating file on flash); sinks get the
# finished line and must not block.
from compat import ticks_ms

DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40
_NAMES = {DEBUG: "D", INFO: "I", WARN: "W", ERROR: "E"}

level = INFO
_sinks = []
_t0 = ticks_ms()


def add_sink(fn):
    _sinks.append(fn)


def remove_sink(fn):
    if fn in _sinks:
        _sinks.remove(fn)


def _emit(lvl, tag, msg, args):
    if lvl < level:
        return
    if args:
        try:
            msg = msg % args
        except Exception:
            msg = "%s %r" % (msg, args)
    t = ticks_ms() - _t0
    line = "%d.%03d %s %s: %s" % (t // 1000, t % 1000, _NAMES[lvl], tag, msg)
    print(line)
    for s in _sinks:
        try:
            s(lvl, line)
        except Exception:
            pass


def debug(tag, msg, *args):
    _emit(DEBUG, tag, msg, args)


def info(tag, msg, *args):
    _emit(INFO, tag, msg, args)


def warn(tag, msg, *args):
    _emit(WARN, tag, msg, args)


def error(tag, msg, *args):
    _emit(ERROR, tag, msg, args)
