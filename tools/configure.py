"""Configure a board from the host: the REPL API of firmware/setup.py through
`mpremote exec`.

    python tools/configure.py PORT key=value [key=value ...]   set (all or nothing)
    python tools/configure.py PORT                             show the settings
    python tools/configure.py PORT --status | --logs [BYTES] | --factory-reset
    python tools/configure.py PORT ... --restart               reset the board afterwards

Keys are those of setup.show(True): device settings (wifi_ssid, wifi_password,
csms_url, charge_point_id, ca_cert_file, max_current_a, imp_per_kwh,
connectors) and OCPP keys (HeartbeatInterval, SecurityProfile,
AuthorizationKey, ...), checked by the same registry as ChangeConfiguration.
Values are text, as in ChangeConfiguration ("true", "60", "a,b"). Example:

    python tools/configure.py /dev/ttyUSB0 wifi_ssid=home wifi_password=... \\
        csms_url=ws://192.168.1.10:8180/steve/websocket/CentralSystemService \\
        charge_point_id=garage-1 --restart

Prints the board's answer, one line per key ("ok: ..." or "refused: <what is
allowed>"); the exit status is 1 when anything was refused (and then nothing
was changed). Secrets are never printed: the board masks them.

Stopping the firmware: mpremote interrupts it (Ctrl-C) to reach the REPL, so
the board stays stopped until --restart (or its reset button). On the virtual
board (the unix port) --restart is a no-op: restart its process.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy import Board, DeployError  # noqa: E402


def parse_pairs(items):
    pairs = []
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k.strip():
            raise DeployError("%r is not key=value (e.g. max_current_a=16)" % it)
        pairs.append((k.strip(), v))
    return pairs


def script(pairs, show=False, status=False, logs=None, factory=False):
    lines = ["import setup"]
    if factory:
        lines.append("setup.reset()")
    if pairs:
        lines.append("setup.apply(%r)" % (pairs,))
    if status:
        lines.append("setup.status()")
    if logs is not None:
        lines.append("setup.logs(%d)" % logs)
    if show:
        lines.append("setup.show()")
    return "\n".join(lines)


def configure(port, pairs, show=False, status=False, logs=None, factory=False, restart=False,
              out=print):
    b = Board(port)
    b.probe()
    text = b.exec(script(pairs, show, status, logs, factory))
    refused = False
    for line in text.splitlines():
        line = line.rstrip()
        if line:
            out(line)
        if line.startswith("refused:") or line.startswith("Traceback"):
            refused = True
    if restart:
        if b.virtual:
            out("restart: virtual board (unix port) has no reset; restart its process")
        else:
            try:
                b.run(["reset"])
                out("restart: done")
            except DeployError as e:
                out("restart: %s; press the board's reset button" % e)
    return 1 if refused else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Show or change a board's settings over USB serial.")
    ap.add_argument("port", help="serial port, e.g. /dev/ttyUSB0, COM3")
    ap.add_argument("pairs", nargs="*", metavar="key=value")
    ap.add_argument("--status", action="store_true", help="configured or not, Wi-Fi, memory")
    ap.add_argument("--logs", nargs="?", type=int, const=1500, metavar="BYTES",
                    help="print the end of the log on flash")
    ap.add_argument("--factory-reset", action="store_true", help="forget every setting first")
    ap.add_argument("--restart", action="store_true", help="reset the board at the end")
    a = ap.parse_args(argv)
    try:
        pairs = parse_pairs(a.pairs)
        show = not pairs and not a.status and a.logs is None
        return configure(a.port, pairs, show, a.status, a.logs, a.factory_reset, a.restart)
    except DeployError as e:
        print("configure: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
