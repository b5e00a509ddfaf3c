"""Local limits: what the charger itself caps the offer to, beside the central
system's charging profiles (firmware/ocpp/smart.py). Today a current limit, a
pause and a phase count from MQTT (firmware/mqtt/control.py); a house-fuse
limit from a grid meter joins the same way. The offer is the smallest limit
in force (firmware/ocpp/limiter.py), and GetCompositeSchedule shows them
(firmware/ocpp/smart_calc.py).

A source is any object with:
    name              short text for the log ("mqtt", "grid")
    amps(c, t_ms)     (amps per phase or None, ms from t_ms until that may
                      change or None) for connector c (0: the charge point as a
                      whole) at ticks t_ms, now or later, if nothing new comes
                      in; below 6 A means no offer (a pause, not a stop)
    phases(c)         the most phases it lets connector c charge on, or None
and calls limits.changed() whenever its answer moved. Sources never block and
never write flash: a limit republished every second costs a comparison.

    limits = LocalLimits()
    limits.add(source)
    limits.amps(c, t_ms) -> (amps or None, name of the source or None, ms or None)
    limits.phases(c)     -> phases or None
    limits.on_change     fn() told after changed(): the limiter's wake-up
"""


class LocalLimits:
    def __init__(self):
        self.sources = []
        self.on_change = None

    def add(self, source):
        if source not in self.sources:
            self.sources.append(source)
        self.changed()

    def remove(self, source):
        if source in self.sources:
            self.sources.remove(source)
            self.changed()

    def changed(self):
        fn = self.on_change
        if fn is not None:
            fn()

    def amps(self, c, t_ms):
        best = None
        name = None
        nxt = None
        for s in self.sources:
            a, dt = s.amps(c, t_ms)
            if dt is not None and (nxt is None or dt < nxt):
                nxt = dt
            if a is not None and (best is None or a < best):
                best = a
                name = s.name
        return best, name, nxt

    def phases(self, c):
        best = None
        for s in self.sources:
            p = s.phases(c)
            if p is not None and (best is None or p < best):
                best = p
        return best
