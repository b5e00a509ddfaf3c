# The csChargingProfiles type (spec 7.8), shared by RemoteStartTransaction and
# SetChargingProfile, in the compact notation of check.py.
from firmware.ocpp.check import I, D, T, E, O, A, REQ

PERIOD = (O, {"startPeriod": (I | REQ,), "limit": (D | REQ, 1), "numberPhases": (I,)})

SCHEDULE = (O, {
    "duration": (I,),
    "startSchedule": (T,),
    "chargingRateUnit": (E | REQ, ("A", "W")),
    "chargingSchedulePeriod": (A | REQ, PERIOD, 1),
    "minChargingRate": (D, 1),
})

PROFILE = (O, {
    "chargingProfileId": (I | REQ,),
    "transactionId": (I,),
    "stackLevel": (I | REQ,),
    "chargingProfilePurpose": (E | REQ, ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")),
    "chargingProfileKind": (E | REQ, ("Absolute", "Recurring", "Relative")),
    "recurrencyKind": (E, ("Daily", "Weekly")),
    "validFrom": (T,),
    "validTo": (T,),
    "chargingSchedule": (SCHEDULE[0] | REQ, SCHEDULE[1]),
})
