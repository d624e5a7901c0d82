"""One running sandbox for every live test of the operator API (package scope: started once).

The smallest deploy that completes: ONE agent in ``existing`` mode (the pre-built ScaleIO system
provides the MDMs and the gateway), dev executor (no artifact build). The scheduler is given the
auth environment of the contract -- a JWKS served from a real HTTP server with the keys of an
:class:`~dcos_scaleio.sandbox.dcos.iam.Iam`, an API token, operators = bootstrapuser.
"""
from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request

import pytest

from dcos_scaleio.sandbox.dcos.iam import Iam

from .jwks_server import JwksServer

READY_S = 90.0


class Live:
    """The running scheduler: ``url``, ``iam``, ``api_token``, ``password``, ``host`` (the agent's
    hostname), and small HTTP helpers answering ``(status, headers, body bytes)``."""

    def __init__(self, up, iam, api_token):
        self.up, self.iam, self.api_token = up, iam, api_token
        self.url = up.info["scheduler_api"]
        self.password = up.info["admin_password"]
        self.host = up.info["agents"][0]["hostname"]

    def operator(self) -> dict:
        return {"Authorization": "token=" + self.iam.mint("bootstrapuser")}

    def request(self, method, path, body=None, headers=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, (json.loads(data) if data.strip() else None)

    def wait_plan(self, status="COMPLETE", timeout=READY_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            code, plan = self.json("GET", "/v1/plans/deploy")
            if plan and plan.get("status") == status:
                return plan
            if time.monotonic() > deadline:
                raise AssertionError(f"deploy plan not {status} after {timeout} s: {json.dumps(plan)[:3000]}")
            time.sleep(0.3)


@pytest.fixture(scope="package")
def live():
    from dcos_scaleio.sandbox.up import SandboxUp
    iam = Iam()
    jwks = JwksServer(iam.jwks)
    token = secrets.token_urlsafe(24)
    env = {"SCALEIO_IAM_JWKS_URL": jwks.url, "SCALEIO_IAM_CA": "", "SCALEIO_API_TOKEN": token,
           "SCALEIO_API_OPERATORS": "bootstrapuser"}
    try:
        with SandboxUp(1, mode="existing", os_choice="ubuntu", dev_executor=True, scheduler_env=env) as up:
            lv = Live(up, iam, token)
            lv.wait_plan("COMPLETE")
            yield lv
    finally:
        jwks.close()
