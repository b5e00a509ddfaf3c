# The application: wires the board, the EVSE controllers, the configuration and
# the OCPP side together, and runs them as asyncio tasks. The board module is
# handed in, so this file never imports hardware code.
import asyncio
import log
from compat import sleep_ms, ticks_ms, ticks_diff
from firmware.store import Store
from firmware.config import Config, settle
from firmware.register import Register
from firmware.locallimit import LocalLimits
from firmware.evse.controller import Controller
from firmware.ocpp.chargepoint import ChargePoint
from firmware.ocpp.session import Session
import ws as wslib
from firmware import cacert

WDT_MS = 8000


class App:
    def __init__(self, board, settings=None, link_up=True):
        # link_up: whether the network is there at start (a board waits for its
        # Wi-Fi, and set_link follows it).
        settings = settings or {}
        # The receive buffer first, before the objects that live and die
        # around it: a long-lived 8 KiB block in the middle of the heap would
        # split the free space the rest of the charger's life allocates from.
        self.rx = bytearray(board.rx_buf)
        self.link_up = link_up
        self.started_ms = ticks_ms()
        self.board = board
        self.store = Store(board.data_dir)
        self.store.cleanup()
        self.cfg = Config(self.store, {"connectors": board.connectors})
        # Settings given at start (the simulator's command line) win over what is
        # stored, and are stored so that a reboot without them keeps them.
        why = settle(self.cfg, list(settings.items()), "start")[1]
        for k in why:
            log.error("main", "setting %s: %s", k, why[k][1])
        self.register = Register(self.store, board.connectors)
        self.ctls = []
        for c in range(1, board.connectors + 1):
            self.ctls.append(Controller(board.port(c), {
                "max_current_a": self.cfg.get("max_current_a"),
                "imp_per_kwh": self.cfg.get("imp_per_kwh"),
                "phases": self.cfg.get("phases"),
                "voltage": self.cfg.get("voltage"),
                "fixed_cable_a": self.cfg.get("fixed_cable_a") or None,
                "ventilation": self.cfg.get("ventilation"),
                "energy_base_wh": self.register.base(c),
                "meter_grace_s": self.cfg.get("meter_grace_s"),
                "connector": c}))
        # Limits the charger sets itself (MQTT, a grid meter), beside the
        # central system's.
        self.local = LocalLimits()
        # Modbus meters: loaded only when configured, so a charger with an S0
        # meter spends no heap on them. They replace the controllers' S0
        # meters before anything reads the energy.
        self.meters = None
        if self.cfg.get("meter_type") != "s0" or self.cfg.get("grid_meter_address"):
            from firmware.meterbus import MeterBus
            self.meters = MeterBus.build(board, self.cfg, self.ctls, self.register, self.local)
        self.cp = ChargePoint(board, self.cfg, self.store, self.ctls, self.register, self._tls,
                              self.local)
        self.session = None
        self.configured = False
        self.mqtt = None            # firmware/mqtt/service.py, once mqtt_url is set
        self._running = False
        self.cfg.watch(self._setting)

    def _session(self):
        url = self.cfg.get("csms_url")
        ident = self.cfg.get("charge_point_id")
        if not url or not ident:
            return None
        auth = None
        key = self.cfg.get("AuthorizationKey")
        profile = self.cfg.get("SecurityProfile")
        if profile in (1, 2) and key:
            auth = (ident, key)
        ctx = None
        if url.startswith("wss:") or profile == 2:
            ctx = self._tls()
        s = Session(self.cp.out, wslib.join_url(url, ident), ssl=ctx, auth=auth, buf=self.rx)
        s.set_link(self.link_up)
        return s

    def _tls(self):
        # Security profile 2: TLS with the central system's certificate checked
        # against its CAs: the file the user installed (setup.security(2, key,
        # ca)) and those the central system installed (firmware/certstore.py).
        # Also the context of https:// file transfers.
        from firmware.certstore import CS
        return cacert.context(self.cfg.get("ca_cert_file"), "main",
                              "setup.security(2, key, ca)", self.cp.certs.ders(CS))

    def status(self):
        import fwslot
        from firmware.version import VERSION
        s = self.cp.snapshot()
        s["configured"] = self.session is not None
        s["firmware"] = {"version": VERSION, "slot": fwslot.chosen, "trial": fwslot.trial,
                         "update": self.cp.update.status()}
        s["mqtt"] = self.mqtt.state if self.mqtt is not None else "off"
        if self.meters is not None:
            s["modbus"] = self.meters.stats()
        return s

    def _setting(self, name, value):
        if name.startswith("mqtt_") or name in ("charge_point_id", "max_current_a"):
            self._mqtt()

    def _mqtt(self):
        # MQTT is loaded only once it is configured: a charger without it
        # spends no heap on it.
        if not self._running:
            return
        if self.mqtt is None:
            if not self.cfg.get("mqtt_url"):
                return
            try:
                from firmware.mqtt.service import Mqtt
            except ImportError as e:
                # Charging goes on without it. Only a missing umqtt is the
                # user's to fix; anything else is a broken build.
                if "umqtt" in str(e):
                    log.error("main", "MQTT stays off: %s; flash an image built with "
                              "make firmware (it has umqtt.simple)", e)
                else:
                    log.error("main", "MQTT stays off: %s", e)
                return
            self.mqtt = Mqtt(self)
            self.mqtt.start()
        else:
            self.mqtt.reconfigure()

    def boot_ms(self):
        """Milliseconds from start to the first BootNotification accepted, or None."""
        s = self.session
        if s is None or s.accepted_ms is None:
            return None
        return ticks_diff(s.accepted_ms, self.started_ms)

    def present_tag(self, tag):
        self.cp.present_tag(tag)

    def set_link(self, up):
        self.link_up = up
        if self.session is not None:
            self.session.set_link(up)
        if self.mqtt is not None:
            self.mqtt.set_link(up)

    async def _watchdog(self):
        # The hardware watchdog is fed only while every controller task keeps
        # stepping and every board safety path (the pilot sampler's interrupt,
        # boards/README.md) keeps sampling: either one stuck resets the board.
        self.board.wdt_start(WDT_MS)
        ports = [c.port for c in self.ctls]
        seen = [getattr(p, "ticks", None) for p in ports]
        while True:
            await sleep_ms(1000)
            now = ticks_ms()
            ok = all(ticks_diff(now, c.last_step_ms) < WDT_MS // 4 for c in self.ctls)
            for i in range(len(ports)):
                t = getattr(ports[i], "ticks", None)
                if t is not None and t == seen[i]:
                    ok = False
                seen[i] = t
            if ok:
                self.board.wdt_feed()
            else:
                log.error("main", "a controller task or a safety path stalled; "
                          "letting the watchdog reset the board")

    async def run(self):
        for ctl in self.ctls:
            asyncio.create_task(ctl.run())
        asyncio.create_task(self._watchdog())
        asyncio.create_task(self.cp.run())
        asyncio.create_task(self.cp.metering.run())
        asyncio.create_task(self.cp.limiter.run())
        if self.meters is not None:
            asyncio.create_task(self.meters.run())
        self._running = True
        self._mqtt()
        self.session = self._session()
        if self.session is None:
            log.warn("main", "not configured: press Ctrl-C, then import setup; "
                     "setup.csms(url, id); Ctrl-D to start again")
            while True:
                await sleep_ms(60000)
        log.info("main", "charge point %s, central system %s", self.cfg.get("charge_point_id"),
                 self.cfg.get("csms_url"))
        await self.session.run()
