"""(h) The point of it all: an external volume follows its task from a dead agent to a live one.

Smallest deploy that proves it: ``sandbox up`` with two agents (one Ubuntu, one RHEL) against a
pre-built ScaleIO system (existing mode), so each agent gets SDS + SDC + REX-Ray + dvdcli + the
``docker/volume`` isolator from the real scheduler and executors; then a Marathon-like framework
(:mod:`dcos_scaleio.sandbox.workload`, unmodified pymesos) runs command tasks with a DOCKER_VOLUME
(driver ``rexray``) through the agents' isolator -> dvdcli -> REX-Ray -> ScaleIO gateway.

The story: a one-instance app (hostname constraint: either agent) starts on agent X and writes a
unique token into its volume; X's host dies (powered off: every process in it is gone, nothing
unmounts or unmaps anything, its SDC drops off the MDM); the master notices after its agent ping
timeout (shortened to 1 s through the emulator's control API; 75 s by default) and reports the task
UNREACHABLE; the framework launches a replacement, which lands on agent Y, whose REX-Ray takes the
volume over (``mount.preempt``, rendered by the framework) and the new instance finds the token. The
ScaleIO gateway (PyPowerFlex) shows the mapping moved from X's SDC to Y's, and the ScaleIO world's
event log that X's mapping outlived its SDC until Y preempted it. X then comes back (the old task is
TASK_GONE) without taking the volume from Y, and stopping the app on Y releases the mapping.
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


def volume_history(system, volume_id, sdc_ids) -> list:
    """The ScaleIO world's applied mapping/connection events for one volume and the given SDCs, in order,
    from the volume's first mapping on: ("map", sdc) / ("unmap", sdc or "all") / ("disconnect", sdc) /
    ("connect", sdc)."""
    guids = {system.sdc(id=sid).guid: sid for sid in sdc_ids}
    out = []
    for ev in system.events(outcome="applied"):
        a = ev.args
        if ev.op in ("map_volume", "unmap_volume") and a.get("volume_id") == volume_id:
            out.append(("map" if ev.op == "map_volume" else "unmap", "all" if a.get("all_sdcs") else a.get("sdc_id")))
        elif ev.op in ("disconnect_sdc", "register_sdc") and str(a.get("guid", "")).upper() in guids:
            out.append(("disconnect" if ev.op == "disconnect_sdc" else "connect", guids[a["guid"].upper()]))
    first_map = next((i for i, (what, _) in enumerate(out) if what == "map"), len(out))
    return out[first_map:]


def test_volume_follows_its_task_from_a_dead_agent_to_a_live_one(deployed, workload, e2e):
    agents = {a["hostname"]: a for a in deployed.info["agents"]}
    gw = gateway(deployed)
    token = uuid.uuid4().hex
    # One service instance on either agent, as a Marathon app with a hostname constraint. It creates its
    # data on first start and finds it on every later one.
    command = (f'if [ -f data/proof ]; then echo "found $(cat data/proof)"; '
               f'else echo {token} > data/proof && echo "created {token}"; fi; exec sleep 600')
    workload.start_app("follow", VOLUME, command, sorted(agents), options={"size": 8})
    first = workload.wait_app_task("follow", 0)
    workload.wait(first, {"TASK_RUNNING"} | TERMINAL_STATES, timeout=30)
    workload.wait_output(first, f"created {token}", timeout=30)
    x = agents[workload.result(first).hostname]
    (y,) = [a for a in agents.values() if a is not x]
    assert x["os"] != y["os"]
    assert mapped_ips(gw, VOLUME) == [x["ip"]]
    assert sdc_state(gw, x["ip"]) == "Connected"
    # The mapping is exclusive: without preempt REX-Ray on Y (the framework's config, mount.preempt off)
    # cannot take a volume attached elsewhere, and the dead host's SDC would keep it for ever.
    refused = rexray_without_preempt(deployed, y, ["volume", "mount", VOLUME])
    assert refused.returncode == 1 and "attached to another host" in refused.stderr, refused

    # X's host dies: nothing on it gets to unmount or unmap; the master gives up on it after the ping
    # timeout, the (partition-aware) framework hears TASK_UNREACHABLE and launches a replacement, which
    # can only go to Y.
    assert control(deployed, f"agents/{x['name']}/reboot", {"start": False})["state"] == "stopped"
    lost = workload.wait(first, GONE_STATES, timeout=30)
    assert lost["state"] == "TASK_UNREACHABLE", lost
    second = workload.wait_app_task("follow", 1, timeout=10)
    status = workload.wait(second, {"TASK_RUNNING"} | TERMINAL_STATES, timeout=30)
    assert status["state"] == "TASK_RUNNING", workload.result(second)
    assert workload.result(second).hostname == y["hostname"]
    # Y's REX-Ray preempted the mapping: the new instance finds what the first one wrote on X.
    assert workload.wait_output(second, "found", timeout=30).splitlines()[0] == f"found {token}"
    assert mapped_ips(gw, VOLUME) == [y["ip"]]
    assert (sdc_state(gw, x["ip"]), sdc_state(gw, y["ip"])) == ("Disconnected", "Connected")
    # The world's log: X's mapping outlived X's SDC connection until Y took the volume over.
    system = e2e.system(deployed)
    (vol,) = gw.volume.get(filter_fields={"name": VOLUME})
    sdc = {a["ip"]: s["id"] for a in (x, y) for s in gw.sdc.get() if s["sdcIp"] == a["ip"]}
    assert volume_history(system, vol["id"], sdc.values()) == [
        ("map", sdc[x["ip"]]), ("disconnect", sdc[x["ip"]]), ("unmap", "all"), ("map", sdc[y["ip"]])]

    # X comes back: its agent tries to clean up the container it lost (the framework's dvdi step keeps
    # the isolator's checkpoint on disk), which must not take the volume from Y; the old task is gone.
    assert control(deployed, f"agents/{x['name']}/reboot", {"start": True})["state"] == "running"
    e2e.wait(lambda: sdc_state(gw, x["ip"]) == "Connected", 30, "X's SDC to reconnect")
    assert workload.wait(first, {"TASK_GONE"}, timeout=30)["reason"] == "REASON_RECONCILIATION"
    assert mapped_ips(gw, VOLUME) == [y["ip"]]
    assert workload.app_tasks("follow") == [first, second] and workload.state(second) == "TASK_RUNNING"

    # Stopping the app ends the task normally on Y, which releases the volume (dvdcli unmount -> unmap).
    workload.stop_app("follow")
    assert workload.wait(second, timeout=30)["state"] == "TASK_KILLED"
    e2e.wait(lambda: mapped_ips(gw, VOLUME) == [], 15, "the volume to be unmapped")
    assert workload.app_tasks("follow") == [first, second]
