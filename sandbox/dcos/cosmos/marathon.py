"""The Marathon REST calls Cosmos makes (``/v2/apps``, ``/v2/deployments``), over HTTP.

Errors from Marathon become :class:`CosmosError`: 409 on create -> ``PackageAlreadyInstalled`` is the
caller's business (it knows the package); anything else unexpected -> 502 ``MarathonBadResponse``
with the upstream status; unreachable -> 503 ``ServiceUnavailable``.
"""
from __future__ import annotations

import requests

from .errors import CosmosError

__all__ = ["MarathonClient", "normalize_app_id", "READ_ONLY_FIELDS"]

# Fields Marathon adds to an app it returns that are not part of an AppDefinition one may PUT.
READ_ONLY_FIELDS = frozenset({
    "tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments",
    "readinessCheckResults", "lastTaskFailure", "taskStats", "version", "versionInfo"})


def normalize_app_id(app_id: str) -> str:
    """``scaleio`` and ``/scaleio/`` are both ``/scaleio`` (Marathon's absolute form)."""
    return "/" + str(app_id).strip("/")


class MarathonClient:
    def __init__(self, base_url: str, timeout: float = 15.0, headers: dict | None = None, verify=True):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.verify = verify

    def _call(self, method: str, path: str, ok=(200, 201), **kw) -> requests.Response:
        try:
            r = requests.request(method, self.base_url + path, timeout=self.timeout, headers=self.headers,
                                 verify=self.verify, **kw)
        except requests.RequestException as exc:
            raise CosmosError(503, "ServiceUnavailable",
                              f"Unable to complete request due to downstream service [marathon] unavailability "
                              f"({type(exc).__name__})", {"serviceName": "marathon"}) from None
        if r.status_code not in ok:
            raise CosmosError(502, "MarathonBadResponse",
                              f"Received response status code {r.status_code} from Marathon for {method} {path}",
                              {"upstreamStatus": r.status_code, "upstreamBody": r.text[:500]})
        return r

    @staticmethod
    def _path(app_id: str) -> str:
        return "/v2/apps" + normalize_app_id(app_id)

    def apps(self) -> list[dict]:
        return self._call("GET", "/v2/apps", params={"embed": "apps.tasks"}).json().get("apps", [])

    def app(self, app_id: str) -> dict | None:
        r = self._call("GET", self._path(app_id), ok=(200, 404), params={"embed": "app.tasks"})
        return None if r.status_code == 404 else r.json().get("app")

    def create(self, app: dict) -> dict | None:
        """POST the app; None when Marathon says it exists (409)."""
        r = self._call("POST", "/v2/apps", ok=(200, 201, 409), json=app)
        return None if r.status_code == 409 else r.json()

    def update(self, app: dict, force: bool = True) -> str:
        """PUT the whole app definition; the deployment ID."""
        body = {k: v for k, v in app.items() if k not in READ_ONLY_FIELDS}
        r = self._call("PUT", self._path(app["id"]), params={"force": "true"} if force else None, json=body)
        return r.json().get("deploymentId", "")

    def delete(self, app_id: str, force: bool = True) -> bool:
        """DELETE the app; False when it was already gone."""
        r = self._call("DELETE", self._path(app_id), ok=(200, 202, 404),
                       params={"force": "true"} if force else None)
        return r.status_code != 404

    def deployment_ids(self) -> set[str]:
        return {d.get("id") for d in self._call("GET", "/v2/deployments").json()}
