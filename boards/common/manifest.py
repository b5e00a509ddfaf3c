# The firmware as every image freezes it, included by the boards' manifests
# (boards/<board>/manifest.py). Relative paths are from this folder.

# lib/*.py as top-level modules (compat, log, ws, logfile, ...).
freeze("../../lib")

# The application package, and its REPL API again as the top-level `setup`.
package("firmware", base_path="../..")
module("setup.py", base_path="../../firmware")

# micropython-lib's MQTT client (firmware/mqtt/link.py), from the pinned sources.
require("umqtt.simple")
