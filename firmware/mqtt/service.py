"""MQTT beside OCPP, for the charger at home: telemetry, Home Assistant
discovery and commands (a current limit from a solar controller, pause,
phases). firmware/main.py builds it once mqtt_url is set, at start or later, and
it follows the mqtt_* settings at run time. Its link is independent of the
central system's: either can be down without touching the other.

    m = Mqtt(app); m.start()    the link's and the publisher's tasks
    m.reconfigure()             a setting changed
    m.state                     the link: "off", "connecting", "connected", "down"

It owns link.py (the connection), control.py (the command topics, a local
limit), telemetry.py (what is published) and discovery.py (Home Assistant),
and uses of the application, read-only: app.cfg, app.board, app.ctls,
app.local (firmware/locallimit.py: it adds its limit there), app.link_up and
app.status(). One task publishes everything, one message at a time: the
configs and "online" after each connection, then what changed each second.
Switched off (mqtt_url cleared) while connected, it removes the configs, says
offline and disconnects; mqtt_discovery=false removes the configs alone, at
once or, set before a restart, at the first connection.
"""
import asyncio
import log
from compat import ticks_ms
from firmware.mqtt.link import Link, Settings
from firmware.mqtt.control import Control
from firmware.mqtt.telemetry import Telemetry, PERIOD_MS
from firmware.mqtt.discovery import Device, node_id
from firmware.version import VERSION

HA_STATUS = b"homeassistant/status"


def parse_url(url):
    """(tls, host, port) of mqtt://host[:port] or mqtts://host[:port]."""
    tls = url.startswith("mqtts://")
    rest = url[8 if tls else 7:].rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return tls, rest, 8883 if tls else 1883
    return tls, host, int(port)


def _topic_safe(s):
    out = ""
    for c in s:
        out += "_" if c in "+#/ " or not 32 < ord(c) < 127 else c
    return out


class Mqtt:
    def __init__(self, app):
        self.app = app
        cfg = app.cfg
        wired = cfg.get("phases")
        self.control = Control(cfg, app.local, wired,
                               any(getattr(c, "can_switch", False) for c in app.ctls))
        app.local.add(self.control)
        self.link = Link(self._message, self._up)
        self.link.allowed = app.link_up
        self.telemetry = Telemetry(app.status, self.control, VERSION, wired)
        self.prefix = b""
        self.device = None
        self._announce = False      # configs (if on) and "online" are due
        self._remove = None         # a Device whose configs are to go
        self._stop = False          # switched off: remove, offline, disconnect
        self._next = None           # settings to connect with after a removal
        self._shown = False         # the configs are on the broker
        self._cleaned = False       # discovery off: configs removed once since start
        self._key = None            # the settings the link has
        self.prefix_next = b""
        self._poke = asyncio.Event()

    @property
    def state(self):
        return self.link.state

    def start(self):
        asyncio.create_task(self.link.run())
        asyncio.create_task(self._publisher())
        self.reconfigure()

    def set_link(self, up):
        self.link.set_link(up)

    def reconfigure(self):
        cfg = self.app.cfg
        url = cfg.get("mqtt_url")
        up = self.link.up
        if not url:
            self._key = None
            if up:
                self._stop = True
                self._poke.set()
            else:
                self.link.configure(None)
            return
        self._stop = False
        board = self.app.board
        ident = cfg.get("charge_point_id") or board.unique_id()
        prefix = cfg.get("mqtt_prefix") or "evse/" + _topic_safe(ident)
        old = self.device
        self.device = Device(node_id(ident), prefix, "EVSE " + ident, board.vendor, board.model,
                             VERSION, board.connectors, cfg.get("phases"),
                             self.control.can_switch, cfg.get("max_current_a"))
        disc = cfg.get("mqtt_discovery")
        key = (url, cfg.get("mqtt_user"), cfg.get("mqtt_password"), cfg.get("mqtt_ca_file"),
               prefix, ident)
        if up and old is not None and self._shown and self._key is not None and (
                not disc or key[4:] != self._key[4:]):
            self._remove = old      # the configs on the broker go first
            self._shown = False
        if key == self._key:
            if up and disc and not self._shown:
                self._announce = True
            self._poke.set()
            return
        self._key = key
        tls, host, port = parse_url(url)
        ctx = None
        if tls:
            from firmware import cacert
            ctx = cacert.context(cfg.get("mqtt_ca_file"), "mqtt",
                                 "setup.set('mqtt_ca_file', 'ca.pem')")
        self.prefix_next = p = prefix.encode()
        st = Settings(host, port, tls, ctx, ("evse-" + board.unique_id())[:23].encode(),
                      key[1].encode(), key[2].encode(), p + b"/available",
                      (p + b"/set/+", HA_STATUS), url)
        if self._remove is not None:
            self._next = st         # once the old configs are gone
            self._poke.set()
        else:
            self._connect(st)

    def _connect(self, st):
        self.prefix = self.prefix_next
        self.link.configure(st)

    def topic(self, suffix):
        return self.prefix + b"/" + suffix.encode()

    # ---- from the link
    def _up(self):
        self.telemetry.reset()
        self._announce = True
        self._poke.set()

    def _message(self, topic, payload, retained):
        if topic == HA_STATUS:
            # Home Assistant started again: it asks for the configs anew (a
            # retained "online" is an old one).
            if payload == b"online" and not retained and self.app.cfg.get("mqtt_discovery"):
                self._announce = True
                self._poke.set()
            return
        head = self.prefix + b"/set/"
        if topic.startswith(head):
            name = topic[len(head):].decode("utf-8", "replace")
            if self.control.command(name, payload, retained):
                self._poke.set()

    # ---- the one task that publishes
    async def _publisher(self):
        while True:
            try:
                await asyncio.wait_for(self._poke.wait(), PERIOD_MS / 1000)
            except asyncio.TimeoutError:
                pass
            self._poke.clear()
            if not self.link.up:
                continue
            try:
                await self._round()
            except Exception as e:
                log.error("mqtt", "publishing failed: %r", e)

    async def _round(self):
        link = self.link
        if self._stop:
            if self._shown:
                await self._configs(self.device, False)
            await link.publish(self.topic("available"), b"offline")
            await link.close()
            log.info("mqtt", "switched off: disconnected%s",
                     ", Home Assistant configs removed" if self._shown else "")
            self._stop = self._shown = False
            return
        if self._remove is not None:
            old = self._remove
            self._remove = None
            await self._configs(old, False)
            if self._next is not None:
                st = self._next
                self._next = None
                self._connect(st)
                return
        if self._announce:
            self._announce = False
            if not await link.publish(self.topic("available"), b"online"):
                return
            if self.app.cfg.get("mqtt_discovery"):
                self._shown = await self._configs(self.device, True)
            elif not self._cleaned:
                # Discovery off at start: configs an earlier run left go, so
                # "off, then restart" clears Home Assistant of this charger.
                self._cleaned = await self._configs(self.device, False)
        for suffix, payload in self.telemetry.items(ticks_ms()):
            if not await link.publish(self.topic(suffix), payload):
                return
            self.telemetry.sent_ok(suffix, payload)

    async def _configs(self, dev, add):
        """Publish (add) or remove every config of dev; True when all went."""
        if dev is None:
            return False
        for t in (dev.configs() if add else dev.topics()):
            topic, payload = t if add else (t, b"")
            if not await self.link.publish(topic, payload):
                return False
        return True
