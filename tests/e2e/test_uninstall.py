"""Install, update and uninstall end to end the way DC/OS users do it: ``sandbox up --dcos``
(ZooKeeper, the Admin Router, Marathon, Cosmos), the package from ``packaging/universe.py`` in a
Universe repository added to Cosmos, and every operator action through the shipped CLI binary
(``dcos-scaleio scaleio ...`` as the DC/OS CLI runs the plugin). Marathon runs the frozen scheduler;
Cosmos's SDK uninstall relaunches it in uninstall mode, waits for the plan, deletes it.
Existing mode, one RHEL agent. In order (each test builds on the previous one's state):

0. ``install --options=FILE`` validates, installs through Cosmos and follows the deploy plan live
   until it is COMPLETE;
1. the scheduler, SIGKILLed, is relaunched by Marathon in a fresh sandbox and resumes from ZooKeeper
   (same framework ID, the plan COMPLETE with no step run again); ``update start`` changes an option:
   Marathon relaunches the scheduler with it, and nothing runs again;
2. default level (``framework``): ``uninstall`` ends once Cosmos deleted the app; the framework is torn
   down, its executors ended, its ZooKeeper node gone; ScaleIO, REX-Ray and the isolator keep working
   (a task with an external volume still runs);
3. reinstalled with ``uninstall.level`` ``software``: ``uninstall`` reports the refusal (that volume
   exists) and exits 4; ``data`` without ``yes-really-destroy-data`` is refused by the CLI before
   anything is sent, and by the scheduler itself when a caller bypasses the CLI; nothing is removed
   and Cosmos keeps the app;
4. with the volume gone, ``data`` + confirmation removes what the framework installed (packages,
   REX-Ray, the isolator flags restored) and, in existing mode, nothing it did not create.
"""
import json
import os
import signal

import pytest
import requests

from dcos_scaleio.cli import errors
from dcos_scaleio.cli.cosmos import media
from dcos_scaleio.sandbox.dcos.cosmos.universe_server import UniverseServer, build_repo
from dcos_scaleio.sandbox.up import SandboxUp, write_private_json
from support.cli_plugin import run_plugin
from support.waiting import wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(900)]

CONFIRM = "yes-really-destroy-data"
SERVICE = "scaleio"


class Dcos:
    """The cluster as a DC/OS user reaches it: the Admin Router with a bootstrapuser token."""

    def __init__(self, up, binary, home):
        self.up, self.info, self.binary, self.home = up, up.info, binary, home
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
        headers["Content-Type"] = media(ns, kind, "request", "v1")
        headers["Accept"] = media(ns, kind, "response", version)
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

    def cli(self, *argv, timeout=120):
        """The plugin as the DC/OS CLI runs it: HOME and the cluster's URL, token and CA."""
        env = {"HOME": str(self.home), "DCOS_URL": self.base, "DCOS_ACS_TOKEN": self.info["dcos_acs_token"],
               "DCOS_TLS_CA_PATH": self.info["dcos_ca_path"]}
        return run_plugin(self.binary, argv, env=env, timeout=timeout)

    def options_file(self, name, options):
        path = self.home / f"{name}.json"
        write_private_json(path, options)   # it holds the admin password
        return path

    def install(self, name, options):
        """``install --options=FILE --yes``, following the deploy plan (bounded)."""
        return self.cli("install", f"--options={self.options_file(name, options)}", "--yes", "--timeout", "240",
                        timeout=300)

    def update(self, name, options):
        return self.cli("update", "start", f"--options={self.options_file(name, options)}", "--yes")

    def cosmos_update(self, options):
        """A service update straight through Cosmos (what a caller that bypasses the CLI sends)."""
        return self.cosmos("/cosmos/service/update", "update", {"appId": SERVICE, "options": options,
                                                                "replace": False}, ns="service")

    def user_options(self):
        return self.cosmos("/cosmos/service/describe", "describe", {"appId": SERVICE}, ns="service")["userProvidedOptions"]

    def frameworks(self, key="frameworks"):
        return {f["id"] for f in self.get("/mesos/master/frameworks").json()[key] if f["name"] == SERVICE}


def steps(body) -> dict:
    return {s["name"]: s for ph in body["phases"] for s in ph["steps"]}


def sh(agent, *argv):
    return agent.root.run(list(argv), timeout=60)


@pytest.fixture(scope="module")
def dcos(tmp_path_factory, cli_binary):
    up = SandboxUp(1, mode="existing", os_choice="rhel", dcos=True,
                   options={"service": {"step_timeout_s": 120,
                                        "retry": {"max_attempts": 2, "backoff_initial_s": 1, "backoff_max_s": 1}}},
                   ready_timeout=900)
    with up:
        repo = build_repo(up.info["artifacts_url"], tmp_path_factory.mktemp("universe"))
        with UniverseServer(repo) as universe:
            d = Dcos(up, cli_binary["binary"], tmp_path_factory.mktemp("home"))
            # What `dcos package repo add dev <url> --index=0` sends.
            d.cosmos("/package/repository/add", "repository.add", {"name": "dev", "uri": universe.repo_url, "index": 0})
            d.options = up.install_options(json.loads(up.options_file.read_text()))
            d.agent = next(iter(up.world.mesos.agents.values()))
            d.installed = d.install("options", d.options)
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


def test_install_with_an_options_file_follows_the_plan_until_deployed(dcos, e2e):
    r = dcos.installed
    assert r.code == 0, r.err + r.out
    assert "Installing scaleio " in r.out and "as /scaleio" in r.out
    host = dcos.agent.hostname
    # Live progress, a line per step change with the agent, then the plan's end state.
    assert f"/ {host}:[deps] on {host}: COMPLETE" in r.out, r.out
    assert "plan deploy: COMPLETE" in r.out and r.out.rstrip().endswith("Service 'scaleio' is deployed.")
    body = dcos.finished_plan()
    assert body["status"] == "COMPLETE", e2e.failures(body)
    assert dcos.user_options()["scaleio"]["mode"] == "existing"
    assert dcos.options["scaleio"]["admin_password"] not in r.out + r.err


def test_killed_scheduler_is_relaunched_by_marathon_and_resumes_from_zookeeper(dcos):
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
    assert attempts(after) == attempts(before)
    dcos.attempts = attempts(after)


def attempts(body) -> dict:
    return {n: (s["status"], s["attempts"]) for n, s in steps(body).items()}


def test_options_update_relaunches_the_scheduler_with_them_and_runs_nothing_again(dcos):
    old_task = dcos.app()["tasks"][0]["id"]
    r = dcos.update("debug", {"service": {"log_level": "DEBUG"}})
    assert r.code == 0, r.err
    assert "Update of 'scaleio' started" in r.out
    assert dcos.user_options()["service"]["log_level"] == "DEBUG"
    wait_for(lambda: ((dcos.app() or {}).get("tasks") or [{}])[0].get("id") not in (None, old_task),
             120, "Marathon to replace the scheduler", interval=0.5)
    r = dcos.cli("update", "status", "--watch", "--timeout", "120", timeout=150)
    assert r.code == 0, r.err + r.out
    assert dcos.app()["env"]["OPT_SERVICE_LOG_LEVEL"] == "DEBUG"
    assert attempts(dcos.finished_plan()) == dcos.attempts


def test_default_uninstall_deletes_the_app_and_keeps_volumes_working(dcos):
    from dcos_scaleio.sandbox.workload import run_volume_task
    (dcos.fid,) = dcos.frameworks()
    assert zk_node_exists(dcos, f"/dcos-service-{SERVICE}")
    r = dcos.cli("uninstall", "--yes", "--timeout", "120", timeout=150)
    assert r.code == 0, r.err + r.out
    assert "Uninstalling scaleio " in r.out and r.out.rstrip().endswith("Service 'scaleio' is uninstalled.")
    # The progress shown is the uninstall plan's (one deregister step at this level), never the old
    # scheduler's finished deploy plan while Marathon replaces it.
    assert "deregister / deregister:[service]" in r.out and ":[deps]" not in r.out, r.out
    assert dcos.app() is None
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
    # Reinstalled with the level to uninstall at (an update sets it just as well: see below).
    r = dcos.install("software", dict(dcos.options, uninstall={"level": "software"}))
    assert r.code == 0, r.err + r.out
    r = dcos.cli("uninstall", "--yes", "--timeout", "150", timeout=180)
    assert r.code == errors.PLAN_ERROR, r.err + r.out
    assert "The uninstall of 'scaleio' is blocked:" in r.err
    assert "1 volume(s) exist" in r.err and "keep1" in r.err and "dcos scaleio plan force-restart" in r.err
    code, body = dcos.plan()
    check = steps(body)["volumes:[check]"]
    assert check["status"] == "ERROR" and "1 volume(s) exist" in check["reason"] and "keep1" in check["reason"]
    assert all(s["status"] == "PENDING" for n, s in steps(body).items() if n != "volumes:[check]")
    assert dcos.app() is not None and dcos.app()["env"]["SDK_UNINSTALL"] == "true"
    assert sh(dcos.agent, "rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0
    # data without the confirmation: the CLI refuses it before sending anything...
    r = dcos.update("data-unconfirmed", {"uninstall": {"level": "data"}})
    assert r.code == errors.VALIDATION, r.err + r.out
    assert "uninstall.confirm" in r.err and CONFIRM in r.err
    assert dcos.user_options()["uninstall"] == {"level": "software"}
    # ...and a caller that bypasses the CLI gets a scheduler that refuses its options and launches nothing.
    dcos.cosmos_update({"uninstall": {"level": "data"}})
    def options_refused():
        code, body = dcos.plan()
        return body if code == 417 and "uninstall.confirm" in json.dumps(body) else None
    wait_for(options_refused, 120, "the data uninstall to be refused for its options", interval=0.5)
    assert dcos.get(f"/service/{SERVICE}/v1/health").status_code == 500
    r = dcos.cli("status")
    assert r.code == errors.PLAN_ERROR and "uninstall.confirm" in r.out + r.err, r.err + r.out
    assert dcos.app() is not None
    for pkg in ("EMC-ScaleIO-sdc", "EMC-ScaleIO-sds"):
        assert sh(dcos.agent, "rpm", "-q", pkg).returncode == 0, pkg


def test_data_uninstall_in_existing_mode_removes_only_what_the_framework_installed(dcos):
    from dcos_scaleio.framework.cluster import Gateway, GatewayConfig, cluster_summary
    assert sh(dcos.agent, "rexray", "volume", "rm", "keep1").returncode == 0
    gw = Gateway(GatewayConfig(dcos.info["gateway_url"], dcos.info["admin_password"], ca_path=dcos.info["ca_path"]))
    before = cluster_summary(gw)
    r = dcos.update("data", {"uninstall": {"level": "data", "confirm": CONFIRM}})
    assert r.code == 0, r.err + r.out
    # (The refused options' plan has no phases; the relaunched scheduler's uninstall plan has its preflight.)
    wait_for(lambda: "preflight" in [x["name"] for x in dcos.plan()[1].get("phases", [])],
             120, "the scheduler relaunched with the confirmed options", interval=0.5)
    # The refused check is recorded; the operator retries it once the volume is gone.
    r = dcos.cli("plan", "force-restart", "deploy", "preflight")
    assert r.code == 0, r.err + r.out
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
