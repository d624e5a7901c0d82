"""Fixtures for the ScaleIO world's tests (shared by the system/gateway and the host-tools tests).

Keep it small; append new fixtures at the end.
"""
import itertools
import os

import pytest

from dcos_scaleio.sandbox.scaleio.listeners import PortListener
from dcos_scaleio.sandbox.scaleio.system import System

# Each test process gets its own second octet so parallel runs never collide on ports. The system/
# gateway fixtures use 127.100-149.*; the host-side fixtures (plain_world) use 127.150-199.*.
_ip_counter = itertools.count(1)
_BASE = 100 + os.getpid() % 50


@pytest.fixture
def fresh_ip():
    """A factory of loopback IPs unique within this test session (127.<100+pid%50>.x.y, x < 200)."""
    base = _BASE

    def make() -> str:
        n = next(_ip_counter)
        return f"127.{base}.{n // 250}.{n % 250 + 1}"
    return make


_prefix_counter = itertools.count(200)


@pytest.fixture
def fresh_ip_prefix():
    """A whole /24 (``"127.a.b"``) of loopback addresses that neither ``fresh_ip`` nor another
    ``fresh_ip_prefix`` of this session hands out (third octets 200..249)."""
    n = next(_prefix_counter)
    assert n < 250, "too many address blocks in one session"
    return f"127.{_BASE}.{n}"


@pytest.fixture
def listen():
    """``listen(ip, port)`` opens a stand-in service port (a running daemon) until the test ends."""
    opened = []

    def make(ip: str, port: int) -> PortListener:
        lst = PortListener(ip, port).start()
        opened.append(lst)
        return lst
    yield make
    for lst in opened:
        lst.stop()


@pytest.fixture
def sio_state_dir(tmp_path):
    d = tmp_path / "scaleio-state"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def sio_system(sio_state_dir):
    """A fresh, empty system (no cluster yet) in a temporary state dir, reachability checks on."""
    s = System.open(sio_state_dir, actor="test")
    yield s
    s.close()


@pytest.fixture
def sio_cluster3(sio_system, fresh_ip, listen):
    """A 3-node cluster (mdm1 master, mdm2 slave, tb1) whose MDM daemons are 'running' (9011, and 6611
    on the managers). Password still the default ``admin``. Returns ``(system, [master, slave, tb])``."""
    ips = [fresh_ip() for _ in range(3)]
    for ip in ips:
        listen(ip, 9011)
    for ip in ips[:2]:
        listen(ip, 6611)
    s = sio_system
    s.create_cluster(ips[0], master_name="mdm1")
    s.add_standby_mdm(ips[1], role="manager", name="mdm2")
    s.add_standby_mdm(ips[2], role="tb", name="tb1")
    s.switch_cluster_mode("3_node", add_slaves=["mdm2"], add_tbs=["tb1"])
    return s, ips


SIO_TEST_PASSWORD = "Scaleio123"


@pytest.fixture
def sio_gateway(sio_cluster3, sio_state_dir, fresh_ip):
    """A gateway (in-process, HTTPS) over ``sio_cluster3`` with the admin password set to
    ``SIO_TEST_PASSWORD``, configured with both manager MDMs. Yields the GatewayServer
    (``.url``, ``.listen_ip``, ``.port``, ``.ca_path``)."""
    from dcos_scaleio.sandbox.scaleio.gateway import GatewayServer
    s, ips = sio_cluster3
    s.set_password("admin", "admin", SIO_TEST_PASSWORD)
    gw = GatewayServer(sio_state_dir, listen_ip=fresh_ip(), mdm_ips=ips[:2]).start()
    yield gw
    gw.stop()


# ---- host side (tools, daemons, packages): appended by the host-side helper --------------------
@pytest.fixture(scope="module")
def plain_world(tmp_path_factory):
    """A module-wide ScaleIO system plus a factory of plain hosts (tools as subprocesses over a
    relocated root; see sandbox/scaleio/hostside_plain.py). Every daemon is stopped at the end.

    ``world.host(name)`` -> PlainHost with a fresh 127.x IP; ``world.system``; ``world.state_dir``.
    """
    from dcos_scaleio.sandbox.scaleio.hostside_plain import PlainHost

    base = tmp_path_factory.mktemp("plainworld")
    state = base / "state"
    state.mkdir(mode=0o700)
    block = 200 + os.getpid() % 50   # apart from fresh_ip's 100..199 and the pre-built 127.0.x
    counter = itertools.count(1)

    class World:
        state_dir = state
        system = System.open(state, actor="test")
        hosts = []

        def host(self, name, **kw):
            n = next(counter)
            h = PlainHost(base / name, name, f"127.{block}.{n // 250}.{n % 250 + 1}", state, **kw)
            self.hosts.append(h)
            return h

    world = World()
    yield world
    for h in world.hosts:
        h.stop()
    world.system.close()


@pytest.fixture
def sio_existing_cluster(tmp_path, fresh_ip_prefix):
    """A pre-built, running 3-node system with its gateway (``ExistingCluster``); ``.info()`` has the
    gateway URL, CA path, admin password, MDM/SDS addresses."""
    from dcos_scaleio.sandbox.scaleio.prebuilt import ExistingCluster
    ec = ExistingCluster(tmp_path / "existing-cluster", ip_prefix=fresh_ip_prefix).start()
    yield ec
    ec.stop()


@pytest.fixture
def quiet_pypowerflex():
    """Refusals are expected in these tests: keep PyPowerFlex's error logging out of the output, for
    this test only (a module-level setLevel would silence it for every later test in the run)."""
    import logging
    logger = logging.getLogger("PyPowerFlex")
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(old)
