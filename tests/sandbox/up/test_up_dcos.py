"""``sandbox up --dcos``: ZooKeeper, the front, Marathon and Cosmos, and no scheduler; a Marathon app
with DCOS_SERVICE_* labels is reachable at /service/<name>."""
import hashlib
import io
import json
import os
import sys
import tarfile

import pytest
import requests

from dcos_scaleio.sandbox.up import SandboxUp
from dcos_scaleio.sandbox.zookeeper import four_letter_word
from support.waiting import pid_alive, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def _tarball(path, name, data: bytes):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def test_dcos_mode_runs_marathon_and_cosmos_behind_the_front_and_no_scheduler(tmp_path):
    # The artifacts are only served here (no build): a stand-in scheduler tarball is enough.
    scheduler = _tarball(tmp_path / "sched.tar.gz", "dcos-scaleio-scheduler", b"#!/bin/sh\n")
    up = SandboxUp(1, os_choice="ubuntu", dev_executor=True, dcos=True, scheduler_artifact=scheduler,
                   scheduler_env={"SANDBOX_MARK": "from-scheduler-env"})
    with up:
        info = up.info
        assert info["scheduler_api"] is None and info["scheduler_pid"] is None and up.supervisor is None
        assert four_letter_word(up.zookeeper.port, "ruok") == "imok"
        assert info["store_url"] == f"zk://127.0.0.1:{up.zookeeper.port}"

        # The install options trust this front; the artifacts are served with their digests.
        options = json.loads(open(info["options_file"]).read())
        assert options["service"]["iam_jwks_url"] == info["dcos_url"] + "/acs/api/v1/auth/jwks"
        assert options["service"]["iam_ca"] == info["dcos_ca_path"]
        assert options["service"]["api_operators"] == ["bootstrapuser"]
        assert options["service"]["state_store"]["type"] == "zookeeper"
        assert info["scheduler_artifact"]["url"] == info["artifacts_url"] + "/dcos-scaleio-scheduler.tar.gz"
        served = requests.get(info["scheduler_artifact"]["url"], timeout=10).content
        assert hashlib.sha256(served).hexdigest() == info["scheduler_artifact"]["sha256"]
        sha_line = requests.get(info["scheduler_artifact"]["url"] + ".sha256", timeout=10).text
        assert sha_line == f"{info['scheduler_artifact']['sha256']}  dcos-scaleio-scheduler.tar.gz\n"

        http = requests.Session()
        http.trust_env = False
        http.verify = info["dcos_ca_path"]
        http.headers["Authorization"] = "token=" + info["dcos_acs_token"]
        assert http.get(info["dcos_url"] + "/service/marathon/v2/info", timeout=10).json()["name"] == "marathon"
        assert requests.get(info["marathon_url"] + "/v2/apps", timeout=10).json() == {"apps": []}
        if info["cosmos_url"] is not None:
            media = "application/vnd.dcos.package.repository.list-{}+json;charset=utf-8;version=v1"
            r = http.post(info["dcos_url"] + "/package/repository/list", data="{}", timeout=10,
                          headers={"Content-Type": media.format("request"), "Accept": media.format("response")})
            assert r.status_code == 200 and "repositories" in r.json()

        # A service Marathon runs is reachable at /service/<its DCOS_SERVICE_NAME>, with the task env.
        app = {"id": "/echo", "cmd": f"env > env.txt && exec {sys.executable} -m http.server $PORT0 --bind 127.0.0.1",
               "portDefinitions": [{"port": 0, "name": "api"}],
               "labels": {"DCOS_SERVICE_NAME": "echo", "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "http"},
               "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 1,
                                 "gracePeriodSeconds": 30, "maxConsecutiveFailures": 0}]}
        assert http.post(info["dcos_url"] + "/service/marathon/v2/apps", json=app, timeout=10).status_code == 201
        wait_for(lambda: http.get(info["dcos_url"] + "/service/marathon/v2/deployments", timeout=10).json() == [],
              30, "the app's deployment")
        env = http.get(info["dcos_url"] + "/service/echo/env.txt", timeout=10)
        assert env.status_code == 200
        assert "SANDBOX_MARK=from-scheduler-env" in env.text.splitlines()
        assert "LIBPROCESS_IP=127.0.0.1" in env.text.splitlines()
        assert f"SCALEIO_DEV_EXECUTOR_PYTHON={sys.executable}" in env.text.splitlines()
        pid = up.marathon.runner("/echo").task.pid
        state_dir = info["state_dir"]
    # Everything stopped: Marathon's task, ZooKeeper, the temp state dir.
    assert not pid_alive(pid)
    assert not os.path.exists(state_dir)

