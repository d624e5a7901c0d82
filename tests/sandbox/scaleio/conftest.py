"""Fixtures for the ScaleIO world's tests (shared by the system/gateway and the host-tools tests).

Keep it small; append new fixtures at the end.
"""
import itertools
import os

import pytest

from dcos_scaleio.sandbox.scaleio.listeners import PortListener
from dcos_scaleio.sandbox.scaleio.system import System

# Each test process gets its own 127.<a>.<b>.x block so parallel runs never collide on ports.
_ip_counter = itertools.count(1)


@pytest.fixture
def fresh_ip():
    """A factory of loopback IPs unique within this test session (127.<100+pid%100>.x.y)."""
    base = 100 + os.getpid() % 100

    def make() -> str:
        n = next(_ip_counter)
        return f"127.{base}.{n // 250}.{n % 250 + 1}"
    return make


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
