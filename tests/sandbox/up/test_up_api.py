"""``SandboxUp`` (the Python API behind ``sandbox up``): ZooKeeper store, dev executor, the DC/OS
front, relaunch_scheduler, clean stop."""
import json
import os
import time
import urllib.error
import urllib.request

import jwt
import pytest
import requests

from dcos_scaleio.sandbox.up import SandboxUp
from dcos_scaleio.sandbox.zookeeper import four_letter_word

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def _environ(pid: int) -> dict:
    with open(f"/proc/{pid}/environ", "rb") as fh:
        return dict(item.split("=", 1) for item in fh.read().decode(errors="replace").split("\0") if "=" in item)


def test_zookeeper_store_and_dev_executor_in_provision_mode():
    up = SandboxUp(1, mode="provision", os_choice="rhel", store="zookeeper", dev_executor=True,
                   options={"service": {"log_level": "DEBUG"}})
    with up:
        info = up.info
        state_dir = info["state_dir"]
        zk_port = up.zookeeper.port
        assert info["store_url"] == f"zk://127.0.0.1:{zk_port}"
        assert four_letter_word(zk_port, "ruok") == "imok"
        assert [a["os"] for a in info["agents"]] == ["rhel"]
        assert info["gateway_url"] is None and info["ca_path"] is None   # the framework installs it
        assert info["executor_artifact"] is None

        options = json.loads(open(info["options_file"]).read())
        assert options["service"]["state_store"] == {"type": "zookeeper", "zookeeper": f"127.0.0.1:{zk_port}"}
        assert options["service"]["log_level"] == "DEBUG"           # caller's overrides merged in
        assert options["scaleio"]["mode"] == "provision"
        assert "executor" not in options["artifacts"]
        assert options["artifacts"]["rhel"]["mdm"]["url"].startswith(info["mirror_url"])

        env = _environ(info["scheduler_pid"])
        assert env["SCALEIO_DEV_EXECUTOR_PYTHON"] and os.access(env["SCALEIO_DEV_EXECUTOR_PYTHON"], os.X_OK)
        assert env["SCALEIO_OPTIONS_FILE"] == info["options_file"]
        assert info["scheduler_api"].endswith(":" + env["PORT_API"])
        try:
            with urllib.request.urlopen(info["scheduler_api"] + "/v1/plans/deploy", timeout=10) as resp:
                status, plan = resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            status, plan = exc.code, json.loads(exc.read())
        assert status in (200, 202, 417) and plan["phases"], (status, plan)

        _check_front(up, info, env)

        # relaunch_scheduler: a new process with the added env, still behind /service/scaleio.
        first = info["scheduler_pid"]
        up.relaunch_scheduler({"SANDBOX_MARK": "second"})
        second = up.info["scheduler_pid"]
        assert second != first and up.supervisor.pid == second
        assert _environ(second)["SANDBOX_MARK"] == "second"
        http = requests.Session()
        http.trust_env = False
        r = http.get(info["dcos_url"] + "/service/scaleio/v1/plans/deploy", timeout=10, verify=info["dcos_ca_path"],
                     headers={"Authorization": "token=" + info["dcos_acs_token"]})
        assert r.status_code in (200, 202, 417)
    # Stopped: ZooKeeper is down, the temporary state dir is gone, no mount left behind.
    assert four_letter_word(zk_port, "ruok", timeout=0.5) is None
    assert not os.path.exists(state_dir)
    with open("/proc/mounts") as fh:
        assert [line for line in fh if state_dir in line] == []


def _check_front(up, info, env):
    """The DC/OS front: keys in the info, the scheduler's auth env, /service/scaleio and /mesos routes."""
    assert info["dcos_url"].startswith("https://127.0.0.1:")
    assert os.path.isfile(info["dcos_ca_path"])
    assert set(info["users"]) == {"bootstrapuser", "viewer"} and all(info["users"].values())
    assert info["api_token"] and info["service_name"] == "scaleio"
    assert env["SCALEIO_IAM_JWKS_URL"] == info["dcos_url"] + "/acs/api/v1/auth/jwks"
    assert env["SCALEIO_IAM_CA"] == info["dcos_ca_path"]
    assert env["SCALEIO_API_TOKEN"] == info["api_token"]
    assert env["SCALEIO_API_OPERATORS"] == "bootstrapuser"

    http = requests.Session()
    http.trust_env = False            # verify with the sandbox CA, not REQUESTS_CA_BUNDLE
    http.verify = info["dcos_ca_path"]
    keys = http.get(env["SCALEIO_IAM_JWKS_URL"], timeout=10).json()
    claims = jwt.decode(info["dcos_acs_token"], jwt.PyJWK.from_dict(keys["keys"][0]).key, algorithms=["RS256"])
    assert claims["uid"] == "bootstrapuser" and claims["exp"] > time.time()

    auth = {"Authorization": "token=" + info["dcos_acs_token"]}
    through = http.get(info["dcos_url"] + "/service/scaleio/v1/plans/deploy", headers=auth, timeout=10)
    assert through.status_code in (200, 202, 417) and through.json()["phases"]
    assert http.get(info["dcos_url"] + "/service/scaleio/v1/plans/deploy", timeout=10).status_code == 401
    expired = up.front.mint("bootstrapuser", exp=int(time.time()) - 1)
    assert http.get(info["dcos_url"] + "/service/scaleio/v1/plans", timeout=10,
                    headers={"Authorization": "token=" + expired}).status_code == 401
    state = http.get(info["dcos_url"] + "/mesos/master/state", headers=auth, timeout=10)
    assert state.status_code == 200 and len(state.json()["slaves"]) == len(info["agents"])


def test_bad_arguments_are_refused_before_anything_starts(tmp_path):
    for kwargs in ({"mode": "other"}, {"store": "etcd"}, {"os_choice": "windows"}):
        with pytest.raises(ValueError):
            SandboxUp(1, state_dir=tmp_path / "s", **kwargs)
    with pytest.raises(ValueError):
        SandboxUp(0, state_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()
