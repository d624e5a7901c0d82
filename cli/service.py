"""The operator API of one installed service, reached at ``<dcos_url>/service/<name>/v1/...``.

Thin: each method is one call and returns the decoded JSON (exactly what the API sent, for
``--json``). A 404 is interpreted once, here: when the service's own ``GET /v1/plans`` is also 404
the Admin Router does not know the service (NOT_INSTALLED); otherwise the named thing is unknown
(NOT_FOUND: node, plan, phase, step, endpoint).
"""
from __future__ import annotations

import urllib.parse

from . import errors
from .errors import CliError

# CLI verb -> operator API command (the SDK's names on the wire).
PLAN_COMMANDS = {"start": "start", "stop": "stop", "pause": "interrupt", "resume": "continue",
                 "force-restart": "restart", "force-complete": "forceComplete"}
PLAN_STATUS_CODES = (200, 202, 417)   # complete, in progress, errors (the SDK's GET /v1/plans/<p>)


class ServiceApi:
    def __init__(self, http, config, name: str | None = None):
        self.http = http
        self.config = config
        self.name = config.service_name(name)
        self.base = config.service_url(name)

    def url(self, path: str, **query) -> str:
        query = {k: v for k, v in query.items() if v is not None}
        return self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")

    def _call(self, method: str, path: str, *, ok=(200,), what: str = "", json=None, **query):
        resp = self.http.request(method, self.url(path, **query), json=json)
        if resp.status == 404:
            raise self._not_found(resp, what)
        self.http.check(resp, ok)
        return resp

    def _not_found(self, resp, what: str) -> CliError:
        if not self.installed():
            return CliError(errors.NOT_INSTALLED, f"the service '{self.name}' is not installed "
                                                  f"(no {self.base})",
                            "Install it with `dcos scaleio install`, or name another with --name=<service>.")
        message = resp.message()
        if what and what.lower() not in message.lower():
            message = f"{what}: {message}"
        return CliError(errors.NOT_FOUND, message)

    def installed(self) -> bool:
        """Whether the Admin Router routes to the service (its plan list answers)."""
        resp = self.http.request("GET", self.url("/v1/plans"))
        if resp.status == 404:
            return False
        if resp.status in (401, 403, 502, 503, 504):
            raise self.http.error_for(resp)
        return True

    # ------------------------------------------------------------------ reads
    def plans(self) -> list:
        return self._call("GET", "/v1/plans").json()

    def plan(self, plan: str = "deploy"):
        """``(http_status, plan_json)``: 200 COMPLETE, 202 in progress, 417 errors."""
        resp = self._call("GET", f"/v1/plans/{_seg(plan)}", ok=PLAN_STATUS_CODES, what=f"unknown plan '{plan}'")
        return resp.status, resp.json()

    def nodes(self) -> list:
        return self._call("GET", "/v1/nodes").json()

    def node(self, host: str) -> dict:
        return self._call("GET", f"/v1/nodes/{_seg(host)}", what=f"unknown node '{host}'").json()

    def endpoints(self) -> list:
        return self._call("GET", "/v1/endpoints").json()

    def endpoint(self, name: str) -> dict:
        return self._call("GET", f"/v1/endpoints/{_seg(name)}", what=f"unknown endpoint '{name}'").json()

    def preview(self, options: dict | None = None):
        """``GET /v1/preview`` (current options) or ``POST`` with options; validation errors are data here."""
        if options is None:
            return self._call("GET", "/v1/preview", ok=(200, 400, 422)).json()
        return self._call("POST", "/v1/preview", json=options, ok=(200, 400, 422)).json()

    # ------------------------------------------------------------------ writes
    def plan_command(self, verb: str, plan: str, phase: str | None = None, step: str | None = None) -> dict:
        command = PLAN_COMMANDS[verb]
        what = f"unknown plan '{plan}'" + (f", phase '{phase}'" if phase else "") + (f" or step '{step}'" if step else "")
        return self._call("POST", f"/v1/plans/{_seg(plan)}/{command}", what=what, phase=phase, step=step).json()

    def add_devices(self, host: str, devices: list[str], pool: str | None = None) -> dict:
        body = {"devices": list(devices)}
        if pool:
            body["pool"] = pool
        return self._call("POST", f"/v1/nodes/{_seg(host)}/devices", json=body, ok=(200, 202),
                          what=f"unknown node '{host}'").json()


def _seg(value: str) -> str:
    """One URL path segment (a node name with '/' must not walk the API)."""
    return urllib.parse.quote(value, safe="")
