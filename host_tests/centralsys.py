"""The development central system as the tests run it: on a free port, and every
message a charge point sent checked against the official schemas when it stops."""
import contextlib


@contextlib.contextmanager
def central_system(**kw):
    from csms import CentralSystem
    import schemas
    srv = CentralSystem(port=0, **kw)
    srv.start()
    try:
        yield srv
        schemas.check_all(srv.messages())
    finally:
        srv.stop()
