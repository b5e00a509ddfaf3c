# The firmware's version: BootNotification's firmwareVersion, a release
# bundle's version (tools/release.py writes this module into the bundle with
# the version it is made for), and what an update compares against.
VERSION = "0.2.0"


def parse(v):
    """(major, minor, patch) of "1.2.3" (a "-suffix" is ignored), or None."""
    if not isinstance(v, str):
        return None
    parts = v.split("-", 1)[0].split(".")
    if len(parts) != 3:
        return None
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        return None
