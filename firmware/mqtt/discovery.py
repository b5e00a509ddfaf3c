"""Home Assistant MQTT discovery: one retained config message per entity under
homeassistant/<component>/<node>/<object>/config, all of one device, each
reading the telemetry topics (telemetry.py) and, for the controls, writing the
command topics (control.py). Removed (an empty retained message each) when
MQTT or discovery is switched off. Made one at a time, so the heap holds one
payload (about 500 bytes), never the set.

Per connector c (object ids c<c>_...): sensors power (W), energy and session
energy (Wh, device_class energy, state_class total_increasing), offered current
(A) and status; binary sensors plugged, charging and fault. For the charger: a
binary sensor for the central system's link, a number (the current limit), a
switch (pause) and a select (phases: 1 and 3 with a phase contactor, else the
wired count only).
"""
import json

# (component, object id, name, state topic, ((key, value), ...)); a value of a
# key ending in _topic is a topic under the prefix.
_CONNECTOR = (
    ("sensor", "power", "Power", "power_w",
     (("device_class", "power"), ("unit_of_measurement", "W"), ("state_class", "measurement"))),
    ("sensor", "energy", "Energy", "energy_wh",
     (("device_class", "energy"), ("unit_of_measurement", "Wh"),
      ("state_class", "total_increasing"))),
    ("sensor", "session_energy", "Session energy", "session_wh",
     (("device_class", "energy"), ("unit_of_measurement", "Wh"),
      ("state_class", "total_increasing"))),
    ("sensor", "current", "Offered current", "offered_a",
     (("device_class", "current"), ("unit_of_measurement", "A"),
      ("state_class", "measurement"))),
    ("sensor", "status", "Status", "status", (("icon", "mdi:ev-station"),)),
    ("binary_sensor", "plugged", "Plugged in", "cp",
     (("device_class", "plug"),
      ("value_template", "{{ 'ON' if value in ['B', 'C', 'D'] else 'OFF' }}"))),
    ("binary_sensor", "charging", "Charging", "contactor",
     (("device_class", "battery_charging"), ("payload_on", "true"), ("payload_off", "false"))),
    ("binary_sensor", "fault", "Fault", "fault",
     (("device_class", "problem"), ("value_template", "{{ 'OFF' if value == 'none' else 'ON' }}"))),
)
_CHARGER = (
    ("binary_sensor", "ocpp", "Central system", "online",
     (("device_class", "connectivity"), ("payload_on", "true"), ("payload_off", "false"),
      ("entity_category", "diagnostic"))),
    ("number", "current_limit", "Current limit", "current_a",
     (("command_topic", "set/current_a"), ("min", 0), ("step", 1), ("mode", "box"),
      ("device_class", "current"), ("unit_of_measurement", "A"))),
    ("switch", "pause", "Pause charging", "pause",
     (("command_topic", "set/pause"), ("payload_on", "true"), ("payload_off", "false"),
      ("state_on", "true"), ("state_off", "false"), ("icon", "mdi:pause"))),
    ("select", "phases", "Phases", "phases", (("command_topic", "set/phases"),)),
)


def node_id(ident):
    """The device's node id: letters, digits, _ and - only."""
    out = "evse_"
    for c in ident:
        out += c if ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "_-") else "_"
    return out


class Device:
    def __init__(self, node, prefix, name, vendor, model, version, connectors, wired,
                 can_switch, max_a):
        self.node = node
        self.prefix = prefix        # str
        self.info = {"identifiers": [node], "name": name, "manufacturer": vendor,
                     "model": model, "sw_version": version}
        self.n = connectors
        self.wired = wired
        self.can_switch = can_switch
        self.max_a = max_a

    def _entities(self):
        for c in range(1, self.n + 1):
            for e in _CONNECTOR:
                yield e, c
        for e in _CHARGER:
            yield e, 0

    def configs(self):
        """(topic, payload bytes) of every entity, one at a time."""
        for e, c in self._entities():
            comp, oid, name, state, pairs = e
            if c:
                oid = "c%d_%s" % (c, oid)
                state = "%d/%s" % (c, state)
                if self.n > 1:
                    name = "Connector %d %s" % (c, name[0].lower() + name[1:])
            d = {"name": name, "unique_id": "%s_%s" % (self.node, oid),
                 "state_topic": self.prefix + "/" + state,
                 "availability_topic": self.prefix + "/available",
                 "payload_available": "online", "payload_not_available": "offline",
                 "device": self.info}
            for k, v in pairs:
                d[k] = self.prefix + "/" + v if k.endswith("_topic") else v
            if comp == "number":
                d["max"] = self.max_a
                d["value_template"] = "{{ %d if value == 'none' else value }}" % self.max_a
            elif comp == "select":
                d["options"] = ["1", str(self.wired)] if self.can_switch and self.wired > 1 \
                    else [str(self.wired)]
            yield self.topic(comp, oid), json.dumps(d).encode()

    def topics(self):
        """The config topics alone, to remove them."""
        for e, c in self._entities():
            yield self.topic(e[0], ("c%d_%s" % (c, e[1])) if c else e[1])

    def topic(self, comp, oid):
        return ("homeassistant/%s/%s/%s/config" % (comp, self.node, oid)).encode()
