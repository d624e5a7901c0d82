"""Uninstall levels end to end the way DC/OS does it: ``sandbox up --dcos`` (ZooKeeper, the Admin
Router, Marathon, Cosmos), the package from ``packaging/universe.py`` in a Universe repository,
installed and uninstalled through Cosmos behind the Admin Router; Marathon runs the frozen
scheduler, and Cosmos's SDK uninstall relaunches it in uninstall mode, waits for the plan, deletes it.
Existing mode, one RHEL agent. In order (each test builds on the previous one's state):

0. the scheduler, SIGKILLed, is relaunched by Marathon in a fresh sandbox and resumes from ZooKeeper
   (same framework ID, the plan COMPLETE with no step run again);
1. default level (``framework``): the app is deleted once the uninstall plan completed, the framework
   is torn down, its executors ended, its ZooKeeper node gone; ScaleIO, REX-Ray and the isolator keep
   working (a task with an external volume still runs);
2. reinstalled with ``uninstall.level`` ``software``: refused with a clear reason while that
   volume exists; ``data`` without ``yes-really-destroy-data`` is refused before anything is launched;
   nothing is removed and Cosmos keeps the app;
3. with the volume gone, ``data`` + confirmation removes what the framework installed (packages,
   REX-Ray, the isolator flags restored) and, in existing mode, nothing it did not create.
"""
import json

import pytest
import requests

from dcos_scaleio.sandbox.dcos.cosmos.universe_server import UniverseServer, build_repo
from dcos_scaleio.sandbox.up import SandboxUp
from support.waiting import wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(900)]

CONFIRM = "yes-really-destroy-data"
SERVICE = "scaleio"


class Dcos:
    """The cluster as a DC/OS user reaches it: the Admin Router with a bootstrapuser token."""

    def __init__(self, up):
        self.up, self.info = up, up.info
        self.base = self.info["dcos_url"]
        # Per request (REQUESTS_CA_BUNDLE in the environment would override a Session's verify).
        self.kw = {"verify": self.info["dcos_ca_path"], "timeout": 30,
                   "headers": {"Authorization": f"token={self.info['dcos_acs_token']}"}}

    def get(self, path):
        return requests.get(self.base + path, **self.kw)

    def post(self, path, **kw):
        return requests.post(self.base + path, **self.kw, **kw)

    def cosmos(self, path, kind, body, ns="package", version="v1"):
        headers = dict(self.kw["headers"])
        headers["Content-Type"] = f"application/vnd.dcos.{ns}.{kind}-request+json;charset=utf-8;version=v1"
        headers["Accept"] = f"application/vnd.dcos.{ns}.{kind}-response+json;charset=utf-8;version={version}"
        r = requests.post(self.base + path, data=json.dumps(body), verify=self.kw["verify"], timeout=30,
                          headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def plan(self):
        r = self.get(f"/service/{SERVICE}/v1/plans/deploy")
        return r.status_code, (r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {})

    def finished_plan(self, timeout=180.0):
        def done():
            code, body = self.plan()
            return body if body.get("status") in ("COMPLETE", "ERROR") else None
        return wait_for(done, timeout, "the deploy plan to finish", interval=0.5)

    def app(self):
        r = self.get(f"/service/marathon/v2/apps/{SERVICE}")
        return r.json()["app"] if r.status_code == 200 else None

    def install(self, options):
        return self.cosmos("/package/install", "install", {"packageName": SERVICE, "options": options}, version="v2")

    def update(self, options):
        return self.cosmos("/cosmos/service/update", "update", {"appId": SERVICE, "options": options,
                                                                "replace": False}, ns="service")

    def uninstall(self):
        return self.cosmos("/package/uninstall", "uninstall", {"packageName": SERVICE})

    def frameworks(self, key="frameworks"):
        return {f["id"] for f in self.get("/mesos/master/frameworks").json()[key] if f["name"] == SERVICE}


def steps(body) -> dict:
    return {s["name"]: s for ph in body["phases"] for s in ph["steps"]}


def not_complete(body):
    return [(n, s["status"], s.get("reason")) for n, s in steps(body).items() if s["status"] != "COMPLETE"]


def sh(agent, *argv):
    return agent.root.run(list(argv), timeout=60)


@pytest.fixture(scope="module")
def dcos(tmp_path_factory):
    up = SandboxUp(1, mode="existing", os_choice="rhel", dcos=True,
                   options={"service": {"step_timeout_s": 120,
                                        "retry": {"max_attempts": 2, "backoff_initial_s": 1, "backoff_max_s": 1}}},
                   ready_timeout=900)
    with up:
        repo = build_repo(up.info["artifacts_url"], tmp_path_factory.mktemp("universe"))
        with UniverseServer(repo) as universe:
            d = Dcos(up)
            d.cosmos("/package/repository/add", "repository.add", {"name": "dev", "uri": universe.repo_url, "index": 0})
            d.options = up.install_options(json.loads(up.options_file.read_text()))
            d.agent = next(iter(up.world.mesos.agents.values()))
            d.install(d.options)
            body = d.finished_plan()
            assert body["status"] == "COMPLETE", not_complete(body)
            yield d


def zk_node_exists(d, path):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=d.up.zookeeper.hosts, timeout=10)
    zk.start(timeout=10)
    try:
        return zk.exists(path) is not None
    finally:
        zk.stop()
        zk.close()


def test_killed_scheduler_is_relaunched_by_marathon_and_resumes_from_zookeeper(dcos):
    import os
    import signal
    code, before = dcos.plan()
    fid = dcos.get(f"/service/{SERVICE}/v1/state/frameworkId").json()
    task = dcos.up.marathon.runner(f"/{SERVICE}").task
    old_id, old_sandbox = task.id, task.sandbox
    os.kill(task.pid, signal.SIGKILL)
    def relaunched():
        tasks = (dcos.app() or {}).get("tasks") or [{}]   # one read per check: the task list changes meanwhile
        return tasks[0].get("id") not in (None, old_id) and tasks[0].get("state") == "TASK_RUNNING"
    wait_for(relaunched, 120, "Marathon to relaunch the scheduler", interval=0.5)
    new = dcos.up.marathon.runner(f"/{SERVICE}").task
    assert new.sandbox != old_sandbox and not (new.sandbox / "state.sqlite").exists()   # a fresh sandbox
    after = wait_for(lambda: (lambda p: p[1] if p[0] == 200 else None)(dcos.plan()), 120,
                     "the relaunched scheduler to serve its plan", interval=0.5)
    assert dcos.get(f"/service/{SERVICE}/v1/state/frameworkId").json() == fid
    # Resumed from ZooKeeper: every step COMPLETE with the attempts it had, nothing run again.
    assert {n: (s["status"], s["attempts"]) for n, s in steps(after).items()} == \
        {n: (s["status"], s["attempts"]) for n, s in steps(before).items()}


def test_default_uninstall_deletes_the_app_and_keeps_volumes_working(dcos):
    from dcos_scaleio.sandbox.workload import run_volume_task
    (dcos.fid,) = dcos.frameworks()
    assert zk_node_exists(dcos, f"/dcos-service-{SERVICE}")
    result = dcos.uninstall()
    assert [r["appId"] for r in result["results"]] == [f"/{SERVICE}"]
    wait_for(lambda: dcos.app() is None, 120, "Cosmos to delete the app", interval=0.5)
    assert dcos.up.cosmos.sdk.state(SERVICE)["state"] == "done"
    result = run_volume_task(dcos.info["master"], dcos.agent.hostname, "keep1",
                             "echo kept > data/f && cat data/f", timeout=90)
    assert (result.state, result.stdout.strip()) == ("TASK_FINISHED", "kept"), result
    assert sh(dcos.agent, "rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0


def test_default_uninstall_tore_the_framework_down(dcos):
    fid = dcos.fid
    wait_for(lambda: fid in dcos.frameworks("completed_frameworks"), 10, what="the framework torn down")
    assert not zk_node_exists(dcos, f"/dcos-service-{SERVICE}")

    def executors_gone():
        state = requests.get(f"http://{dcos.agent.ip}:5051/state", timeout=10).json()
        return not [f for f in state["frameworks"] if f["id"] == fid]
    wait_for(executors_gone, 30, what="the framework's executors to end on the agent")


def test_software_refused_while_a_volume_exists_and_data_needs_confirmation(dcos):
    # Reinstalled with the level to uninstall at (a service update sets it just as well: see below).
    dcos.install(dict(dcos.options, uninstall={"level": "software"}))
    assert dcos.finished_plan()["status"] == "COMPLETE"
    dcos.uninstall()
    def refused():
        code, body = dcos.plan()
        return body if body.get("status") == "ERROR" and "preflight" in [p["name"] for p in body["phases"]] else None
    body = wait_for(refused, 120, "the software uninstall to be refused", interval=0.5)
    check = steps(body)["volumes:[check]"]
    assert check["status"] == "ERROR" and "1 volume(s) exist" in check["reason"] and "keep1" in check["reason"]
    assert all(s["status"] == "PENDING" for n, s in steps(body).items() if n != "volumes:[check]")
    assert dcos.app() is not None and dcos.app()["env"]["SDK_UNINSTALL"] == "true"
    assert sh(dcos.agent, "rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0
    # data without the confirmation: the relaunched scheduler refuses its options, launches nothing.
    dcos.update({"uninstall": {"level": "data"}})
    def options_refused():
        code, body = dcos.plan()
        return body if code == 417 and "uninstall.confirm" in json.dumps(body) else None
    wait_for(options_refused, 120, "the data uninstall to be refused for its options", interval=0.5)
    assert dcos.get(f"/service/{SERVICE}/v1/health").status_code == 500
    assert dcos.app() is not None
    for pkg in ("EMC-ScaleIO-sdc", "EMC-ScaleIO-sds"):
        assert sh(dcos.agent, "rpm", "-q", pkg).returncode == 0, pkg


def test_data_uninstall_in_existing_mode_removes_only_what_the_framework_installed(dcos):
    from dcos_scaleio.framework.cluster import Gateway, GatewayConfig, cluster_summary
    assert sh(dcos.agent, "rexray", "volume", "rm", "keep1").returncode == 0
    gw = Gateway(GatewayConfig(dcos.info["gateway_url"], dcos.info["admin_password"], ca_path=dcos.info["ca_path"]))
    before = cluster_summary(gw)
    dcos.update({"uninstall": {"level": "data", "confirm": CONFIRM}})
    # (The refused options' plan has no phases; the relaunched scheduler's uninstall plan has its preflight.)
    wait_for(lambda: "preflight" in [x["name"] for x in dcos.plan()[1].get("phases", [])],
             120, "the scheduler relaunched with the confirmed options", interval=0.5)
    # The refused check is recorded; the operator retries it once the volume is gone.
    r = dcos.post(f"/service/{SERVICE}/v1/plans/deploy/restart", params={"phase": "preflight"})
    assert r.status_code == 200, r.text
    wait_for(lambda: dcos.app() is None, 180, "Cosmos to delete the app after the data uninstall", interval=0.5)
    for pkg in ("EMC-ScaleIO-sdc", "EMC-ScaleIO-sds"):
        assert sh(dcos.agent, "rpm", "-q", pkg).returncode != 0, pkg
    assert "docker/volume" not in (dcos.agent.root.read_text("/etc/mesos-slave/isolation") or "")
    assert dcos.agent.root.read_text("/etc/rexray/config.yml") is None
    after = cluster_summary(gw)

    def layout(s):
        return {"system": (s.get("system") or {}).get("id"), "mdms": sorted(m["id"] for m in s["mdms"]),
                "domains": {d["id"]: sorted(p["id"] for p in d["storage_pools"]) for d in s["protection_domains"]}}
    assert layout(after) == layout(before) and layout(before)["domains"]


def test_data_uninstall_tore_the_framework_down(dcos):
    wait_for(lambda: not dcos.frameworks(), 10, what="every framework of the service torn down")
    assert not zk_node_exists(dcos, f"/dcos-service-{SERVICE}")
