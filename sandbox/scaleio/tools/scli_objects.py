"""``scli`` commands on the system's objects: protection domains, storage pools, SDSs and devices, SDCs,
volumes and their mappings, and the parse-friendly ``--query_properties``."""
from __future__ import annotations

from dcos_scaleio.sandbox.scaleio import probe
from dcos_scaleio.sandbox.scaleio.errors import InvalidParameter
from dcos_scaleio.sandbox.scaleio.tools.scli_core import (Ctx, UsageError, capacity_text, confirm, gb, pd_of,
                                                          pool_of, sdc_label, sdc_selector, sds_selector,
                                                          split_list, volume_selector)


def cmd_add_protection_domain(ctx: Ctx, mdm_ip: str):
    pd = ctx.system.add_protection_domain(ctx.need("protection_domain_name"))
    return [f"Successfully created protection domain {pd.name}. Object ID {pd.id}"]


def cmd_query_protection_domain(ctx: Ctx, mdm_ip: str):
    pd = pd_of(ctx)
    pools = ctx.system.storage_pools(protection_domain_id=pd.id)
    sdss = ctx.system.sds_list(protection_domain_id=pd.id)
    cap = ctx.system.system_capacity(pd_id=pd.id)
    lines = [f"Protection Domain {pd.id} (Name: {pd.name})",
             f"Protection Domain state: {pd.state}",
             f"{len(pools)} Storage Pools:"]
    lines += [f"\tStorage Pool {p.name} (Id: {p.id})" for p in pools]
    lines += [f"{len(sdss)} SDS nodes", f"{cap.num_volumes} volumes",
              f"{capacity_text(cap.total_kb)} total capacity"]
    return lines


def cmd_remove_protection_domain(ctx: Ctx, mdm_ip: str):
    pd = pd_of(ctx)
    ctx.system.remove_protection_domain(id=pd.id)
    return [f"Successfully removed protection domain {pd.name}"]


def cmd_add_storage_pool(ctx: Ctx, mdm_ip: str):
    pd = pd_of(ctx)
    media = (ctx.opt("media_type") or "HDD").upper()
    pool = ctx.system.add_storage_pool(ctx.need("storage_pool_name"), pd_id=pd.id, media_type=media)
    return [f"Successfully created a storage pool {pool.name}. Object ID {pool.id}"]


def cmd_query_storage_pool(ctx: Ctx, mdm_ip: str):
    pool = pool_of(ctx)
    pd = ctx.system.protection_domain(id=pool.protection_domain_id)
    cap = ctx.system.pool_capacity(id=pool.id)
    return [f"Storage Pool {pool.name} (Id: {pool.id}) has {cap.num_volumes} volumes and "
            f"{capacity_text(cap.free_for_volumes_kb)} available for volume allocation",
            f"\tProtection Domain: {pd.id} (Name: {pd.name})",
            f"\tMedia type: {pool.media_type}",
            f"\tZero padding is {'enabled' if pool.zero_padding else 'disabled'}",
            f"\tSpare policy: {pool.spare_percentage}% of total",
            "\tUses RAM Read Cache",
            f"\t{capacity_text(cap.total_kb)} total capacity",
            f"\t{capacity_text(cap.unused_kb)} unused capacity",
            f"\t{capacity_text(cap.in_use_kb)} in-use capacity",
            f"\t{capacity_text(cap.spare_kb)} spare capacity",
            f"\t{cap.num_devices} devices"]


def cmd_remove_storage_pool(ctx: Ctx, mdm_ip: str):
    pool = pool_of(ctx)
    ctx.system.remove_storage_pool(id=pool.id)
    return [f"Successfully removed storage pool {pool.name}"]


def cmd_modify_zero_padding_policy(ctx: Ctx, mdm_ip: str):
    if ctx.flag("enable_zero_padding") == ctx.flag("disable_zero_padding"):
        raise UsageError("Give exactly one of --enable_zero_padding and --disable_zero_padding")
    pool = pool_of(ctx)
    ctx.system.set_zero_padding(ctx.flag("enable_zero_padding"), id=pool.id)
    return ["Successfully modified zero padding policy"]


def cmd_modify_spare_policy(ctx: Ctx, mdm_ip: str):
    pool = pool_of(ctx)
    confirm(ctx, "Changing the spare policy may start a data rebalance")
    try:
        pct = int(ctx.need("spare_percentage"))
    except ValueError:
        raise InvalidParameter(f"Invalid spare percentage: {ctx.opt('spare_percentage')}") from None
    ctx.system.set_spare_percentage(pct, id=pool.id)
    return ["Successfully modified spare policy"]


# ------------------------------------------------------------------------------------------------
# commands: SDS and devices
# ------------------------------------------------------------------------------------------------
def cmd_add_sds(ctx: Ctx, mdm_ip: str):
    ips = split_list(ctx.need("sds_ip"))
    roles = split_list(ctx.opt("sds_ip_role"))
    if roles and len(roles) != len(ips):
        raise UsageError("--sds_ip_role needs one role per IP in --sds_ip")
    pairs = [(ip, roles[i] if roles else "all") for i, ip in enumerate(ips)]
    pd = pd_of(ctx)
    paths = split_list(ctx.opt("device_path"))
    names = split_list(ctx.opt("device_name"))
    pools = split_list(ctx.opt("storage_pool_name"))
    if paths and not pools:
        raise UsageError("--device_path needs --storage_pool_name")
    if names and len(names) != len(paths):
        raise UsageError("--device_name needs one name per --device_path")
    if len(pools) not in (0, 1, len(paths)):
        raise UsageError("--storage_pool_name needs one pool, or one per --device_path")
    devices = [{"path": p, "pool_name": pools[i] if len(pools) > 1 else pools[0],
                "name": names[i] if names else None} for i, p in enumerate(paths)]
    port = int(ctx.opt("sds_port", probe.SDS_PORT))
    sds = ctx.system.add_sds(pairs, pd_id=pd.id, name=ctx.opt("sds_name"), port=port, devices=devices,
                             force_device_takeover=ctx.flag("force_device_takeover"))
    return [f"Successfully created SDS {sds.name}. Object ID {sds.id}"]


def cmd_add_sds_device(ctx: Ctx, mdm_ip: str):
    sel = sds_selector(ctx)
    path = ctx.need("device_path")
    pool_id = ctx.opt("storage_pool_id")
    pool_name = None if pool_id else ctx.need("storage_pool_name", "storage_pool_id")
    sds = ctx.system.sds(**sel)
    dev = ctx.system.add_device(path, sds_id=sds.id, pool_id=pool_id, pool_name=pool_name,
                                name=ctx.opt("device_name"), force=ctx.flag("force_device_takeover"))
    return [f"Successfully added device {dev.path} to SDS {sds.name}. Object ID {dev.id}"]


def cmd_remove_sds_device(ctx: Ctx, mdm_ip: str):
    if ctx.opt("device_id"):
        dev = ctx.system.device(id=ctx.opt("device_id"))
        ctx.system.remove_device(id=dev.id)
        return [f"Successfully removed device {dev.path}"]
    sel = sds_selector(ctx)
    sds = ctx.system.sds(**sel)
    if not (ctx.opt("device_path") or ctx.opt("device_name")):
        raise UsageError("Missing parameter: --device_path, --device_name or --device_id")
    dev = ctx.system.device(sds_id=sds.id, path=ctx.opt("device_path"), name=ctx.opt("device_name"))
    ctx.system.remove_device(id=dev.id)
    return [f"Successfully removed device {dev.path} from SDS {sds.name}"]


def _sds_line(ctx: Ctx, sds) -> str:
    state = "Connected" if ctx.system.sds_connected(sds) else "Disconnected"
    return (f"SDS ID: {sds.id} Name: {sds.name} State: {state}, Joined IP: {sds.ip_list[0]} "
            f"Port: {sds.port} Version: {ctx.system.cluster().version}")


def cmd_query_all_sds(ctx: Ctx, mdm_ip: str):
    sdss = ctx.system.sds_list()
    lines = [f"Query-all-SDS returned {len(sdss)} SDS nodes."]
    for pd in ctx.system.protection_domains():
        members = [s for s in sdss if s.protection_domain_id == pd.id]
        if members:
            lines += ["", f"Protection Domain {pd.id} Name: {pd.name}"]
            lines += [_sds_line(ctx, s) for s in members]
    return lines


def cmd_query_sds(ctx: Ctx, mdm_ip: str):
    sds = ctx.system.sds(**sds_selector(ctx))
    pd = ctx.system.protection_domain(id=sds.protection_domain_id)
    devices = ctx.system.devices(sds_id=sds.id)
    pools = {p.id: p for p in ctx.system.storage_pools()}
    state = "Connected" if ctx.system.sds_connected(sds) else "Disconnected"
    roles = {"all": "All (SDS and SDC)", "sdc_only": "SDC Only", "sds_only": "SDS Only"}
    lines = [f"SDS {sds.id} Name: {sds.name}",
             f"Protection Domain: {pd.id}, Name: {pd.name}",
             "DRL mode: Volatile",
             f"SDS state: {state}",
             f"IP information (total {len(sds.ips)} IPs):"]
    lines += [f"\t {i}: {x.ip} \tRole: {roles.get(x.role, x.role)}" for i, x in enumerate(sds.ips, 1)]
    lines += [f"Port: {sds.port}", f"Device information (total {len(devices)} devices):"]
    for i, d in enumerate(devices, 1):
        pool = pools.get(d.storage_pool_id)
        lines.append(f"\t {i}: Name: {d.name or 'N/A'}  Path: {d.path}  Original-path: {d.path}  ID: {d.id}")
        lines.append(f"\t\tStorage Pool: {pool.name if pool else d.storage_pool_id}, "
                     f"Capacity: {gb(d.size_kb)}, State: Normal")
    return lines


def cmd_remove_sds(ctx: Ctx, mdm_ip: str):
    sds = ctx.system.sds(**sds_selector(ctx))
    ctx.system.remove_sds(id=sds.id)
    return [f"Sent remove command to SDS {sds.name}. Data migration completed; the SDS was removed"]


# ------------------------------------------------------------------------------------------------
# commands: SDCs
# ------------------------------------------------------------------------------------------------
def cmd_query_all_sdc(ctx: Ctx, mdm_ip: str):
    cluster = ctx.system.cluster()
    sdcs = ctx.system.sdcs()
    lines = [f"MDM restricted SDC mode: {'Enabled' if cluster.restricted_sdc_mode else 'Disabled'}",
             f"Query all SDC returned {len(sdcs)} SDC nodes."]
    for s in sdcs:
        lines.append(f"SDC ID: {s.id} Name: {s.name or 'N/A'} IP: {s.ip} "
                     f"State: {'Connected' if s.connected else 'Disconnected'} GUID: {s.guid} "
                     f"Approved: {'yes' if s.approved else 'no'} Loaded Version: {cluster.version}")
    return lines


def cmd_add_sdc(ctx: Ctx, mdm_ip: str):
    sdc = ctx.system.approve_sdc(guid=ctx.opt("sdc_guid"), ip=ctx.opt("sdc_ip"), name=ctx.opt("sdc_name"))
    return [f"Successfully approved SDC {sdc_label(sdc)}. Object ID {sdc.id}"]


def cmd_rename_sdc(ctx: Ctx, mdm_ip: str):
    sdc = ctx.system.sdc(**sdc_selector(ctx))
    name = ctx.need("new_name", "new_sdc_name")
    ctx.system.rename_sdc(name, id=sdc.id)
    return [f"Successfully renamed SDC {sdc.ip} to {name}"]


def cmd_set_restricted_sdc_mode(ctx: Ctx, mdm_ip: str):
    mode = ctx.need("restricted_sdc_mode").lower()
    if mode not in ("enabled", "disabled"):
        raise UsageError("--restricted_sdc_mode must be enabled or disabled")
    ctx.system.set_restricted_sdc_mode(mode == "enabled")
    return [f"Successfully set restricted SDC mode to {mode}"]


def cmd_remove_sdc(ctx: Ctx, mdm_ip: str):
    sdc = ctx.system.sdc(**sdc_selector(ctx))
    ctx.system.remove_sdc(id=sdc.id)
    return [f"Successfully removed SDC {sdc_label(sdc)}"]


# ------------------------------------------------------------------------------------------------
# commands: volumes
# ------------------------------------------------------------------------------------------------
def cmd_add_volume(ctx: Ctx, mdm_ip: str):
    name = ctx.need("volume_name")
    raw = ctx.need("size_gb")
    try:
        size = float(raw)
    except ValueError:
        raise InvalidParameter(f"Invalid volume size: {raw}") from None
    if ctx.flag("thin_provisioned") and ctx.flag("thick_provisioned"):
        raise UsageError("Give at most one of --thin_provisioned and --thick_provisioned")
    pool = pool_of(ctx)
    vol = ctx.system.add_volume(name, size, pool_id=pool.id, thin=not ctx.flag("thick_provisioned"))
    lines = []
    if vol.size_gb != size:
        lines.append(f"Rounding up the volume size to {vol.size_gb} GB")
    lines.append(f"Successfully created volume of size {vol.size_gb} GB. Object ID {vol.id}")
    return lines


def cmd_map_volume_to_sdc(ctx: Ctx, mdm_ip: str):
    vol = ctx.system.volume(**volume_selector(ctx))
    sdc = ctx.system.sdc(**sdc_selector(ctx))
    ctx.system.map_volume(volume_id=vol.id, sdc_id=sdc.id, allow_multiple_mappings=ctx.flag("allow_multi_map"))
    return [f"Successfully mapped volume {vol.name} to SDC {sdc_label(sdc)}"]


def cmd_unmap_volume_from_sdc(ctx: Ctx, mdm_ip: str):
    vol = ctx.system.volume(**volume_selector(ctx))
    confirm(ctx, f"Un-mapping volume {vol.name} may cause data loss on the SDC")
    if ctx.flag("all_sdcs"):
        ctx.system.unmap_volume(volume_id=vol.id, all_sdcs=True)
        return [f"Successfully un-mapped volume {vol.name} from all SDCs"]
    sdc = ctx.system.sdc(**sdc_selector(ctx))
    ctx.system.unmap_volume(volume_id=vol.id, sdc_id=sdc.id)
    return [f"Successfully un-mapped volume {vol.name} from SDC {sdc_label(sdc)}"]


def cmd_remove_volume(ctx: Ctx, mdm_ip: str):
    vol = ctx.system.volume(**volume_selector(ctx))
    confirm(ctx, f"All data on volume {vol.name} will be lost")
    ctx.system.remove_volume(id=vol.id)
    return [f"Successfully removed volume {vol.name}"]


def _volume_lines(ctx: Ctx, vol, pools, pds, sdcs) -> list[str]:
    pool = pools.get(vol.storage_pool_id)
    pd = pds.get(pool.protection_domain_id) if pool else None
    lines = [f">> Volume ID: {vol.id} Name: {vol.name}",
             f"\tProvisioning: {'Thin' if vol.thin else 'Thick'}",
             f"\tSize: {vol.size_gb}.0 GB ({vol.size_kb // 1024} MB)",
             f"\tStorage Pool {vol.storage_pool_id} Name: {pool.name if pool else 'N/A'}",
             f"\tProtection Domain {pd.id if pd else 'N/A'} Name: {pd.name if pd else 'N/A'}"]
    if vol.mapped_sdc_ids:
        lines.append("\tMapped SDCs:")
        for sid in vol.mapped_sdc_ids:
            s = sdcs.get(sid)
            lines.append(f"\t\tSDC ID: {sid} IP: {s.ip if s else 'N/A'} Name: {(s.name if s else None) or 'N/A'}")
    else:
        lines.append("\tVolume is not mapped to any SDC")
    return lines


def _lookups(ctx: Ctx):
    return ({p.id: p for p in ctx.system.storage_pools()}, {d.id: d for d in ctx.system.protection_domains()},
            {s.id: s for s in ctx.system.sdcs()})


def cmd_query_volume(ctx: Ctx, mdm_ip: str):
    vol = ctx.system.volume(**volume_selector(ctx))
    return _volume_lines(ctx, vol, *_lookups(ctx))


def cmd_query_all_volumes(ctx: Ctx, mdm_ip: str):
    vols = ctx.system.volumes()
    lookups = _lookups(ctx)
    lines = [f"Query-all-volumes returned {len(vols)} volumes"]
    for v in vols:
        lines += _volume_lines(ctx, v, *lookups)
    return lines


# ------------------------------------------------------------------------------------------------
# --query_properties: the parse-friendly listing (swisscom's provider reads it)
# ------------------------------------------------------------------------------------------------
def _properties_of(ctx: Ctx, kind: str) -> list[tuple[str, dict]]:
    s = ctx.system
    cluster = s.cluster()
    if kind == "SYSTEM":
        return [(cluster.system_id, {"ID": cluster.system_id, "NAME": cluster.system_name or "N/A",
                                     "MDM_CLUSTER_MODE": cluster.mode, "INSTALLATION_ID": cluster.install_id,
                                     "VERSION": cluster.version})]
    if kind == "MDM":
        return [(m.id, {"ID": m.id, "NAME": m.name, "IPS": ",".join(m.ips),
                        "MGMT_IPS": ",".join(m.management_ips) or "N/A", "PORT": m.port,
                        "ROLE": "MDM_ROLE_MANAGER" if m.role == "manager" else "MDM_ROLE_TIE_BREAKER",
                        "IS_STANDBY": "Yes" if m.status == "standby" else "No",
                        "STATUS": m.status.upper()}) for m in cluster.members]
    if kind == "PROTECTION_DOMAIN":
        return [(p.id, {"ID": p.id, "NAME": p.name, "STATE": p.state}) for p in s.protection_domains()]
    if kind == "STORAGE_POOL":
        return [(p.id, {"ID": p.id, "NAME": p.name, "PROTECTION_DOMAIN_ID": p.protection_domain_id,
                        "MEDIA_TYPE": p.media_type, "ZERO_PADDING_ENABLED": "Yes" if p.zero_padding else "No",
                        "SPARE_PERCENT": p.spare_percentage}) for p in s.storage_pools()]
    if kind == "SDS":
        devices = s.devices()
        return [(x.id, {"ID": x.id, "NAME": x.name, "IPS": ",".join(x.ip_list),
                        "PROTECTION_DOMAIN_ID": x.protection_domain_id, "PORT": x.port,
                        "DEVICE_ID_LIST": ",".join(d.id for d in devices if d.sds_id == x.id) or "N/A"})
                for x in s.sds_list()]
    if kind == "DEVICE":
        return [(d.id, {"ID": d.id, "NAME": d.name or "N/A", "SDS_ID": d.sds_id, "ORIGINAL_PATH": d.path,
                        "CURRENT_PATH": d.path, "STORAGE_POOL_ID": d.storage_pool_id,
                        "CAPACITY_LIMIT": d.size_kb}) for d in s.devices()]
    if kind == "SDC":
        return [(c.id, {"ID": c.id, "NAME": c.name or "N/A", "IP": c.ip, "GUID": c.guid,
                        "STATE": "Connected" if c.connected else "Disconnected",
                        "APPROVED": "Yes" if c.approved else "No"}) for c in s.sdcs()]
    if kind == "VOLUME":
        return [(v.id, {"ID": v.id, "NAME": v.name, "SIZE": v.size_kb, "STORAGE_POOL_ID": v.storage_pool_id,
                        "TYPE": "THIN_PROVISIONED" if v.thin else "THICK_PROVISIONED",
                        "MAPPED_SDC_ID_LIST": ",".join(v.mapped_sdc_ids) or "N/A"}) for v in s.volumes()]
    raise InvalidParameter(f"Invalid object type: {kind}")


def cmd_query_properties(ctx: Ctx, mdm_ip: str):
    kind = ctx.need("object_type").upper()
    objects = _properties_of(ctx, kind)
    if not ctx.flag("all_objects"):
        wanted_id, wanted_name = ctx.opt("object_id"), ctx.opt("object_name")
        if not (wanted_id or wanted_name):
            raise UsageError("Missing parameter: --all_objects, --object_id or --object_name")
        objects = [(oid, props) for oid, props in objects
                   if oid == wanted_id or (wanted_name and props.get("NAME") == wanted_name)]
    # --properties A,B,...; otherwise (--preset ALL) every property
    names = [p.upper() for p in split_list(ctx.opt("properties"))] or None
    if not objects:
        return ["No objects returned"]
    lines = []
    for oid, props in objects:
        unknown = [n for n in names or () if n not in props]
        if unknown:
            raise InvalidParameter(f"Invalid property for {kind}: {unknown[0]}")
        lines.append(f"{kind} {oid}:")
        lines += [f"\t{name:<50} {props[name]}" for name in (names or props)]
    return lines
