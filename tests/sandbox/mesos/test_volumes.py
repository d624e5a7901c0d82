"""Docker volumes: dvdcli mount/unmount inside the agent root when the agent's flags enable the
docker/volume isolator (or a DVDI module built for its Mesos version), a real agent's failure otherwise."""
import json
import pathlib
import time

import pytest

from mesos_testfw.clusters import AgentSpec, make_cluster
from mesos_testfw.harness import executor_info

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

DVDCLI = (pathlib.Path(__file__).resolve().parents[2] / "mesos_testfw" / "dvdcli_fixture.sh").read_text()
DVDI_LIB = "/usr/lib/libmesos_dvdi_isolator-1.0.1.so"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    dvdcli = {"/usr/bin/dvdcli": [DVDCLI, 0o755]}
    module_files = {DVDI_LIB: "not really a shared object\n", "/usr/lib/dvdi-mod.json": json.dumps({"libraries": [{
        "file": DVDI_LIB, "modules": [{"name": "com_emccode_mesos_DockerVolumeDriverIsolator",
                                       "parameters": [{"key": "isolator_command", "value": "/emc/dvdi_isolator"}]}]}]})}
    specs = [
        AgentSpec("dv", isolation="posix/cpu,posix/mem,docker/volume", files=dvdcli),
        AgentSpec("nodvdcli", isolation="posix/cpu,posix/mem,docker/volume"),
        AgentSpec("noiso", files=dvdcli),
        AgentSpec("dvdi", version="1.0.1", flags={"modules": "file:///usr/lib/dvdi-mod.json"},
                  isolation="com_emccode_mesos_DockerVolumeDriverIsolator,posix/cpu,posix/mem",
                  files=dict(dvdcli, **module_files)),
    ]
    c = make_cluster(tmp_path_factory, specs)
    c.start()
    yield c
    c.stop()


def volume_executor(eid, name):
    ex = executor_info(eid)
    ex["container"] = {"type": "MESOS", "volumes": [{"container_path": "data", "mode": "RW", "source": {
        "type": "DOCKER_VOLUME", "docker_volume": {"driver": "rexray", "name": name}}}]}
    return ex


def dvdcli_log(cluster, name):
    return (cluster.agent(name).root.read_text("/var/log/dvdcli.log") or "").splitlines()


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_docker_volume_mounted_and_unmounted_with_dvdcli(cluster, schedulers):
    agent = cluster.agent("dv")
    s = schedulers(cluster.master_address, name="vol")
    s.wait_ev("registered")
    s.send("launch", tasks=[{"task_id": "v0", "agent": agent.hostname, "executor": volume_executor("vex", "vol1")}])
    s.wait_ev("status", task_id="v0", state="TASK_RUNNING", timeout=30)
    assert dvdcli_log(cluster, "dv") == ["mount --volumedriver=rexray --volumename=vol1"]
    ex = agent.executors[(s.framework_id, "vex")]
    link = pathlib.Path(ex.directory) / "data"
    assert str(link.readlink()) == "/var/lib/dvdcli/volumes/vol1"
    s.stop(failover=False)           # TEARDOWN: the container goes, the volume is released
    assert wait_until(lambda: len(dvdcli_log(cluster, "dv")) == 2)
    assert dvdcli_log(cluster, "dv")[1] == "unmount --volumedriver=rexray --volumename=vol1"


@pytest.mark.parametrize("agent_name,why", [("noiso", "docker/volume"), ("nodvdcli", "dvdcli")])
def test_docker_volume_task_fails_without_support(cluster, schedulers, agent_name, why):
    s = schedulers(cluster.master_address, name=f"novol-{agent_name}")
    s.wait_ev("registered")
    s.send("launch", tasks=[{"task_id": "nv", "agent": cluster.agent(agent_name).hostname,
                             "executor": volume_executor("nvex", "vol2")}])
    ev = s.wait_ev("status", task_id="nv", state="TASK_FAILED", timeout=30)
    assert ev["reason"] == "REASON_CONTAINER_LAUNCH_FAILED" and why in ev["message"]
    assert ev["source"] == "SOURCE_AGENT"
    s.stop(failover=False)


def test_dvdi_module_volume_from_environment(cluster, schedulers):
    s = schedulers(cluster.master_address, name="dvdi")
    s.wait_ev("registered")
    ex = executor_info("dvdiex")
    ex["command"]["environment"] = {"variables": [{"name": "DVDI_VOLUME_NAME", "value": "vol3"},
                                                  {"name": "DVDI_VOLUME_DRIVER", "value": "rexray"},
                                                  {"name": "DVDI_VOLUME_OPTS", "value": "size=5"}]}
    s.send("launch", tasks=[{"task_id": "d0", "agent": cluster.agent("dvdi").hostname, "executor": ex}])
    s.wait_ev("status", task_id="d0", state="TASK_RUNNING", timeout=30)
    assert dvdcli_log(cluster, "dvdi") == ["mount --volumedriver=rexray --volumename=vol3 --volumeopts=size=5"]
    s.stop(failover=False)
    assert wait_until(lambda: len(dvdcli_log(cluster, "dvdi")) == 2)


def test_agent_refuses_to_start_with_unloadable_isolators(cluster):
    agent = cluster.agent("noiso")
    old_id = agent.agent_id
    # An isolator nobody provides.
    agent.root.write_text("/etc/mesos-slave/isolation", "posix/cpu,com_emccode_mesos_DockerVolumeDriverIsolator\n")
    info = cluster.restart_agent("noiso")
    assert info["state"] == "failed" and "Unknown or unsupported isolator" in info["failure"]
    # The module built for Mesos 1.0 does not load into this 1.11 agent.
    agent.root.write_text(DVDI_LIB, "not really a shared object\n")
    agent.root.write_text("/usr/lib/dvdi-mod.json", json.dumps({"libraries": [{
        "file": DVDI_LIB, "modules": [{"name": "com_emccode_mesos_DockerVolumeDriverIsolator"}]}]}))
    agent.root.write_text("/etc/mesos-slave/modules", "file:///usr/lib/dvdi-mod.json\n")
    info = cluster.restart_agent("noiso")
    assert info["state"] == "failed" and "not compatible" in info["failure"]
    # Back to loadable flags: the same agent recovers (isolation is not part of the agent info).
    agent.root.remove("/etc/mesos-slave/modules")
    agent.root.write_text("/etc/mesos-slave/isolation", "posix/cpu,posix/mem\n")
    info = cluster.start_agent("noiso")
    assert info["state"] == "running" and info["id"] == old_id
