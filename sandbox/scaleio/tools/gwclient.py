"""A small ScaleIO gateway REST client speaking the calls REX-Ray's goscaleio makes.

One ``requests.Session`` (keep-alive), one login: ``GET /api/login`` with basic auth returns a quoted
token; later calls send basic auth with an empty user and the token as password; on 401 it logs in
again once (expired token), as goscaleio does. Errors raise :class:`GatewayError` carrying the
gateway's ``message``.
"""
from __future__ import annotations

import requests


class GatewayError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class GatewayClient:
    def __init__(self, endpoint: str, user: str, password: str, *, verify=True, timeout: float = 60):
        self.base = endpoint.rstrip("/")
        self.user, self.password = user, password
        self.timeout = timeout
        self.session = requests.Session()
        # Passed on every call: a Session's own ``verify`` loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify = verify
        self.token = None

    def close(self) -> None:
        self.session.close()

    def login(self) -> None:
        try:
            resp = self.session.get(f"{self.base}/login", auth=(self.user, self.password), timeout=self.timeout,
                                    verify=self.verify)
        except requests.RequestException as exc:
            raise GatewayError(f"cannot reach the gateway: {exc}") from None
        if resp.status_code != 200:
            raise GatewayError(_message(resp), resp.status_code)
        try:
            self.token = resp.json()
        except ValueError:
            raise GatewayError("the gateway returned no token") from None

    def request(self, method: str, path: str, body: dict | None = None):
        if self.token is None:
            self.login()
        for attempt in (1, 2):
            try:
                resp = self.session.request(method, f"{self.base}{path}", json=body, auth=("", self.token),
                                            timeout=self.timeout, verify=self.verify)
            except requests.RequestException as exc:
                raise GatewayError(f"cannot reach the gateway: {exc}") from None
            if resp.status_code == 401 and attempt == 1:
                self.login()
                continue
            if resp.status_code >= 300:
                raise GatewayError(_message(resp), resp.status_code)
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                return None
        raise GatewayError("unauthorized", 401)

    # -- the calls the driver needs -----------------------------------------------------------
    def instances(self, kind: str) -> list[dict]:
        return self.request("GET", f"/types/{kind}/instances") or []

    def instance(self, kind: str, oid: str) -> dict:
        return self.request("GET", f"/instances/{kind}::{oid}")

    def action(self, kind: str, oid: str, action: str, body: dict) -> None:
        self.request("POST", f"/instances/{kind}::{oid}/action/{action}", body)

    def create_volume(self, pool_id: str, size_gb: int, name: str, thin: bool) -> dict:
        created = self.request("POST", "/types/Volume/instances", {
            "storagePoolId": pool_id, "volumeSizeInKb": str(int(size_gb) * 1024 * 1024), "name": name,
            "volumeType": "ThinProvisioned" if thin else "ThickProvisioned"})
        return self.instance("Volume", created["id"])


def _message(resp) -> str:
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except ValueError:
        pass
    return f"HTTP {resp.status_code} {resp.reason}"
