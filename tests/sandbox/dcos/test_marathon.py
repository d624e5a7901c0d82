"""The sandbox's Marathon behind the Admin Router: real processes, fresh sandboxes, health checks,
restart on death, single-instance replacement, delete, fetch of archives."""
import io
import os
import signal
import sys
import tarfile
import zipfile

import pytest
import requests

from dcos_scaleio.sandbox.dcos.front import DcosFront
from dcos_scaleio.sandbox.dcos.marathon import Marathon
from dcos_scaleio.sandbox.mirror import Mirror
from support.waiting import pid_alive, wait_for

pytestmark = pytest.mark.sandbox

# The app: checks what was fetched, records its environment, then serves its sandbox over HTTP.
# The health check reads `healthy`, which only a fresh launch creates.
CMD = ("test -x hello.sh && test -f tools/bin/tool.txt && test -f zipped/z.txt && test -f raw.tar.gz "
       "&& env > env.txt && touch healthy "
       f"&& exec {sys.executable} -m http.server $PORT_API --bind 127.0.0.1")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """Artifacts to fetch: a .tar.gz, a .zip, a script, and a tarball fetched with extract=false."""
    root = tmp_path_factory.mktemp("mirror")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"from the tarball\n"
        info = tarfile.TarInfo("tools/bin/tool.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (root / "tools.tar.gz").write_bytes(buf.getvalue())
    (root / "raw.tar.gz").write_bytes(buf.getvalue())
    with zipfile.ZipFile(root / "zipped.zip", "w") as zf:
        zf.writestr("zipped/z.txt", "from the zip\n")
    (root / "hello.sh").write_text("#!/bin/sh\necho hello\n")
    with Mirror(root) as m:
        yield m


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("dcos")
    with DcosFront(base / "front") as front, Marathon(base / "marathon") as marathon:
        front.serve_marathon(marathon)
        session = requests.Session()
        session.trust_env = False
        session.verify = front.ca_path
        session.headers["Authorization"] = f"token={front.token()}"
        yield front, marathon, session
        session.close()


def _app(mirror, **extra):
    return {
        "id": "/web", "cmd": CMD, "instances": 1, "cpus": 0.1, "mem": 32,
        "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "api"}],
        "fetch": [{"uri": mirror.url_for("tools.tar.gz")}, {"uri": mirror.url_for("zipped.zip")},
                  {"uri": mirror.url_for("hello.sh"), "executable": True, "destPath": "hello.sh"},
                  {"uri": mirror.url_for("raw.tar.gz"), "extract": False}],
        "env": {"GREETING": "one"},
        "labels": {"DCOS_SERVICE_NAME": "web", "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "http",
                   "MARATHON_SINGLE_INSTANCE_APP": "true"},
        "upgradeStrategy": {"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
        "backoffSeconds": 0.2, "backoffFactor": 1.0,
        "healthChecks": [{"protocol": "HTTP", "path": "/healthy", "portIndex": 0, "gracePeriodSeconds": 30,
                          "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 2}],
        **extra,
    }


def _healthy_task(session, base, not_id=None):
    def check():
        app = session.get(base + "/v2/apps/web", timeout=10).json()["app"]
        tasks = app["tasks"]
        if app["tasksHealthy"] == 1 and tasks and tasks[0]["id"] != not_id:
            return tasks[0]
        return None
    return wait_for(check, 30, "a healthy task" + (f" other than {not_id}" if not_id else ""))


def _task_env(session, front):
    r = session.get(front.url + "/service/web/env.txt", timeout=10)
    assert r.status_code == 200, r.text
    return dict(line.split("=", 1) for line in r.text.splitlines() if "=" in line)


def test_app_lifecycle_through_the_admin_router(cluster, mirror):
    front, marathon, session = cluster
    base = front.url + "/service/marathon"
    assert session.get(front.url + "/marathon/v2/info", timeout=10).json()["name"] == "marathon"

    r = session.post(base + "/v2/apps", json=_app(mirror), timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "/web" and r.json()["deployments"]
    assert session.post(base + "/v2/apps", json=_app(mirror), timeout=10).status_code == 409
    wait_for(lambda: session.get(base + "/v2/deployments", timeout=10).json() == [], 30, "the deployment")

    # Healthy; reachable as /service/web through its DCOS_SERVICE_* labels; Marathon's environment.
    first = _healthy_task(session, base)
    env = _task_env(session, front)
    assert env["PORT0"] == env["PORT_API"] == env["PORT"] == str(first["ports"][0])
    assert env["MARATHON_APP_ID"] == "/web" and env["MESOS_TASK_ID"] == first["id"]
    assert env["GREETING"] == "one"
    first_sandbox = env["MESOS_SANDBOX"]
    assert os.path.isdir(first_sandbox) and first["id"] in first_sandbox
    listing = session.get(base + "/v2/apps?embed=apps.tasks&label=DCOS_SERVICE_NAME==web", timeout=10).json()
    assert [a["id"] for a in listing["apps"]] == ["/web"] and listing["apps"][0]["tasks"]
    assert session.get(base + "/v2/apps?label=DCOS_SERVICE_NAME==other", timeout=10).json()["apps"] == []

    # The process dies: a new task, in a fresh sandbox (nothing of the old one in it).
    (open(os.path.join(first_sandbox, "leftover"), "w")).close()
    pid = marathon.runner("/web").task.pid
    os.kill(pid, signal.SIGKILL)
    second = _healthy_task(session, base, not_id=first["id"])
    env = _task_env(session, front)
    assert env["MESOS_SANDBOX"] != first_sandbox and env["MESOS_TASK_ID"] == second["id"]
    assert session.get(front.url + "/service/web/leftover", timeout=10).status_code == 404
    failure = session.get(base + "/v2/apps/web", timeout=10).json()["app"]["lastTaskFailure"]
    assert failure["taskId"] == first["id"] and failure["state"] == "TASK_FAILED"

    # Failing health checks (the file it serves is gone): killed after 2 failures, replaced.
    os.unlink(os.path.join(env["MESOS_SANDBOX"], "healthy"))
    third = _healthy_task(session, base, not_id=second["id"])
    failure = session.get(base + "/v2/apps/web", timeout=10).json()["app"]["lastTaskFailure"]
    assert failure["taskId"] == second["id"] and failure["state"] == "TASK_KILLED"

    # Update: the old task stops before the new one starts (single instance), new env.
    old_pid = marathon.runner("/web").task.pid
    r = session.put(base + "/v2/apps/web", json={"env": {"GREETING": "two"}}, timeout=10)
    assert r.status_code == 200 and r.json()["deploymentId"]
    fourth = _healthy_task(session, base, not_id=third["id"])
    assert not pid_alive(old_pid)
    # (its deployment is over as soon as the new task is healthy: no 409 for the delete below)
    assert _task_env(session, front)["GREETING"] == "two"
    app = session.get(base + "/v2/apps/web", timeout=10).json()["app"]
    assert app["env"] == {"GREETING": "two"} and app["cmd"] == CMD   # the fields given replaced, others kept
    assert fourth["version"] == app["version"]

    # Delete: the app is gone at once, its process soon after, and so is its route.
    pid = marathon.runner("/web").task.pid
    r = session.delete(base + "/v2/apps/web", timeout=10)
    assert r.status_code == 200 and r.json()["deploymentId"]
    assert session.get(base + "/v2/apps/web", timeout=10).status_code == 404
    wait_for(lambda: not pid_alive(pid), 30, "the deleted app's process to exit")
    assert session.get(front.url + "/service/web/env.txt", timeout=10).status_code == 404
    wait_for(lambda: session.get(base + "/v2/deployments", timeout=10).json() == [], 30, "the removal")


def test_validation_locking_and_fetch_failures(cluster, mirror):
    front, marathon, session = cluster
    base = front.url + "/marathon"
    bad = session.post(base + "/v2/apps", json={"id": "/Bad_Id", "cmd": "true"}, timeout=10)
    assert bad.status_code == 422 and bad.json()["details"][0]["path"] == "/id"
    both = session.post(base + "/v2/apps", json={"id": "/x", "cmd": "true", "args": ["true"]}, timeout=10)
    assert both.status_code == 422
    single = _app(mirror, id="/single", upgradeStrategy={"minimumHealthCapacity": 1, "maximumOverCapacity": 1})
    assert session.post(base + "/v2/apps", json=single, timeout=10).status_code == 422
    assert session.get(base + "/v2/apps/missing", timeout=10).status_code == 404

    # A fetch that fails keeps the deployment going (retried), the app locked, the failure reported.
    broken = {"id": "/broken", "cmd": "sleep 600", "fetch": [{"uri": mirror.url_for("missing.tar.gz")}],
              "backoffSeconds": 0.2, "backoffFactor": 1.0}
    assert session.post(base + "/v2/apps", json=broken, timeout=10).status_code == 201
    failure = wait_for(lambda: session.get(base + "/v2/apps/broken", timeout=10).json()["app"].get("lastTaskFailure"),
                    30, "the failed fetch to be reported")
    assert failure["state"] == "TASK_FAILED" and "missing.tar.gz" in failure["message"]
    [dep] = session.get(base + "/v2/deployments", timeout=10).json()
    assert dep["affectedApps"] == ["/broken"]
    locked = session.put(base + "/v2/apps/broken", json={"cmd": "sleep 601"}, timeout=10)
    assert locked.status_code == 409 and locked.json()["deployments"] == [{"id": dep["id"]}]
    assert session.delete(base + "/v2/apps/broken", timeout=10).status_code == 409
    assert session.delete(base + "/v2/apps/broken?force=true", timeout=10).status_code == 200
    wait_for(lambda: session.get(base + "/v2/deployments", timeout=10).json() == [], 30, "the removal")
    assert session.get(base + "/v2/apps", timeout=10).json()["apps"] == []


@pytest.mark.parametrize("selector, expected", [
    ("DCOS_PACKAGE_NAME==scaleio", True), ("DCOS_PACKAGE_NAME!=scaleio", False), ("DCOS_PACKAGE_NAME", True),
    ("MISSING", False), ("DCOS_PACKAGE_NAME in (kafka, scaleio)", True), ("DCOS_PACKAGE_NAME notin (scaleio)", False),
    ("DCOS_PACKAGE_NAME==scaleio,TIER==db", True), ("DCOS_PACKAGE_NAME==scaleio,TIER==web", False),
])
def test_label_selectors(selector, expected):
    from dcos_scaleio.sandbox.dcos.marathon.appdef import matches_selector
    assert matches_selector({"DCOS_PACKAGE_NAME": "scaleio", "TIER": "db"}, selector) is expected


def test_rollback_of_an_update_restores_the_previous_definition(cluster):
    front, marathon, session = cluster
    base = front.url + "/service/marathon"
    app = {"id": "/roll", "cmd": "sleep 600", "env": {"V": "1"}, "backoffSeconds": 0.2,
           # never healthy: every deployment of it stays in progress until cancelled
           "healthChecks": [{"protocol": "COMMAND", "command": {"value": "false"}, "intervalSeconds": 1,
                             "gracePeriodSeconds": 600, "maxConsecutiveFailures": 0}]}
    assert session.post(base + "/v2/apps", json=app, timeout=10).status_code == 201
    r = session.put(base + "/v2/apps/roll?force=true", json={"env": {"V": "2"}}, timeout=10)
    assert r.status_code == 200
    r = session.delete(base + f"/v2/deployments/{r.json()['deploymentId']}", timeout=10)
    assert r.status_code == 200 and r.json()["deploymentId"]
    assert session.get(base + "/v2/apps/roll", timeout=10).json()["app"]["env"] == {"V": "1"}

    def rolled_back():
        runner = marathon.runner("/roll")   # None while one version is swapped for the other
        task = runner.task if runner is not None else None
        return task is not None and task.state == "TASK_RUNNING" and runner.app["env"] == {"V": "1"}
    wait_for(rolled_back, 30, "the rolled-back task")
    assert session.delete(base + "/v2/apps/roll?force=true", timeout=10).status_code == 200
    wait_for(lambda: session.get(base + "/v2/deployments", timeout=10).json() == [], 30, "the removal")
