"""(h) The point of it all: an external volume follows its task from a dead agent to a live one.

Smallest deploy that proves it: ``sandbox up`` with two agents (one Ubuntu, one RHEL) against a
pre-built ScaleIO system (existing mode), so each agent gets SDS + SDC + REX-Ray + dvdcli + the
``docker/volume`` isolator from the real scheduler and executors; then a Marathon-like framework
(:mod:`dcos_scaleio.sandbox.workload`, unmodified pymesos) runs command tasks with a DOCKER_VOLUME
(driver ``rexray``) through the agents' isolator -> dvdcli -> REX-Ray -> ScaleIO gateway.

The story: a long-running task on agent X writes a unique token into the volume; X's host dies
(powered off: every process in it is gone, nothing unmounts or unmaps anything, its SDC drops off the
MDM); the master notices after its agent ping timeout (shortened to 1 s through the emulator's
control API; 75 s by default) and reports the task UNREACHABLE; the task is relaunched on agent Y,
whose REX-Ray takes the volume over (``mount.preempt``, rendered by the framework) and the new task
reads the token. The ScaleIO gateway (PyPowerFlex) shows the mapping moving from X's SDC to Y's. X
then comes back (its agent learns nothing of the old task: TASK_GONE) without taking the volume
from Y, and a normal task end on Y releases the mapping.
"""
import json
import urllib.request
import uuid

import pytest
import yaml
from PyPowerFlex import PowerFlexClient

from dcos_scaleio.sandbox.up import SandboxUp
from dcos_scaleio.sandbox.workload import GONE_STATES, TERMINAL_STATES, VolumeWorkload, run_volume_task

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(240)]

VOLUME = "follow-me"
REXRAY_CONFIG = "/etc/rexray/config.yml"
NO_PREEMPT_CONFIG = "/tmp/rexray-no-preempt.yml"
PING_TIMEOUT_S = 1.0        # the master's agent ping timeout (75 s by default) for this module


@pytest.fixture(scope="module")
def deployed(e2e):
    # The dev executor (python -m ...) avoids an artifact build; the deploy itself is the real one.
    up = SandboxUp(2, mode="existing", os_choice="mixed", dev_executor=True)
    try:
        up.start()
        e2e.assert_complete(up)
        control(up, "master/agent_ping_timeout", {"seconds": PING_TIMEOUT_S})
        yield up
    finally:
        up.stop()


@pytest.fixture
def workload(deployed):
    with VolumeWorkload(deployed.info["master"], name="marathon-like") as wl:
        yield wl


def control(up, path, body=None) -> dict:
    """A call to the Mesos emulator's control API."""
    req = urllib.request.Request(f"{up.info['control_url']}/{path}", data=json.dumps(body or {}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def gateway(up) -> PowerFlexClient:
    host, port = up.info["gateway_url"].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    client = PowerFlexClient(gateway_address=host, gateway_port=int(port), username="admin",
                             password=up.info["admin_password"], certificate_path=up.info["ca_path"], timeout=30)
    client.initialize()
    return client


def rexray_without_preempt(up, agent, args):
    """Run ``rexray <args>`` on ``agent`` with its rendered config, mount.preempt switched off."""
    root = up.world.mesos.agent(agent["name"]).root
    config = yaml.safe_load(root.read_text(REXRAY_CONFIG))
    mount = config["libstorage"]["integration"]["volume"]["operations"]["mount"]
    assert mount["preempt"] is True                   # what the framework rendered
    mount["preempt"] = False
    root.write_text(NO_PREEMPT_CONFIG, yaml.safe_dump(config), 0o600)
    try:
        return root.run(["rexray", "-c", NO_PREEMPT_CONFIG, *args], timeout=60)
    finally:
        root.remove(NO_PREEMPT_CONFIG)


def mapped_ips(client, volume) -> list:
    (vol,) = client.volume.get(filter_fields={"name": volume})
    return sorted(m["sdcIp"] for m in vol.get("mappedSdcInfo") or [])


def sdc_state(client, ip) -> str:
    (sdc,) = [s for s in client.sdc.get() if s["sdcIp"] == ip]
    return sdc["mdmConnectionState"]


def test_one_call_task_writes_and_reads_its_volume_then_releases_it(deployed, e2e):
    """The demo's API: one call, a terminal state, the task's stdout from the agent's sandbox."""
    agent = deployed.info["agents"][1]
    result = run_volume_task(deployed.info["master"], agent["hostname"], "scratch",
                             "echo hello > data/greeting && cat data/greeting", timeout=60)
    assert result.state == "TASK_FINISHED", result
    assert result.stdout == "hello\n" and result.hostname == agent["hostname"]
    assert result.states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    # Once the container is gone the isolator unmounts the volume: REX-Ray unmaps it from the SDC.
    gw = gateway(deployed)
    e2e.wait(lambda: mapped_ips(gw, "scratch") == [], 15, "the volume to be unmapped")


def test_volume_follows_its_task_from_a_dead_agent_to_a_live_one(deployed, workload, e2e):
    x, y = deployed.info["agents"]
    assert x["os"] != y["os"]
    gw = gateway(deployed)
    token = uuid.uuid4().hex

    first = workload.launch(x["hostname"], VOLUME, f"echo {token} > data/proof && echo WRITTEN && exec sleep 600",
                            options={"size": 8})
    workload.wait(first, {"TASK_RUNNING"}, timeout=30)
    workload.wait_output(first, "WRITTEN", timeout=30)
    assert mapped_ips(gw, VOLUME) == [x["ip"]]
    assert sdc_state(gw, x["ip"]) == "Connected"

    # X's host dies: nothing on it gets to unmount or unmap; the master gives up on it after the
    # ping timeout and the (partition-aware) framework hears TASK_UNREACHABLE.
    assert control(deployed, f"agents/{x['name']}/reboot", {"start": False})["state"] == "stopped"
    lost = workload.wait(first, GONE_STATES, timeout=30)
    assert lost["state"] == "TASK_UNREACHABLE", lost
    assert sdc_state(gw, x["ip"]) == "Disconnected"
    assert mapped_ips(gw, VOLUME) == [x["ip"]]        # still held by the dead host's SDC

    # Without preempt it would stay stuck there: REX-Ray on Y, with the framework's config but
    # mount.preempt off, refuses to take it.
    refused = rexray_without_preempt(deployed, y, ["volume", "mount", VOLUME])
    assert refused.returncode == 1 and "attached to another host" in refused.stderr, refused
    assert mapped_ips(gw, VOLUME) == [x["ip"]]

    # Relaunched on Y: REX-Ray there preempts the mapping and the task reads what X wrote.
    second = workload.launch(y["hostname"], VOLUME, "cat data/proof && echo READ && exec sleep 600")
    status = workload.wait(second, {"TASK_RUNNING"} | TERMINAL_STATES, timeout=30)
    assert status["state"] == "TASK_RUNNING", workload.result(second)
    out = workload.wait_output(second, "READ", timeout=30)
    assert out.splitlines()[0] == token
    assert mapped_ips(gw, VOLUME) == [y["ip"]]
    assert sdc_state(gw, y["ip"]) == "Connected"

    # X comes back: its agent's isolator cleans up the container it lost (the framework's dvdi step put
    # the checkpoint on disk), which must not take the volume away from Y.
    assert control(deployed, f"agents/{x['name']}/reboot", {"start": True})["state"] == "running"
    e2e.wait(lambda: sdc_state(gw, x["ip"]) == "Connected", 30, "X's SDC to reconnect")
    assert mapped_ips(gw, VOLUME) == [y["ip"]]
    assert workload.state(second) == "TASK_RUNNING"
    assert workload.wait(first, {"TASK_GONE"}, timeout=30)["reason"] == "REASON_RECONCILIATION"

    # A normal end on Y releases the volume (dvdcli unmount -> REX-Ray unmaps it).
    workload.kill(second)
    assert workload.wait(second, timeout=30)["state"] == "TASK_KILLED"
    result = workload.result(second)
    assert result.stdout.splitlines() == [token, "READ"]
    e2e.wait(lambda: mapped_ips(gw, VOLUME) == [], 15, "the volume to be unmapped")
