"""A scheduler started with invalid options (it serves its API and never talks to Mesos): every
operator endpoint answers sensibly -- 4xx/503 with reasons, never 500 -- and mutations stay refused."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = [pytest.mark.sandbox]


@pytest.fixture(scope="module")
def bad_scheduler(tmp_path_factory):
    work = tmp_path_factory.mktemp("bad-options")
    options, url_file = work / "options.json", work / "url"
    options.write_text(json.dumps({"scaleio": {"mode": "provisoin", "admin_password": "x"}}))
    os.chmod(options, 0o600)
    env = dict(os.environ, SCALEIO_OPTIONS_FILE=str(options), PORT_API="0", LIBPROCESS_IP="127.0.0.1",
               SCALEIO_API_URL_FILE=str(url_file), SCALEIO_API_TOKEN="tok-123456")
    proc = subprocess.Popen([sys.executable, "-m", "dcos_scaleio.framework.scheduler"], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "scheduler did not serve"
            time.sleep(0.1)
        yield url_file.read_text().strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def call(url, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"token={token}"} if token else {}
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_every_endpoint_answers_without_options(bad_scheduler):
    url = bad_scheduler
    expect = {"/v1/plans": 200, "/v1/plans/deploy": 417, "/v1/nodes": 200, "/v1/nodes/x": 404,
              "/v1/cluster": 503, "/v1/endpoints": 200, "/v1/endpoints/gateway": 200,
              "/v1/state/frameworkId": 404, "/v1/config": 409, "/v1/metrics/prometheus": 200,
              "/v1/preview": 200, "/v1/openapi.json": 200}
    got = {path: call(url, "GET", path)[0] for path in expect}
    assert got == expect
    config = json.loads(call(url, "GET", "/v1/config")[1])
    assert any(e["field"] == "scaleio.mode" for e in config["errors"])
    preview = json.loads(call(url, "GET", "/v1/preview")[1])
    assert preview["valid"] is False and any(e["field"] == "scaleio.mode" for e in preview["errors"])
    assert b"options are invalid" in call(url, "GET", "/v1/cluster")[1]


def test_mutations_refused_without_changing_anything(bad_scheduler):
    url = bad_scheduler
    assert call(url, "POST", "/v1/plans/deploy/start")[0] == 401
    assert call(url, "POST", "/v1/nodes/x/devices", {"devices": ["/dev/sdb"]}, token="tok-123456")[0] == 404
    code, body = call(url, "POST", "/v1/plans/nope/restart", token="tok-123456")
    assert code == 404, body
    code, body = call(url, "POST", "/v1/plans/deploy/interrupt", token="tok-123456")
    assert code == 409 and b"options" in body, body
    assert call(url, "GET", "/v1/plans/deploy")[0] == 417
    assert b"tok-123456" not in call(url, "GET", "/v1/config")[1]
