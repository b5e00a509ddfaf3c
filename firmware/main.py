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
PROFILE_TRIAL = "secprof"   # store file: a raised SecurityProfile not yet proven
FALLBACK_AFTER = 3          # failed connects with a raised profile before falling back
RELINK_MS = 500             # the ChangeConfiguration answer goes out before the link drops


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
        self.profile = 0            # the SecurityProfile the link is made with
        self.trial = None
        self.failed = 0
        self.configured = False
        self.mqtt = None            # firmware/mqtt/service.py, once mqtt_url is set
        self._running = False
        self.cfg.watch(self._setting)

    def _session(self):
        if not self.cfg.get("csms_url") or not self.cfg.get("charge_point_id"):
            return None
        self.profile = self.cfg.get("SecurityProfile")
        trial = self.store.load(PROFILE_TRIAL, None)
        self.trial = trial if isinstance(trial, dict) else None
        self.failed = 0
        s = Session(self.cp.out, wslib.join_url(self.cfg.get("csms_url"),
                                                self.cfg.get("charge_point_id")),
                    buf=self.rx, dial=self._dial)
        s.on_fail = self._link_failed
        s.on_up = self._link_up
        s.set_link(self.link_up)
        self.cp.cpcert.on_installed = self._cert_installed
        return s

    def _dial(self):
        # (url, TLS context, Basic credentials) of the next connect, from the
        # settings as they are now: profile 1 and 2 send the AuthorizationKey,
        # 2 and 3 check the central system, 3 shows the charger's certificate
        # instead of a password (A00.FR.401).
        url = self.cfg.get("csms_url")
        ident = self.cfg.get("charge_point_id")
        profile = self.cfg.get("SecurityProfile")
        auth = None
        key = self.cfg.get("AuthorizationKey")
        if profile in (1, 2) and key:
            auth = (ident, key)
        ctx = None
        if url.startswith("wss:") or profile >= 2:
            ctx = self._tls()
            if profile == 3:
                why = self.cp.cpcert.usable()
                if why:
                    raise ValueError("security profile 3: " + why)
                self.cp.cpcert.load_into(ctx)
        return wslib.join_url(url, ident), ctx, auth

    def _tls(self):
        # Security profile 2: TLS with the central system's certificate checked
        # against its CAs: the file the user installed (setup.security(2, key,
        # ca)) and those the central system installed (firmware/certstore.py).
        # Also the context of https:// file transfers.
        from firmware.certstore import CS
        return cacert.context(self.cfg.get("ca_cert_file"), "main",
                              "setup.security(2, key, ca)", self.cp.certs.ders(CS))

    # ---- a raised security profile (whitepaper A05)
    def _profile_changed(self, value):
        if self.session is None or value == self.profile:
            return
        if value > self.profile:
            # On trial until a BootNotification is accepted with it: kept on
            # flash, so a power cut in between still falls back if it fails.
            self.trial = {"from": self.profile, "to": value}
            try:
                self.store.save(PROFILE_TRIAL, self.trial)
            except OSError as e:
                log.error("main", "cannot keep the security profile trial: %s", e)
        self.profile = value
        self.failed = 0
        # A05.FR.06/07: reconnect with it, once the answer is on the wire.
        asyncio.create_task(self._relink())

    async def _relink(self):
        await sleep_ms(RELINK_MS)
        self.session.reconnect()

    def _cert_installed(self):
        if self.cfg.get("SecurityProfile") == 3 and self.session is not None:
            asyncio.create_task(self._relink())

    def _link_failed(self, e):
        self.failed += 1
        t = self.trial
        if t is None or self.failed < FALLBACK_AFTER:
            return
        # A05.FR.08: the raised profile does not connect: back to the one before.
        back = t["from"]
        log.error("main", "security profile %d failed %d times (%s): back to %d",
                  t["to"], self.failed, e, back)
        self.trial = None
        self.store.remove(PROFILE_TRIAL)
        self.cfg.set("SecurityProfile", back, "fallback")
        self.cp.security.event("ReconfigurationOfSecurityParameters",
                               "SecurityProfile %d did not connect: back to %d" % (t["to"], back))

    def _link_up(self):
        self.failed = 0
        if self.trial is not None:
            # A05.FR.09: the new profile works; there is no way back now.
            log.info("main", "security profile %d works", self.trial["to"])
            self.trial = None
            self.store.remove(PROFILE_TRIAL)

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
        if name == "SecurityProfile":
            self._profile_changed(value)
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
        log.info("main", "charge point %s, central system %s, security profile %d",
                 self.cfg.get("charge_point_id"), self.cfg.get("csms_url"), self.profile)
        await self.session.run()
