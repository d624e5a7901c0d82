"""One running sandbox for every live test of the operator API (package scope: started once).

The smallest deploy that completes: ONE agent in ``existing`` mode (the pre-built ScaleIO system
provides the MDMs and the gateway), dev executor (no artifact build). ``SandboxUp`` runs the DC/OS
front (IAM + Admin Router over HTTPS) and gives the scheduler the auth environment of the contract
(JWKS URL and CA of that IAM, the API token, operators = bootstrapuser).

Requests go through the Admin Router (``<dcos_url>/service/<name>/...``) as the CLI's do, with a
``viewer`` token when the test gives no Authorization (the router wants a login for every path);
``via="direct"`` talks to the scheduler itself, to see its own answers to missing credentials.
"""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

import pytest

READY_S = 90.0


class Live:
    """The running sandbox: ``url`` (through the Admin Router), ``direct`` (the scheduler),
    ``api_token``, ``password``, ``host`` (the agent's hostname), ``mint(uid, ...)``."""

    def __init__(self, up):
        self.up, info = up, up.info
        self.direct = info["scheduler_api"]
        self.url = f"{info['dcos_url']}/service/{info['service_name']}"
        self.api_token = info["api_token"]
        self.password = info["admin_password"]
        self.host = info["agents"][0]["hostname"]
        self.mint = up.front.mint
        self._tls = ssl.create_default_context(cafile=info["dcos_ca_path"])
        self._viewer = "token=" + self.mint("viewer")

    def operator(self) -> dict:
        return {"Authorization": "token=" + self.mint("bootstrapuser")}

    def request(self, method, path, body=None, headers=None, raw: bytes | None = None, via="front"):
        """``(status, headers, body bytes)``."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        base = self.direct if via == "direct" else self.url
        if via != "direct":
            hdrs.setdefault("Authorization", self._viewer)
        req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30, context=None if via == "direct" else self._tls) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method, path, body=None, headers=None, via="front"):
        status, hdrs, data = self.request(method, path, body, headers, via=via)
        return status, (json.loads(data) if data.strip() else None)

    def wait_plan(self, status="COMPLETE", timeout=READY_S) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            code, plan = self.json("GET", "/v1/plans/deploy", via="direct")
            if plan and plan.get("status") == status:
                return plan
            if time.monotonic() > deadline:
                raise AssertionError(f"deploy plan not {status} after {timeout} s: {json.dumps(plan)[:3000]}")
            time.sleep(0.3)


@pytest.fixture(scope="package")
def live():
    from dcos_scaleio.sandbox.up import SandboxUp
    with SandboxUp(1, mode="existing", os_choice="ubuntu", dev_executor=True) as up:
        lv = Live(up)
        lv.wait_plan("COMPLETE")
        yield lv
