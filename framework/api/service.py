"""The service as a whole: the ScaleIO cluster, endpoints, the framework ID, the effective options.

- ``GET /v1/cluster``: :func:`dcos_scaleio.framework.cluster.cluster_summary` through the
  scheduler's gateway (cached :data:`CLUSTER_CACHE_S`); 503 with the reason when there is no
  gateway yet (bad options, MDMs not chosen) or it cannot be reached.
- ``GET /v1/endpoints`` -> ``["gateway", "mdm"]``; ``GET /v1/endpoints/<name>`` ->
  ``{"address": ["ip:port"], "dns": ["host:port"], ...}`` (the SDK's shape; ``url`` for the
  gateway, ``ips`` for the MDMs); 404 for another name.
- ``GET /v1/state/frameworkId`` -> ``["<id>"]`` or 404 (not registered yet), as the SDK.
- ``GET /v1/config``: the effective options, every secret value as :data:`REDACTED`; 409 with the
  errors when the options are invalid.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
import threading
import time
from urllib.parse import urlsplit

from dcos_scaleio.framework.scheduler.http_api import json_reply

from .common import field_error_json, engine_call, error, handled

__all__ = ["install", "ClusterView", "options_json", "REDACTED", "ENDPOINTS"]

REDACTED = "<redacted>"
CLUSTER_CACHE_S = 2.0
MDM_PORT = 9011
ENDPOINTS = ("gateway", "mdm")
_SECRET_WORDS = ("password", "secret", "token")


def options_json(options) -> dict:
    """Options (frozen dataclasses, or merged options JSON) as JSON with secrets redacted: every
    Secret, and every non-empty string under a key naming a password, secret or token."""
    from dcos_scaleio.options import Secret

    def walk(value, key=""):
        if isinstance(value, Secret):
            return REDACTED if value else ""
        if dataclasses.is_dataclass(value):
            return {f.name: walk(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
        if isinstance(value, Mapping):
            return {str(k): walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, key) for v in value]
        if isinstance(value, str) and value and any(w in key.lower() for w in _SECRET_WORDS):
            return REDACTED
        return value
    return walk(options)


class ClusterView:
    """The cluster summary, fetched through the scheduler's gateway and cached briefly (each
    summary is several gateway requests). :meth:`cached` is what metrics use (never fetches)."""

    def __init__(self, core, context):
        self.core, self.context = core, context
        self._lock = threading.Lock()
        self._last: tuple[float, dict] | None = None

    def cached(self, max_age_s: float = 60.0) -> dict | None:
        last = self._last
        return last[1] if last and time.monotonic() - last[0] < max_age_s else None

    def get(self) -> tuple[int, dict]:
        from dcos_scaleio.framework.cluster import ClusterError, cluster_summary
        if self.context.options is None or self.context.gateway is None:
            return 503, {"message": "the service has no gateway: its options are invalid (see /v1/plans/deploy)"}
        with self._lock:
            hit = self.cached(CLUSTER_CACHE_S)
            if hit is not None:
                return 200, hit
            endpoint = engine_call(self.core, lambda c: c.engine._gateway_endpoint())
            if not endpoint:
                return 503, {"message": "the gateway is not installed yet (its MDM agents are not chosen)"}
            try:
                summary = cluster_summary(self.context.gateway(endpoint))
            except ClusterError as exc:
                return 503, {"message": f"the gateway at {endpoint} cannot be queried: {exc.reason}"}
            self._last = (time.monotonic(), summary)
            return 200, summary


def _endpoints(c) -> dict:
    """On the core thread: {name: SDK endpoint JSON}."""
    eng = c.engine
    if eng.options is None:
        return {name: {"address": [], "dns": []} for name in ENDPOINTS}
    gw = eng._gateway_endpoint()
    gw_json = {"address": [], "dns": [], "url": gw or None}
    if gw:
        parts = urlsplit(gw)
        port = parts.port or 443
        gw_json["address"] = [f"{parts.hostname}:{port}"]
        primary = eng.mdm_slots.get("primary")
        if primary:
            gw_json["dns"] = [f"{primary}:{port}"]
    ips = eng._manager_ips()
    by_ip = {n.info.ip: h for h, n in eng.nodes.items()}
    mdm = {"address": [f"{ip}:{MDM_PORT}" for ip in ips],
           "dns": [f"{by_ip[ip]}:{MDM_PORT}" for ip in ips if ip in by_ip], "ips": list(ips)}
    return {"gateway": gw_json, "mdm": mdm}


def install(api, core, reads, context, view: ClusterView) -> None:
    def cluster(req):
        status, body = view.get()
        return json_reply(status, body)

    def endpoint_names(req):
        return json_reply(200, list(ENDPOINTS))

    def endpoint(req):
        name = req.path[len("/v1/endpoints/"):]
        if name not in ENDPOINTS:
            return error(404, f"unknown endpoint {name[:64]!r} (endpoints: {', '.join(ENDPOINTS)})")
        return json_reply(200, reads.get("endpoints", _endpoints)[name])

    def framework_id(req):
        fid = engine_call(core, lambda c: c.framework_id)
        if not fid:
            return error(404, "the framework is not registered with Mesos yet")
        return json_reply(200, [fid])

    def config(req):
        if context.options is None:
            return json_reply(409, {"message": "the service's options are invalid",
                                    "errors": [field_error_json(e) for e in context.errors]})
        return json_reply(200, options_json(context.merged or context.options))

    api.route("GET", "/v1/cluster", handled(cluster))
    api.route("GET", "/v1/endpoints", handled(endpoint_names))
    api.route_prefix("GET", "/v1/endpoints/", handled(endpoint))
    api.route("GET", "/v1/state/frameworkId", handled(framework_id))
    api.route("GET", "/v1/config", handled(config))

