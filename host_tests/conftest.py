import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, os.path.join(ROOT, "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

from charger import Charger  # noqa: E402
from centralsys import central_system  # noqa: E402


@pytest.fixture
def csms():
    """A development central system on a free port, stopped after the test; every
    message a charge point sent to it is checked against the official schemas."""
    with central_system() as srv:
        yield srv


@pytest.fixture
def broker():
    """A mosquitto on a free port of 127.0.0.1 (tools/broker.py), stopped after the test."""
    from broker import Broker
    b = Broker()
    b.start()
    yield b
    b.close()


@pytest.fixture(params=["micropython", "cpython"])
def runtime(request):
    return request.param


@pytest.fixture
def make_charger(tmp_path, runtime):
    made = []

    def make(csms_url, ident="cp-test", connectors=1, data=None, heap=None, sets=(), board=()):
        c = Charger(runtime, csms_url, data or (tmp_path / ident), ident, connectors, heap, sets,
                    board)
        made.append(c)
        return c
    yield make
    for c in made:
        c.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """The openssl-made certificates, keys and signatures of crypto_pki.py,
    made once per test run (about 160 openssl calls)."""
    import crypto_pki
    crypto_pki.need_openssl()
    return crypto_pki.make(tmp_path_factory.mktemp("pki"))
