"""``dvdi`` with ``self_restart`` on an agent of the Mesos emulator: the step changes the flags,
restarts the agent through its systemd unit (which asks the emulator to restart the agent process),
and completes only once the running agent's ``/flags`` endpoint reports the new isolation."""
import pytest
import requests

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.mesos.cluster import MesosCluster
from dcos_scaleio.sandbox.mesos.spec import AgentSpec

from .conftest import Agent

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture
def mesos_agent(world, tmp_path):
    cluster = MesosCluster(tmp_path / "mesos", agents=[AgentSpec("restartme", isolation="posix/cpu,posix/mem")],
                           heartbeat_interval=1, allocation_interval=0.5)
    cluster.start()
    try:
        emulated = cluster.agent("restartme")
        hosts.provision(emulated.root, os_family="rhel", flavour="mesos")
        hosts.boot(emulated.root)
        yield Agent(emulated.root, "restartme", emulated.ip, "rhel", "mesos"), emulated
    finally:
        cluster.stop()


def running_flags(emulated):
    return requests.get(f"http://{emulated.ip}:{emulated.port}/flags", timeout=10).json()["flags"]


def test_dvdi_restarts_the_agent_itself_when_allowed_and_confirms_its_flags(world, mesos_agent):
    agent, emulated = mesos_agent
    assert "docker/volume" not in running_flags(emulated)["isolation"]
    params = {"os_family": "rhel", "flavour": "mesos", "packages": world.packages("rhel", "dvdcli")}
    asked = agent.step("dvdi", params)
    assert asked["status"] == "COMPLETE" and asked["restart"] == "agent", asked["reason"]
    assert "docker/volume" not in running_flags(emulated)["isolation"]     # nothing restarted by itself
    res = agent.step("dvdi", {**params, "self_restart": True})
    assert res["status"] == "COMPLETE", res["reason"]
    assert res["restart"] is None
    assert "restarted mesos-slave (isolator flags changed)" in res["changes"]
    flags = running_flags(emulated)
    assert flags["isolation"] == "posix/cpu,posix/mem,filesystem/linux,docker/volume"
    assert flags["docker_volume_checkpoint_dir"] == "/var/lib/mesos/isolators/docker/volume"
    again = agent.step("dvdi", {**params, "self_restart": True})
    assert again["status"] == "COMPLETE" and again["changed"] is False and again["restart"] is None
