"""Uninstall levels end to end, on one deployed sandbox (existing mode, one RHEL agent).

The scheduler is relaunched the way Cosmos's SDK uninstall makes Marathon relaunch it (same options
plus ``uninstall.*``, env ``SDK_UNINSTALL=true``); its ``deploy`` plan is then the uninstall plan.
In order (each test builds on the previous one's state):

1. default level (``framework``): the framework is removed (executors gone, state store gone,
   unregistered from the master) and ScaleIO, REX-Ray and the isolator keep working: a task with an
   external volume still runs on the agent;
2. reinstalled, then ``software`` is refused with a clear reason while that volume exists, and
   ``data`` without ``yes-really-destroy-data`` is refused before anything is launched; nothing is
   removed by either;
3. with the volume gone, ``data`` + confirmation removes what the framework installed on the agent
   (packages, REX-Ray, isolator flags restored) but, in existing mode, nothing it did not create:
   the pre-built MDM cluster, its protection domain, pool and the other volumes stay.
"""
import json
import os
import time

import pytest
import requests

from dcos_scaleio.sandbox.up import SandboxUp, write_private_json

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(300)]

CONFIRM = "yes-really-destroy-data"
API_TOKEN = "uninstall-e2e-operator-token"


def wait_for(fn, timeout=60.0, interval=0.25, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def plan(up) -> tuple[int, dict]:
    r = requests.get(f"{up.api_url}/v1/plans/deploy", timeout=10)
    return r.status_code, r.json()


def finished_plan(up, timeout=120.0) -> dict:
    def done():
        code, body = plan(up)
        return body if body.get("status") in ("COMPLETE", "ERROR") else None
    return wait_for(done, timeout, 0.5, "the deploy plan to finish")


def steps(body) -> dict:
    return {s["name"]: s for ph in body["phases"] for s in ph["steps"]}


def relaunch(up, uninstall: dict | None) -> None:
    """Restart the scheduler with ``uninstall`` options in uninstall mode (None: normal mode)."""
    opts = json.loads(up.options_file.read_text())
    opts.pop("uninstall", None)
    if uninstall is not None:
        opts["uninstall"] = uninstall
    write_private_json(up.options_file, opts)
    up.relaunch_scheduler({"SDK_UNINSTALL": "true" if uninstall is not None else ""})


def master(up, path):
    return requests.get(f"http://{up.info['master']}{path}", timeout=10).json()


def framework_ids(up) -> set:
    return {f["id"] for f in master(up, "/master/frameworks")["frameworks"] if f["name"] == "scaleio"}


def sh(agent, *argv):
    return agent.root.run(list(argv), timeout=60)


def gateway(up):
    from dcos_scaleio.framework.cluster import Gateway, GatewayConfig
    return Gateway(GatewayConfig(up.info["gateway_url"], up.info["admin_password"], ca_path=up.info["ca_path"]))


def layout(summary: dict) -> dict:
    """What must survive an existing-mode uninstall: the system, its MDMs, domains and pools."""
    return {"system": (summary.get("system") or {}).get("id"),
            "mdms": sorted(m["id"] for m in summary["mdms"]),
            "domains": {d["id"]: sorted(p["id"] for p in d["storage_pools"]) for d in summary["protection_domains"]}}


@pytest.fixture(scope="module")
def up():
    sandbox = SandboxUp(1, mode="existing", os_choice="rhel", dev_executor=True,
                        options={"service": {"step_timeout_s": 120,
                                             "retry": {"max_attempts": 2, "backoff_initial_s": 1, "backoff_max_s": 1}}},
                        scheduler_env={"SCALEIO_LOCK_TIMEOUT_S": "10", "SCALEIO_API_TOKEN": API_TOKEN})
    with sandbox:
        body = finished_plan(sandbox)
        assert body["status"] == "COMPLETE", [(n, s["reason"]) for n, s in steps(body).items() if s["status"] != "COMPLETE"]
        sandbox.agent = next(iter(sandbox.world.mesos.agents.values()))
        yield sandbox


def test_default_uninstall_removes_the_framework_and_keeps_volumes_working(up):
    from dcos_scaleio.sandbox.workload import run_volume_task
    (fid,) = framework_ids(up)
    store = up.info["store_url"][len("sqlite://"):]
    assert os.path.exists(store)
    relaunch(up, {"level": "framework"})
    body = finished_plan(up)
    assert body["status"] == "COMPLETE" and list(steps(body)) == ["deregister:[service]"]
    wait_for(lambda: fid not in framework_ids(up), what="the framework to be unregistered")
    assert fid in {f["id"] for f in master(up, "/master/frameworks")["completed_frameworks"]}
    wait_for(lambda: not os.path.exists(store), what="the state store to be removed")
    # Its executors are gone from the agent.
    def executors_gone():
        state = requests.get(f"http://{up.agent.ip}:5051/state", timeout=10).json()
        return not [f for f in state["frameworks"] if f["id"] == fid]
    wait_for(executors_gone, 30, what="the framework's executors to end on the agent")
    # The scheduler keeps answering COMPLETE (Cosmos deletes the app once it sees that).
    assert plan(up)[0] == 200
    # ScaleIO, REX-Ray and the isolator still work without the framework.
    result = run_volume_task(up.info["master"], up.agent.hostname, "keep1",
                             "echo kept > data/f && cat data/f", timeout=90)
    assert (result.state, result.stdout.strip()) == ("TASK_FINISHED", "kept"), result
    assert sh(up.agent, "rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0


def test_software_refused_while_a_volume_exists_and_data_needs_confirmation(up):
    relaunch(up, None)
    body = finished_plan(up)
    assert body["status"] == "COMPLETE"
    relaunch(up, {"level": "software"})
    body = finished_plan(up)
    assert body["status"] == "ERROR"
    check = steps(body)["volumes:[check]"]
    assert check["status"] == "ERROR" and "1 volume(s) exist" in check["reason"] and "keep1" in check["reason"]
    assert all(s["status"] == "PENDING" for n, s in steps(body).items() if n != "volumes:[check]")
    assert sh(up.agent, "rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0
    # data without the confirmation: refused before anything runs (the options are invalid).
    relaunch(up, {"level": "data"})
    code, body = plan(up)
    assert code == 417 and body["status"] == "ERROR"
    assert "uninstall.confirm" in json.dumps(body)
    health = requests.get(f"{up.api_url}/v1/health", timeout=10)
    assert health.status_code == 500
    assert sh(up.agent, "rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0
    assert sh(up.agent, "rpm", "-q", "EMC-ScaleIO-sds").returncode == 0


def test_data_uninstall_in_existing_mode_removes_only_what_the_framework_installed(up):
    assert sh(up.agent, "rexray", "volume", "rm", "keep1").returncode == 0
    from dcos_scaleio.framework.cluster import cluster_summary
    gw = gateway(up)
    before = cluster_summary(gw)
    relaunch(up, {"level": "data", "confirm": CONFIRM})
    # The refused check is recorded; once the volumes are gone the operator retries it
    # (`dcos scaleio plan force-restart deploy preflight`).
    r = requests.post(f"{up.api_url}/v1/plans/deploy/restart", params={"phase": "preflight"},
                      headers={"Authorization": f"token={API_TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    body = finished_plan(up, timeout=180)
    assert body["status"] == "COMPLETE", [(n, s["reason"]) for n, s in steps(body).items() if s["status"] != "COMPLETE"]
    for pkg in ("EMC-ScaleIO-sdc", "EMC-ScaleIO-sds"):
        assert sh(up.agent, "rpm", "-q", pkg).returncode != 0, pkg
    isolation = up.agent.root.read_text("/etc/mesos-slave/isolation") or ""
    assert "docker/volume" not in isolation
    assert up.agent.root.read_text("/etc/rexray/config.yml") is None
    wait_for(lambda: not framework_ids(up), what="the framework to be unregistered")
    # The pre-built system, its MDMs, protection domains and pools are all still there.
    assert layout(cluster_summary(gw)) == layout(before) and layout(before)["domains"]
