"""A read-only summary of the ScaleIO system as the gateway reports it (for ``GET /v1/cluster``).

Shape (JSON-able; capacities in KiB as the gateway reports them)::

    {"system": {"id", "name", "version", "mode": "3_node", "cluster_state", "restricted_sdc_mode"} | None,
     "mdms": [{"name", "id", "role": "master|slave|tiebreaker|standby", "ips", "management_ips", "status"}],
     "protection_domains": [{"id", "name", "state", "sds": N,
                             "storage_pools": [{"id", "name", "media_type", "zero_padding", "spare_percentage",
                                                "capacity": {"total_kb", "in_use_kb", "spare_kb",
                                                             "available_for_volumes_kb", "devices", "volumes"}}]}],
     "sds": {"total", "connected", "disconnected": [names]},
     "sdc": {"total", "connected", "disconnected": [ips]},
     "volumes": {"total", "mapped"},
     "capacity": {"total_kb", "in_use_kb", "spare_kb", "available_for_volumes_kb"},
     "health": {"status": "HEALTHY" | "DEGRADED" | "UNHEALTHY", "problems": [str]}}

Seven gateway requests; nothing is changed. Failures raise :class:`~.errors.ClusterError`.
"""
from __future__ import annotations

from .gateway import Gateway

__all__ = ["cluster_summary", "POOL_STATISTICS"]

MODES = {"OneNode": "1_node", "ThreeNodes": "3_node", "FiveNodes": "5_node"}
POOL_STATISTICS = ["maxCapacityInKb", "capacityInUseInKb", "spareCapacityInKb",
                   "capacityAvailableForVolumeAllocationInKb", "numOfDevices", "numOfVolumes"]
_CAPACITY_KEYS = {"total_kb": "maxCapacityInKb", "in_use_kb": "capacityInUseInKb", "spare_kb": "spareCapacityInKb",
                  "available_for_volumes_kb": "capacityAvailableForVolumeAllocationInKb"}


def _mdms(cluster: dict) -> list[dict]:
    out = []
    roles = (("master", [cluster.get("master")] if cluster.get("master") else []),
             ("slave", cluster.get("slaves") or []), ("tiebreaker", cluster.get("tieBreakers") or []),
             ("standby", cluster.get("standbyMDMs") or []))
    for role, members in roles:
        for m in members:
            out.append({"name": m.get("name"), "id": m.get("id"), "role": role, "ips": list(m.get("ips") or []),
                        "management_ips": list(m.get("managementIPs") or []), "status": m.get("status")})
    return out


def _capacity(st: dict) -> dict:
    cap = {k: int(st.get(v) or 0) for k, v in _CAPACITY_KEYS.items()}
    cap.update(devices=int(st.get("numOfDevices") or 0), volumes=int(st.get("numOfVolumes") or 0))
    return cap


def cluster_summary(gw: Gateway) -> dict:
    systems = gw.call("list System", lambda c: c.system.get())
    if not systems:
        return {"system": None, "mdms": [], "protection_domains": [], "sds": {"total": 0, "connected": 0,
                "disconnected": []}, "sdc": {"total": 0, "connected": 0, "disconnected": []},
                "volumes": {"total": 0, "mapped": 0}, "capacity": _capacity({}),
                "health": {"status": "UNHEALTHY", "problems": ["the gateway reports no ScaleIO system"]}}
    s = systems[0]
    cluster = s.get("mdmCluster") or gw.call("query MDM cluster", lambda c: c.system.get_mdm_cluster_details())
    pds = gw.call("list ProtectionDomain", lambda c: c.protection_domain.get())
    pools = gw.call("list StoragePool", lambda c: c.storage_pool.get())
    stats = gw.call("query storage pool statistics", lambda c: c.storage_pool.query_selected_statistics(
        POOL_STATISTICS, ids=[p["id"] for p in pools])) if pools else {}
    sds = gw.call("list Sds", lambda c: c.sds.get())
    sdcs = gw.call("list Sdc", lambda c: c.sdc.get())
    vols = gw.call("list Volume", lambda c: c.volume.get())

    mode = MODES.get(cluster.get("clusterMode"), cluster.get("clusterMode"))
    mdms = _mdms(cluster)
    domains = []
    for pd in pds:
        pd_pools = [{"id": p["id"], "name": p.get("name"), "media_type": p.get("mediaType"),
                     "zero_padding": p.get("zeroPaddingEnabled"), "spare_percentage": p.get("sparePercentage"),
                     "capacity": _capacity(stats.get(p["id"]) or {})}
                    for p in pools if p.get("protectionDomainId") == pd["id"]]
        domains.append({"id": pd["id"], "name": pd.get("name"), "state": pd.get("protectionDomainState"),
                        "sds": sum(1 for x in sds if x.get("protectionDomainId") == pd["id"]),
                        "storage_pools": pd_pools})
    sds_down = sorted(x.get("name") or x["id"] for x in sds if x.get("mdmConnectionState") != "Connected")
    sdc_down = sorted(x.get("sdcIp") or x["id"] for x in sdcs if x.get("mdmConnectionState") != "Connected")
    total = {k: sum(p["capacity"][k] for d in domains for p in d["storage_pools"]) for k in _CAPACITY_KEYS}

    problems = []
    if mode != "1_node" and cluster.get("clusterState") not in (None, "ClusteredNormal"):
        problems.append(f"MDM cluster state is {cluster.get('clusterState')}")
    problems += [f"MDM {m['name'] or m['id']} ({m['role']}) is {m['status']}" for m in mdms
                 if m["status"] not in (None, "Normal")]
    if sds_down:
        problems.append(f"{len(sds_down)} SDS disconnected: {', '.join(sds_down[:10])}")
    if sdc_down:
        problems.append(f"{len(sdc_down)} SDC disconnected: {', '.join(sdc_down[:10])}")
    return {
        "system": {"id": s.get("id"), "name": s.get("name"), "version": s.get("systemVersionName"), "mode": mode,
                   "cluster_state": cluster.get("clusterState"),
                   "restricted_sdc_mode": s.get("restrictedSdcModeEnabled")},
        "mdms": mdms,
        "protection_domains": domains,
        "sds": {"total": len(sds), "connected": len(sds) - len(sds_down), "disconnected": sds_down},
        "sdc": {"total": len(sdcs), "connected": len(sdcs) - len(sdc_down), "disconnected": sdc_down},
        "volumes": {"total": len(vols), "mapped": sum(1 for v in vols if v.get("mappedSdcInfo"))},
        "capacity": total,
        "health": {"status": "DEGRADED" if problems else "HEALTHY", "problems": problems},
    }
