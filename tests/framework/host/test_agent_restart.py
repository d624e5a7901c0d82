"""``dvdi`` against agents of the Mesos emulator. With ``self_restart`` the step changes the flags,
restarts the agent through its systemd unit (which asks the emulator to restart the agent process),
and completes only once the running agent's ``/flags`` endpoint reports the new isolation. A DC/OS
agent that already runs ``docker/volume`` is not touched (no restart for an optional flag)."""
import pytest
import requests

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.mesos.cluster import MesosCluster
from dcos_scaleio.sandbox.mesos.spec import AgentSpec
from dcos_scaleio.sandbox.scaleio import packages

from .conftest import Agent

DROP_IN = "/etc/systemd/system/mesos-slave.service.d/dcos-scaleio-rexray.conf"

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Mesos emulator with a plain-Mesos agent (posix isolators) and a modern DC/OS agent."""
    c = MesosCluster(tmp_path_factory.mktemp("mesos"), heartbeat_interval=1, allocation_interval=0.5,
                     agents=[AgentSpec("restartme", isolation="posix/cpu,posix/mem"),
                             AgentSpec("moderndcos", flavour="dcos")])
    c.start()
    try:
        for name, family, flavour in (("restartme", "rhel", "mesos"), ("moderndcos", "ubuntu", "dcos")):
            root = c.agent(name).root
            hosts.provision(root, os_family=family, flavour=flavour)
            if flavour == "dcos":
                packages.install_dcos_bundled_storage(root)
            hosts.boot(root)
        yield c
    finally:
        c.stop()


@pytest.fixture
def mesos_agent(cluster):
    emulated = cluster.agent("restartme")
    return Agent(emulated.root, "restartme", emulated.ip, "rhel", "mesos"), emulated


def running_flags(emulated):
    return requests.get(f"http://{emulated.ip}:{emulated.port}/flags", timeout=10).json()["flags"]


def test_dvdi_restarts_the_agent_itself_when_allowed_and_confirms_its_flags(world, mesos_agent):
    agent, emulated = mesos_agent
    assert "docker/volume" not in running_flags(emulated)["isolation"]
    params = {"os_family": "rhel", "flavour": "mesos", "packages": world.packages("rhel", "dvdcli")}
    asked = agent.step("dvdi", params)
    assert asked["status"] == "COMPLETE" and asked["restart"] == "agent", asked["reason"]
    assert "docker/volume" not in running_flags(emulated)["isolation"]     # nothing restarted by itself
    assert f"ordered mesos-slave after rexray ({DROP_IN})" in asked["changes"]
    assert agent.sh("rm", DROP_IN).returncode == 0
    res = agent.step("dvdi", {**params, "self_restart": True})
    assert res["status"] == "COMPLETE", res["reason"]
    assert res["restart"] is None
    assert "restarted mesos-slave (isolator flags changed)" in res["changes"]
    # The agent-after-REX-Ray drop-in (gone again here) is written before that restart, which honours it.
    assert res["changes"].index(f"ordered mesos-slave after rexray ({DROP_IN})") < \
        res["changes"].index("restarted mesos-slave (isolator flags changed)")
    assert "After=rexray.service" in agent.read(DROP_IN)
    flags = running_flags(emulated)
    assert flags["isolation"] == "posix/cpu,posix/mem,filesystem/linux,docker/volume"
    assert flags["docker_volume_checkpoint_dir"] == "/var/lib/mesos/isolators/docker/volume"
    again = agent.step("dvdi", {**params, "self_restart": True})
    assert again["status"] == "COMPLETE" and again["changed"] is False and again["restart"] is None


def test_a_dcos_agent_that_already_runs_docker_volume_is_left_alone(cluster):
    emulated = cluster.agent("moderndcos")
    agent = Agent(emulated.root, "moderndcos", emulated.ip, "ubuntu", "dcos")
    before = agent.read("/var/lib/dcos/mesos-slave-common")
    res = agent.step("dvdi", {"os_family": "ubuntu", "flavour": "dcos"})
    assert res["status"] == "COMPLETE", res["reason"]
    # Only the agent-after-REX-Ray drop-in is added (it matters at the agent's next start): no restart.
    drop_in = "/etc/systemd/system/dcos-mesos-slave.service.d/dcos-scaleio-rexray.conf"
    assert res["changes"] == [f"ordered dcos-mesos-slave after dcos-rexray ({drop_in})"] and res["restart"] is None
    assert not any(c["argv"].startswith("systemctl restart") for c in res["commands"])
    assert "After=dcos-rexray.service" in agent.read(drop_in)
    assert res["facts"]["agent_flags_confirmed"] is True          # asked the running agent
    assert agent.read("/var/lib/dcos/mesos-slave-common") == before
    assert "docker/volume" in running_flags(emulated)["isolation"]
