# GetLocalListVersion (spec 5.10): the version of the local authorization list,
# 0 when it is empty. -1 is for a charge point that does not support the list
# (the spec's words), i.e. without LocalAuthListManagement among its
# SupportedFeatureProfiles; a supported list that LocalAuthListEnabled turns
# off still has a version, which the central system needs to keep it in sync.
SCHEMA = {}


def handle(cp, p):
    ll = cp.locallist
    return {"listVersion": ll.version if ll.supported() else -1}
