"""A simulated electric vehicle as the charger sees it through the control pilot.

The EV reads the offer from the PWM duty the way a real on-board charger
does (IEC 61851-1 table A.8), shows B/C/D on the pilot, and draws
min(offer, its maximum) x voltage x phases while power is available. It is
written from the EV's side on purpose and shares no code with the charger's
duty formula, so the two check each other.
"""


def amps_from_duty(duty_pm):
    """Current an EV may draw for a duty in per mille; 0 = no offer."""
    if duty_pm < 80 or duty_pm > 970:
        # Below 8 %: digital communication or nothing; above 97 %: not allowed.
        return 0
    if duty_pm < 100:
        return 6
    if duty_pm <= 850:
        return duty_pm * 6 / 100
    if duty_pm <= 960:
        return (duty_pm - 640) / 4
    return 80


class EV:
    def __init__(self, capacity_wh=40000, soc=0.5, max_a=32):
        self.plugged = False
        # What the EV asks for once it may charge: "B" (not ready), "C", "D"
        # (needs ventilation). It shows B whatever it wants while there is
        # no offer of at least 6 A or its battery is full.
        self.request = "B"
        self.max_a = max_a
        self.capacity_wh = capacity_wh
        self.battery_wh = capacity_wh * soc

    def full(self):
        return self.battery_wh >= self.capacity_wh

    def state(self, duty_pm):
        if not self.plugged:
            return "A"
        if self.request != "B" and not self.full() and amps_from_duty(duty_pm) >= 6:
            return self.request
        return "B"

    def draw_w(self, duty_pm, supply_on, voltage, phases):
        if not supply_on or self.state(duty_pm) == "B" or not self.plugged:
            return 0
        a = amps_from_duty(duty_pm)
        if a > self.max_a:
            a = self.max_a
        return a * voltage * phases

    def charge(self, wh):
        """Store energy; returns what the battery took (it stops when full)."""
        room = self.capacity_wh - self.battery_wh
        if wh > room:
            wh = room if room > 0 else 0
        self.battery_wh += wh
        return wh

    def soc_pct(self):
        return 100 * self.battery_wh / self.capacity_wh
