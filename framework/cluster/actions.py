"""Idempotent cluster actions: query the real state, act only if needed, verify, return a result.

Every action takes a :class:`~.gateway.Gateway` and an explicit spec (:mod:`.specs`), returns an
:class:`~.specs.ActionResult` and raises a :class:`~.errors.ClusterError` on failure (never reports
a failure as success). Running an action twice applies its effect once: the second run finds the
state in place and returns ``changed=False``.

Ownership: creating actions report ``details["created"]`` and the object's ID; removal actions take
that recorded ID (:class:`~.specs.OwnedObject`) and leave alone anything not created by us. A crash
between a create and its result leaves the next attempt unable to tell who created the object; it
then reports ``created=False`` (the safe side: uninstall will not remove it).
"""
from __future__ import annotations

import time

from .errors import ActionRefused, GatewayUnavailable, OperationPending
from .gateway import Gateway
from .specs import ActionResult, DeviceSpec, OwnedObject, ProtectionDomainSpec, SdsSpec, StoragePoolSpec, VolumeScope

__all__ = ["gateway_reachable", "ensure_protection_domain", "ensure_storage_pool", "register_sds", "add_device",
           "remove_device", "remove_sds", "remove_storage_pool", "remove_protection_domain", "check_no_volumes"]

POLL_S = 0.2
_ENTITY = {"ProtectionDomain": "protection_domain", "StoragePool": "storage_pool", "Sds": "sds",
           "Device": "device", "Volume": "volume"}
_WORDS = {"ProtectionDomain": "protection domain", "StoragePool": "storage pool", "Sds": "SDS",
          "Device": "device", "Volume": "volume"}


# ---------------------------------------------------------------------- lookups
def _list(gw: Gateway, kind: str, **filters) -> list[dict]:
    entity = _ENTITY[kind]
    what = f"list {kind}" + "".join(f" {k}={v}" for k, v in filters.items())
    return gw.call(what, lambda c: getattr(c, entity).get(filter_fields=filters or None))


def _by_id(gw: Gateway, kind: str, oid: str) -> dict | None:
    found = _list(gw, kind, id=oid)
    return found[0] if found else None


def _require_pd(gw: Gateway, name: str) -> dict:
    found = _list(gw, "ProtectionDomain", name=name)
    if not found:
        raise ActionRefused(f"protection domain {name!r} does not exist", operation=f"find protection domain {name}")
    return found[0]


def _ips(sds: dict) -> list[str]:
    return [i.get("ip") for i in sds.get("ipList") or []]


def _wait_gone(gw: Gateway, kind: str, oid: str, wait_s: float, what: str) -> None:
    """Poll until the object is gone; still there after ``wait_s`` -> OperationPending (retry later)."""
    deadline = time.monotonic() + wait_s
    while _by_id(gw, kind, oid) is not None:
        if time.monotonic() >= deadline:
            raise OperationPending(f"{what} is still in progress", operation=what)
        time.sleep(POLL_S)


# ---------------------------------------------------------------------- gateway
def gateway_reachable(gw: Gateway) -> ActionResult:
    """Log in, read the API version and the system: the gateway is usable for the next steps."""
    version = gw.connect()
    systems = gw.call("list System", lambda c: c.system.get())
    if not systems:
        raise GatewayUnavailable("the gateway answers but reports no ScaleIO system (is it configured with the "
                                 "MDM addresses?)", operation="list System")
    s = systems[0]
    mode = (s.get("mdmCluster") or {}).get("clusterMode")
    return ActionResult("gateway-reachable", False, f"gateway reachable, API {version}, system {s.get('id')}",
                        {"api_version": version, "system_id": s.get("id"), "system_name": s.get("name"),
                         "cluster_mode": mode, "endpoint": gw.config.endpoint})


# ---------------------------------------------------------------------- protection domain / pool
def ensure_protection_domain(gw: Gateway, spec: ProtectionDomainSpec) -> ActionResult:
    found = _list(gw, "ProtectionDomain", name=spec.name)
    if found:
        pd = found[0]
        return ActionResult("protection-domain", False, f"protection domain {spec.name} exists (id {pd['id']})",
                            {"protection_domain_id": pd["id"], "name": spec.name, "created": False,
                             "state": pd.get("protectionDomainState")})
    op = f"create protection domain {spec.name}"
    pd = gw.call(op, lambda c: c.protection_domain.create(spec.name))
    if pd.get("name") != spec.name:
        raise ActionRefused(f"the gateway returned {pd.get('name')!r} for the new protection domain", operation=op)
    return ActionResult("protection-domain", True, f"created protection domain {spec.name} (id {pd['id']})",
                        {"protection_domain_id": pd["id"], "name": spec.name, "created": True,
                         "state": pd.get("protectionDomainState")})


def _pool_facts(pool: dict) -> dict:
    return {"storage_pool_id": pool["id"], "name": pool.get("name"), "protection_domain_id": pool.get("protectionDomainId"),
            "media_type": pool.get("mediaType"), "zero_padding": pool.get("zeroPaddingEnabled"),
            "spare_percentage": pool.get("sparePercentage")}


def _policy_differences(spec: StoragePoolSpec, pool: dict) -> list[str]:
    wanted = {"media_type": ("mediaType", spec.media_type), "zero_padding": ("zeroPaddingEnabled", spec.zero_padding),
              "spare_percentage": ("sparePercentage", spec.spare_percentage)}
    return [f"{k}: wanted {w!r}, has {pool.get(field)!r}" for k, (field, w) in wanted.items()
            if w is not None and pool.get(field) != w]


def ensure_storage_pool(gw: Gateway, spec: StoragePoolSpec) -> ActionResult:
    """Find or create the pool. An existing pool is never modified; policy differences are reported
    in ``details["policy_differences"]``. A new pool gets the policies at creation (one request)."""
    pd = _require_pd(gw, spec.protection_domain)
    found = gw.call(f"list StoragePool of {pd['name']}",
                    lambda c: c.protection_domain.get_storage_pools(pd["id"], filter_fields={"name": spec.name}))
    label = f"{spec.protection_domain}/{spec.name}"
    if found:
        pool = found[0]
        diffs = _policy_differences(spec, pool)
        msg = f"storage pool {label} exists (id {pool['id']})" + (f"; left as is: {'; '.join(diffs)}" if diffs else "")
        return ActionResult("storage-pool", False, msg,
                            {**_pool_facts(pool), "created": False, "policy_differences": diffs})
    op = f"create storage pool {label}"
    pool = gw.call(op, lambda c: c.storage_pool.create(
        media_type=spec.media_type, protection_domain_id=pd["id"], name=spec.name,
        zero_padding_enabled=spec.zero_padding, spare_percentage=spec.spare_percentage))
    diffs = _policy_differences(spec, pool)
    if pool.get("name") != spec.name or diffs:
        raise ActionRefused(f"the new storage pool does not match the request: {'; '.join(diffs) or pool.get('name')}",
                            operation=op)
    return ActionResult("storage-pool", True, f"created storage pool {label} (id {pool['id']})",
                        {**_pool_facts(pool), "created": True, "policy_differences": []})


# ---------------------------------------------------------------------- SDS and devices
def _sds_facts(sds: dict) -> dict:
    return {"sds_id": sds["id"], "name": sds.get("name"), "ips": _ips(sds),
            "protection_domain_id": sds.get("protectionDomainId"),
            "connected": sds.get("mdmConnectionState") == "Connected"}


def register_sds(gw: Gateway, spec: SdsSpec) -> ActionResult:
    """Find the SDS by name or IP, else add it (without devices; they are separate steps).

    An SDS with this name but other IPs or another protection domain, or this IP registered under
    another name, is an :class:`ActionRefused` naming the conflict (never silently adopted).
    """
    pd = _require_pd(gw, spec.protection_domain)
    all_sds = _list(gw, "Sds")
    by_name = next((s for s in all_sds if s.get("name") == spec.name), None)
    op = f"register SDS {spec.name} ({spec.ip})"
    if by_name is not None:
        if spec.ip not in _ips(by_name):
            raise ActionRefused(f"an SDS named {spec.name!r} already exists with IPs {', '.join(_ips(by_name))}, "
                                f"not {spec.ip}", operation=op)
        if by_name.get("protectionDomainId") != pd["id"]:
            raise ActionRefused(f"SDS {spec.name!r} belongs to another protection domain "
                                f"(id {by_name.get('protectionDomainId')}), not {spec.protection_domain!r}", operation=op)
        return ActionResult("sds-register", False, f"SDS {spec.name} is registered (id {by_name['id']})",
                            {**_sds_facts(by_name), "created": False})
    by_ip = next((s for s in all_sds if spec.ip in _ips(s)), None)
    if by_ip is not None:
        raise ActionRefused(f"SDS IP {spec.ip} is already in use by SDS {by_ip.get('name')!r} (id {by_ip['id']})",
                            operation=op)
    sds = gw.call(op, lambda c: c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": spec.ip, "role": "all"}],
                                             name=spec.name))
    if sds.get("name") != spec.name or spec.ip not in _ips(sds):
        raise ActionRefused(f"the gateway returned SDS {sds.get('name')!r} with IPs {_ips(sds)}", operation=op)
    return ActionResult("sds-register", True, f"registered SDS {spec.name} (id {sds['id']})",
                        {**_sds_facts(sds), "created": True})


def _device_facts(dev: dict) -> dict:
    return {"device_id": dev["id"], "path": dev.get("deviceCurrentPathName"), "sds_id": dev.get("sdsId"),
            "storage_pool_id": dev.get("storagePoolId"), "capacity_kb": dev.get("maxCapacityInKb")}


def add_device(gw: Gateway, spec: DeviceSpec) -> ActionResult:
    """Add the device to the SDS's pool unless it is already there. Already in another pool, or refused
    by the MDM (carries data, too small, no such disk), is a permanent error with the reason."""
    label = f"{spec.path} of SDS {spec.sds_name}"
    found = _list(gw, "Sds", name=spec.sds_name)
    if not found:
        raise ActionRefused(f"SDS {spec.sds_name!r} is not registered", operation=f"add device {label}")
    sds = found[0]
    # The sds-register step put the SDS in spec.protection_domain (or refused); its devices can only
    # go to pools of its own domain, so the pool is looked up there (one request instead of two).
    pools = _list(gw, "StoragePool", name=spec.storage_pool, protectionDomainId=sds.get("protectionDomainId"))
    if not pools:
        raise ActionRefused(f"storage pool {spec.storage_pool!r} does not exist in the protection domain of SDS "
                            f"{spec.sds_name} (id {sds.get('protectionDomainId')})", operation=f"add device {label}")
    pool = pools[0]

    def on_sds() -> dict | None:
        devs = gw.call(f"list devices of SDS {spec.sds_name}", lambda c: c.sds.get_devices(sds["id"]))
        return next((d for d in devs if spec.path in (d.get("deviceCurrentPathName"),
                                                        d.get("deviceOriginalPathName"))), None)

    dev = on_sds()
    op = f"add device {label} to storage pool {spec.protection_domain}/{spec.storage_pool}"
    if dev is not None:
        if dev.get("storagePoolId") != pool["id"]:
            raise ActionRefused(f"{spec.path} is already added to SDS {spec.sds_name} in another storage pool "
                                f"(id {dev.get('storagePoolId')})", operation=op)
        return ActionResult("device", False, f"device {label} is in pool {spec.storage_pool} (id {dev['id']})",
                            {**_device_facts(dev), "created": False})
    # PyPowerFlex reads the new device back by ID (GET /api/instances/Device::<id>): verify that answer.
    dev = gw.call(op, lambda c: c.device.create(spec.path, sds["id"], storage_pool_id=pool["id"]))
    if (dev.get("sdsId"), dev.get("storagePoolId")) != (sds["id"], pool["id"]) or \
            spec.path not in (dev.get("deviceCurrentPathName"), dev.get("deviceOriginalPathName")):
        raise ActionRefused(f"the gateway accepted {spec.path} but reads back another device", operation=op)
    return ActionResult("device", True, f"added device {label} to pool {spec.storage_pool} (id {dev['id']})",
                        {**_device_facts(dev), "created": True})


# ---------------------------------------------------------------------- removal (uninstall)
def _not_ours(action: str, kind: str, obj: OwnedObject) -> ActionResult:
    return ActionResult(action, False, f"{_WORDS[kind]} {obj.id} was not created by this framework: left in place",
                        {"id": obj.id, "created": False, "removed": False})


def _remove(gw: Gateway, action: str, kind: str, obj: OwnedObject, precheck=None) -> ActionResult:
    """Remove the object with this recorded ID if it is ours and still exists; verify it is gone."""
    if not obj.created:
        return _not_ours(action, kind, obj)
    word = _WORDS[kind]
    current = _by_id(gw, kind, obj.id)
    if current is None:
        return ActionResult(action, False, f"{word} {obj.id} is already gone", {"id": obj.id, "removed": True})
    name = current.get("name") or current.get("deviceCurrentPathName") or obj.id
    op = f"remove {word} {name} (id {obj.id})"
    # A real MDM removes SDSs and devices asynchronously (state RemovePending while data migrates);
    # asking again would be refused, so an earlier attempt's removal is only waited for.
    pending = "RemovePending" in (current.get("sdsState"), current.get("deviceState"))
    if not pending:
        if precheck is not None:
            precheck(current, op)
        gw.call(op, lambda c: getattr(c, _ENTITY[kind]).delete(obj.id))
    _wait_gone(gw, kind, obj.id, obj.wait_s, op)
    return ActionResult(action, True, f"removed {word} {name} (id {obj.id})",
                        {"id": obj.id, "name": name, "removed": True})


def remove_device(gw: Gateway, obj: OwnedObject) -> ActionResult:
    """Remove a device we added; the MDM migrates its data first (refused when it cannot)."""
    return _remove(gw, "device-remove", "Device", obj)


def remove_sds(gw: Gateway, obj: OwnedObject) -> ActionResult:
    """Remove an SDS we registered, after checking that the rest of each of its pools can hold the
    data in use (else :class:`ActionRefused` with the numbers); the MDM migrates the data. Removal
    still running after ``obj.wait_s`` -> :class:`OperationPending` (retry later)."""
    def precheck(sds: dict, op: str) -> None:
        devs = gw.call(f"list devices of SDS {sds.get('name')}", lambda c: c.sds.get_devices(sds["id"]))
        mine: dict[str, int] = {}
        for d in devs:
            mine[d["storagePoolId"]] = mine.get(d["storagePoolId"], 0) + int(d.get("maxCapacityInKb") or 0)
        if not mine:
            return
        stats = gw.call("query storage pool statistics", lambda c: c.storage_pool.query_selected_statistics(
            ["maxCapacityInKb", "capacityInUseInKb"], ids=sorted(mine)))
        pools = {p["id"]: p for p in _list(gw, "StoragePool")}
        for pool_id, kb in sorted(mine.items()):
            st = stats.get(pool_id) or {}
            remaining = int(st.get("maxCapacityInKb") or 0) - kb
            spare = int((pools.get(pool_id) or {}).get("sparePercentage") or 0)
            usable = remaining - remaining * spare // 100
            in_use = int(st.get("capacityInUseInKb") or 0)
            if in_use > usable:
                pname = (pools.get(pool_id) or {}).get("name", pool_id)
                raise ActionRefused(
                    f"the other SDSs of storage pool {pname} cannot hold its data: {in_use // 1048576} GiB in use, "
                    f"{max(usable, 0) // 1048576} GiB usable without this SDS (spare {spare}%)", operation=op)
    return _remove(gw, "sds-remove", "Sds", obj, precheck)


def remove_storage_pool(gw: Gateway, obj: OwnedObject) -> ActionResult:
    return _remove(gw, "storage-pool-remove", "StoragePool", obj)


def remove_protection_domain(gw: Gateway, obj: OwnedObject) -> ActionResult:
    return _remove(gw, "protection-domain-remove", "ProtectionDomain", obj)


def check_no_volumes(gw: Gateway, scope: VolumeScope = VolumeScope()) -> ActionResult:
    """Succeeds only when no volume exists (in the given pools): removing the software would strand them.
    Otherwise :class:`ActionRefused` with the counts and the first names."""
    vols = _list(gw, "Volume")
    if scope.storage_pool_ids:
        vols = [v for v in vols if v.get("storagePoolId") in scope.storage_pool_ids]
    mapped = [v for v in vols if v.get("mappedSdcInfo")]
    details = {"volumes": len(vols), "mapped": len(mapped), "names": sorted(v.get("name") or v["id"] for v in vols)[:20]}
    if vols:
        names = ", ".join(details["names"][:5]) + (", ..." if len(vols) > 5 else "")
        raise ActionRefused(f"{len(vols)} volume(s) exist ({len(mapped)} mapped to SDCs): {names}; "
                            f"remove them before removing the software", operation="check volumes")
    return ActionResult("volumes-check", False, "no volumes exist", details)
