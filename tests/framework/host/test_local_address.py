"""Host steps reach their own listener, not another host's on the same port (hosts that share a
network namespace -- containers, the sandbox's agents -- all appear in /proc/net/tcp)."""
import socket

import pytest

from dcos_scaleio.framework.host.hostcmd import agent_address, local_address_for


@pytest.fixture
def listeners():
    opened = []

    def listen(ip, port=0):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        s.listen()
        opened.append(s)
        return s.getsockname()[1]
    yield listen
    for s in opened:
        s.close()


def test_the_agents_own_listener_wins_over_another_hosts(listeners):
    port = listeners("127.0.91.3")                 # another host's gateway, listed first or not
    listeners("127.0.91.1", port)                  # this host's
    env = {"MESOS_AGENT_ENDPOINT": "127.0.91.1:5051"}
    assert local_address_for(port, env) == "127.0.91.1"
    assert local_address_for(port, {"MESOS_AGENT_ENDPOINT": "127.0.91.3:5051"}) == "127.0.91.3"


def test_a_wildcard_listener_is_reached_at_the_agent_address_or_loopback(listeners):
    port = listeners("0.0.0.0")
    assert local_address_for(port, {"MESOS_AGENT_ENDPOINT": "127.0.91.7:5051"}) == "127.0.91.7"
    assert local_address_for(port, {}) == "127.0.0.1"


def test_outside_an_executor_the_bound_address_is_used(listeners):
    port = listeners("127.0.91.9")
    assert local_address_for(port, {}) == "127.0.91.9"
    assert agent_address({"MESOS_AGENT_ENDPOINT": "agent.example:5051"}) is None
    assert agent_address({}) is None
