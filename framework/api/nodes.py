"""Nodes (one per agent the engine knows) and add-device.

- ``GET /v1/nodes`` -> list of node JSON (:func:`dcos_scaleio.plan.node_json`); ``GET /v1/nodes/<host>``
  -> one, 404 when unknown.
- ``POST /v1/nodes/<host>/devices`` ``{"devices": ["/dev/sdb", ...], "pool": "optional"}``
  (authenticated) -> 202 ``{"node", "devices", "pool", "steps": [step JSON per device]}``.
  All or nothing: the body, every path (:func:`dcos_scaleio.options.patterns.is_device_path`) and
  the pool (``is_scaleio_name``) are checked before the engine is touched; then, on the core
  thread, the node (404), uninstalling (409) and devices already added to another pool (409) are
  checked for every device before any is requested. A device already requested with the same
  pool is answered the same 202 and nothing is added twice. Any 4xx changes nothing.
"""
from __future__ import annotations

from urllib.parse import unquote

from dcos_scaleio.framework.scheduler.http_api import json_reply
from dcos_scaleio.options import patterns
from dcos_scaleio.plan import DeviceRequested, RequestRejected, node_json, nodes_json, step_json

from .common import BadRequest, engine_call, error, guarded, handled, json_body

__all__ = ["install", "parse_device_request", "MAX_DEVICES"]

PREFIX = "/v1/nodes/"
MAX_DEVICES = 64
_FIELDS = ("devices", "pool")


def parse_device_request(body) -> tuple[list[str], str | None]:
    """``(paths without duplicates, pool or None)`` of an add-device body; :class:`BadRequest` naming
    the field otherwise."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object {"devices": [...], "pool": ...}', field="(body)")
    unknown = sorted(k for k in body if k not in _FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} (allowed: devices, pool)", field=str(unknown[0])[:64])
    devices = body.get("devices")
    if not isinstance(devices, list) or not devices:
        raise BadRequest("devices must be a non-empty list of device paths", field="devices")
    if len(devices) > MAX_DEVICES:
        raise BadRequest(f"at most {MAX_DEVICES} devices per request", field="devices")
    paths: list[str] = []
    for i, path in enumerate(devices):
        if not patterns.is_device_path(path):
            raise BadRequest("must be a block device path under /dev (letters, digits, _ . - / only)",
                             field=f"devices[{i}]")
        if path not in paths:
            paths.append(path)
    pool = body.get("pool")
    if pool is not None and not patterns.is_scaleio_name(pool):
        raise BadRequest("must be a ScaleIO storage pool name (1-31 of A-Z a-z 0-9 _ . -)", field="pool")
    return paths, pool


def install(api, core, reads, authenticator, clock) -> None:
    def list_nodes(req):
        return json_reply(200, reads.get("nodes", lambda c: nodes_json(c.engine)))

    def one_node(req):
        parts = req.path[len(PREFIX):].split("/")
        if len(parts) != 1 or not parts[0]:
            return error(404, f"no such endpoint: GET {req.path}")
        host = unquote(parts[0])
        # Known names first: the read cache must not grow with every name a client makes up.
        if host not in reads.get("node-names", lambda c: list(c.engine.nodes)):
            return error(404, f"unknown node {host!r}")
        return json_reply(200, reads.get("node:" + host, lambda c: node_json(c.engine, host)))

    def add_devices(req):
        parts = req.path[len(PREFIX):].split("/")
        if len(parts) != 2 or not parts[0] or parts[1] != "devices":
            return error(404, f"no such endpoint: POST {req.path}")
        host = unquote(parts[0])
        paths, pool = parse_device_request(json_body(req))
        now = clock()

        def apply(c):
            eng = c.engine
            node = eng.nodes.get(host)
            if node is None:
                raise RequestRejected("node", f"unknown node {host!r}", 404)
            if eng.uninstall:
                raise RequestRejected("node", "the service is uninstalling", 409)
            wanted = pool or eng.options.scaleio.storage_pool
            for path in paths:
                existing = node.devices.get(path)
                if existing is not None and existing.storage_pool != wanted:
                    raise RequestRejected("devices", f"{path} is already added to pool {existing.storage_pool}", 409)
            c.apply(*(DeviceRequested(now, host, path, pool) for path in paths))
            return {"node": host, "devices": paths, "pool": wanted,
                    "steps": [step_json(eng, eng.device_step(host, p)) for p in paths]}
        try:
            result = engine_call(core, apply)
        except RequestRejected as exc:
            return error(exc.status, exc.message, field=exc.field)
        return json_reply(202, result)

    api.route("GET", "/v1/nodes", handled(list_nodes))
    api.route_prefix("GET", PREFIX, handled(one_node))
    api.route_prefix("POST", PREFIX, guarded(authenticator, add_devices))
