"""JSON shapes of the ScaleIO gateway REST API (2.x/3.x, "first generation") for the system's records.

Field names follow the real gateway's objects as the SDKs (PyPowerFlex, goscaleio) read them. Only the
fields with a meaning in the sandbox carry live values; a few constant fields are there because clients
look for them.
"""
from __future__ import annotations

from .records import Capacity, Cluster, Device, Mdm, ProtectionDomain, Sdc, Sds, StoragePool, Volume

API_VERSION = "3.0"
MODE_NAMES = {"1_node": "OneNode", "3_node": "ThreeNodes", "5_node": "FiveNodes"}


def _links(kind: str, oid: str, related=()) -> list[dict]:
    self_href = f"/api/instances/{kind}::{oid}"
    return [{"rel": "self", "href": self_href}] + [
        {"rel": f"/api/{kind}/relationship/{r}", "href": f"{self_href}/relationships/{r}"} for r in related]


def version_name(cluster: Cluster) -> str:
    """``R3_0.1000.208``-style version (PyPowerFlex normalises it to 3.0.1000.208)."""
    major, minor, *rest = cluster.version.split(".")
    return f"R{major}_{minor}." + ".".join(rest)


def mdm(m: Mdm, cluster: Cluster, up: bool = True) -> dict:
    d = {"id": m.id, "name": m.name, "ips": list(m.ips), "port": m.port,
         "role": "Manager" if m.role == "manager" else "TieBreaker", "status": "Normal" if up else "Disconnected",
         "versionInfo": version_name(cluster), "opensslVersion": "N/A", "virtualInterfaces": []}
    if m.role == "manager":
        d["managementIPs"] = list(m.management_ips)
    return d


def mdm_cluster(cluster: Cluster, down: frozenset = frozenset()) -> dict:
    """``down``: ids of members whose MDM service does not answer (the cluster is then degraded)."""
    active = cluster.active_members
    good = [m for m in active if m.id not in down]
    if cluster.mode == "1_node":
        state = "NotClustered"
    else:
        state = "ClusteredNormal" if len(good) == len(active) else "ClusteredDegraded"
    return {
        "id": cluster.system_id, "name": cluster.system_name,
        "clusterState": state,
        "clusterMode": MODE_NAMES.get(cluster.mode, "OneNode"),
        "goodNodesNum": len(good),
        "goodReplicasNum": sum(1 for m in good if m.role == "manager"),
        "master": mdm(cluster.master, cluster, cluster.master.id not in down) if cluster.master else None,
        "slaves": [mdm(m, cluster, m.id not in down) for m in cluster.slaves],
        "tieBreakers": [mdm(m, cluster, m.id not in down) for m in cluster.tie_breakers],
        "standbyMDMs": [mdm(m, cluster, m.id not in down) for m in cluster.standbys],
    }


def system(cluster: Cluster, down: frozenset = frozenset()) -> dict:
    managers = [cluster.master] + list(cluster.slaves) if cluster.master else []
    return {
        "id": cluster.system_id, "name": cluster.system_name,
        "systemVersionName": f"EMC ScaleIO Version: {version_name(cluster)}",
        "installId": cluster.install_id, "mdmManagementPort": 6611,
        "mdmClusterState": mdm_cluster(cluster, down)["clusterState"],
        "mdmMode": "Cluster" if cluster.mode != "1_node" else "SingleNode",
        "restrictedSdcModeEnabled": cluster.restricted_sdc_mode,
        "primaryMdmActorIpList": list(cluster.master.ips) if cluster.master else [],
        "secondaryMdmActorIpList": [ip for m in cluster.slaves for ip in m.ips],
        "tiebreakerMdmIpList": [ip for m in cluster.tie_breakers for ip in m.ips],
        "mdmManagementIpList": [ip for m in managers for ip in m.management_ips],
        "mdmCluster": mdm_cluster(cluster, down),
        "links": _links("System", cluster.system_id,
                        ("Statistics", "ProtectionDomain", "Sdc", "User")),
    }


def protection_domain(pd: ProtectionDomain, system_id: str) -> dict:
    return {"id": pd.id, "name": pd.name, "protectionDomainState": pd.state, "systemId": system_id,
            "rebuildNetworkThrottlingEnabled": False, "rebalanceNetworkThrottlingEnabled": False,
            "links": _links("ProtectionDomain", pd.id, ("Statistics", "StoragePool", "Sds", "FaultSet"))}


def storage_pool(sp: StoragePool) -> dict:
    return {"id": sp.id, "name": sp.name, "protectionDomainId": sp.protection_domain_id,
            "mediaType": sp.media_type, "zeroPaddingEnabled": sp.zero_padding,
            "sparePercentage": sp.spare_percentage, "useRmcache": False, "useRfcache": False,
            "rebuildEnabled": True, "rebalanceEnabled": True, "checksumEnabled": False,
            "dataLayout": "MediumGranularity", "rmcacheWriteHandlingMode": "Cached",
            "links": _links("StoragePool", sp.id, ("Statistics", "Device", "Volume", "SpSds"))}


def sds(s: Sds, connected: bool) -> dict:
    return {"id": s.id, "name": s.name, "protectionDomainId": s.protection_domain_id,
            "ipList": [{"ip": i.ip, "role": i.role} for i in s.ips], "port": s.port,
            "sdsState": "Normal", "membershipState": "Joined",
            "mdmConnectionState": "Connected" if connected else "Disconnected",
            "drlMode": "Volatile", "faultSetId": None, "rmcacheEnabled": False, "rfcacheEnabled": False,
            "links": _links("Sds", s.id, ("Statistics", "Device"))}


def device(d: Device, media_type: str = "HDD") -> dict:
    return {"id": d.id, "name": d.name, "deviceCurrentPathName": d.path, "deviceOriginalPathName": d.path,
            "sdsId": d.sds_id, "storagePoolId": d.storage_pool_id, "capacityLimitInKb": d.size_kb,
            "maxCapacityInKb": d.size_kb, "deviceState": "Normal", "errorState": "None",
            "mediaType": media_type, "links": _links("Device", d.id, ("Statistics",))}


def sdc(c: Sdc, system_id: str) -> dict:
    return {"id": c.id, "name": c.name, "sdcGuid": c.guid, "sdcIp": c.ip, "sdcApproved": c.approved,
            "mdmConnectionState": "Connected" if c.connected else "Disconnected", "systemId": system_id,
            "osType": "Linux", "versionInfo": "R3_0.1000.208", "perfProfile": "Default",
            "links": _links("Sdc", c.id, ("Statistics", "Volume"))}


def volume(v: Volume, sdcs_by_id: dict[str, Sdc]) -> dict:
    mapped = [{"sdcId": sid, "sdcIp": sdcs_by_id[sid].ip if sid in sdcs_by_id else None,
               "limitIops": 0, "limitBwInMbps": 0} for sid in v.mapped_sdc_ids]
    return {"id": v.id, "name": v.name, "sizeInKb": v.size_kb, "storagePoolId": v.storage_pool_id,
            "volumeType": "ThinProvisioned" if v.thin else "ThickProvisioned",
            "mappedSdcInfo": mapped or None, "mappingToAllSdcsEnabled": False,
            "creationTime": int(v.created), "vtreeId": v.id[:8] + "ffff" + v.id[12:], "useRmcache": False,
            "ancestorVolumeId": None, "consistencyGroupId": None, "isObfuscated": False,
            "links": _links("Volume", v.id, ("Statistics", "Sdc"))}


def statistics(cap: Capacity, *, thin_kb: int = 0, extra: dict | None = None) -> dict:
    """Capacity statistics as ``/relationships/Statistics`` returns them (KB)."""
    d = {"capacityInUseInKb": cap.in_use_kb, "maxCapacityInKb": cap.total_kb,
         "capacityLimitInKb": cap.total_kb, "spareCapacityInKb": cap.spare_kb,
         "unusedCapacityInKb": cap.unused_kb,
         "capacityAvailableForVolumeAllocationInKb": cap.free_for_volumes_kb,
         "thickCapacityInUseInKb": cap.in_use_kb - 2 * thin_kb, "thinCapacityInUseInKb": 2 * thin_kb,
         "thinCapacityAllocatedInKm": thin_kb, "numOfDevices": cap.num_devices,
         "numOfVolumes": cap.num_volumes}
    if extra:
        d.update(extra)
    return d
