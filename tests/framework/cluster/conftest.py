"""A real sandbox ScaleIO system + HTTPS gateway per test, and a secret watch on every log record.

Built with the sandbox's public API (System, GatewayServer, PortListener); the product under test
(dcos_scaleio.framework.cluster) only ever talks to the gateway over HTTPS through PyPowerFlex.
"""
from __future__ import annotations

import itertools
import logging
import os

import pytest

from dcos_scaleio.framework.cluster import Gateway, GatewayConfig
from dcos_scaleio.sandbox.scaleio.gateway import GatewayServer
from dcos_scaleio.sandbox.scaleio.listeners import PortListener
from dcos_scaleio.sandbox.scaleio.system import System

PASSWORD = "Cluster-Steps-Pw-7q!"
_ip_counter = itertools.count(1)


def fresh_ip() -> str:
    """Loopback IPs unique within this test process (127.<200+pid%50>.x.y)."""
    n = next(_ip_counter)
    return f"127.{200 + os.getpid() % 50}.{n // 250}.{n % 250 + 1}"


class World:
    """One ScaleIO system (3-node MDM cluster, admin password set) with its gateway."""

    def __init__(self, state_dir, tls_dir=None):
        self.listeners: list[PortListener] = []
        self.mdm_ips = [fresh_ip() for _ in range(3)]
        for ip in self.mdm_ips:
            self.listen(ip, 9011)
        for ip in self.mdm_ips[:2]:
            self.listen(ip, 6611)
        self.system = s = System.open(state_dir, actor="test")
        s.create_cluster(self.mdm_ips[0], master_name="mdm1")
        s.add_standby_mdm(self.mdm_ips[1], role="manager", name="mdm2")
        s.add_standby_mdm(self.mdm_ips[2], role="tb", name="tb1")
        s.switch_cluster_mode("3_node", add_slaves=["mdm2"], add_tbs=["tb1"])
        s.rename_system("sio-test")
        s.set_password("admin", "admin", PASSWORD)
        self.state_dir = state_dir
        self.server = GatewayServer(state_dir, listen_ip=fresh_ip(), mdm_ips=self.mdm_ips[:2],
                                    tls_dir=tls_dir).start()
        self.gateway_actor = f"gateway@{self.server.listen_ip}"

    def listen(self, ip: str, port: int) -> PortListener:
        lst = PortListener(ip, port).start()
        self.listeners.append(lst)
        return lst

    def sds_host(self, disks=({"path": "/dev/sdb", "size_gb": 100},)) -> str:
        """A host running the SDS service (7072) with the given published disks; returns its IP."""
        ip = fresh_ip()
        self.listen(ip, 7072)
        self.system.set_host_disks(ip, list(disks))
        return ip

    def config(self, **kw) -> GatewayConfig:
        kw.setdefault("password", PASSWORD)
        kw.setdefault("ca_path", str(self.server.ca_path))
        kw.setdefault("timeout_s", 10.0)
        return GatewayConfig(kw.pop("endpoint", f"https://{self.server.listen_ip}:{self.server.port}"), **kw)

    def gateway(self, **kw) -> Gateway:
        return Gateway(self.config(**kw))

    def applied(self, op: str) -> int:
        """How many times ``op`` took effect (through any actor)."""
        return self.system.count_events(op=op, outcome="applied")

    def attempts(self, op: str) -> int:
        """How many times ``op`` reached the MDM at all (applied, no-op or refused)."""
        return self.system.count_events(op=op)

    def close(self):
        self.server.stop()
        for lst in self.listeners:
            lst.stop()
        self.system.close()


@pytest.fixture(scope="session")
def shared_tls_dir(tmp_path_factory):
    """One sandbox CA for the whole folder (each gateway still gets its own certificate)."""
    return tmp_path_factory.mktemp("cluster-tls")


@pytest.fixture
def world(tmp_path, shared_tls_dir):
    d = tmp_path / "scaleio"
    d.mkdir(mode=0o700)
    w = World(d, shared_tls_dir)
    yield w
    w.close()


@pytest.fixture
def gw(world) -> Gateway:
    return world.gateway()


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@pytest.fixture(autouse=True)
def secret_watch():
    """Every log record of every logger (urllib3 and PyPowerFlex included, at DEBUG) is checked
    for the admin password when the test ends. Yields the collected texts."""
    root = logging.getLogger()
    handler = _Collect()
    # Named loggers may have been raised elsewhere in the run; this fixture needs them all at DEBUG.
    watched = [root] + [logging.getLogger(name) for name in ("PyPowerFlex", "urllib3", "dcos_scaleio")]
    old_levels = [lg.level for lg in watched]
    root.addHandler(handler)
    for lg in watched:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler.texts
    finally:
        root.removeHandler(handler)
        for lg, level in zip(watched, old_levels):
            lg.setLevel(level)
    leaked = [t for t in handler.texts if PASSWORD in t]
    assert not leaked, f"admin password in {len(leaked)} log record(s)"


def assert_no_secret(err: BaseException) -> None:
    """The password is in no text of the exception, its JSON, nor anything chained to it."""
    seen = set()
    e = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        for text in (str(e), repr(e), str(getattr(e, "to_json", lambda: "")())):
            assert PASSWORD not in text
        e = e.__cause__ or e.__context__


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def no_secret():
    """``no_secret(err)`` asserts the password appears nowhere in the exception (see assert_no_secret)."""
    return assert_no_secret
