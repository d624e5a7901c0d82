"""``scli`` commands of the MDM cluster: create, login/logout, password, standby MDMs, mode, name,
``--query_cluster``, ``--query_all``."""
from __future__ import annotations

from dcos_scaleio.sandbox.scaleio import probe, sysview
from dcos_scaleio.sandbox.scaleio.errors import InvalidParameter, InvalidState, ScaleIOError
from dcos_scaleio.sandbox.scaleio.tools.scli_core import (SESSION_TTL_S, VERSION, ConnectError, Ctx, UsageError,
                                                          capacity_text, ip_list_text, require_attached,
                                                          require_session, session_kind, session_path,
                                                          split_list)


def cmd_create_mdm_cluster(ctx: Ctx, mdm_ip: str):
    if not ctx.flag("accept_license"):
        raise UsageError("The license must be accepted: add --accept_license")
    master_ip = ctx.need("master_mdm_ip")
    if sysview.mdm_unreachable(ctx.system, master_ip):
        raise ConnectError(f"Error: Failed to connect to MDM {master_ip}:{probe.MDM_PORT}")
    cluster = ctx.system.create_cluster(master_ip, master_management_ip=ctx.opt("master_mdm_management_ip"),
                                        master_name=ctx.opt("master_mdm_name"))
    return [f"Successfully created the MDM Cluster. Master MDM ID: 0x{cluster.master.id}"]


def cmd_login(ctx: Ctx, mdm_ip: str):
    user = ctx.need("username")
    password = ctx.need("password")
    require_attached(ctx, mdm_ip)
    result = ctx.system.login(user, password)
    token = ctx.system.open_session(session_kind(ctx), user, ttl_s=SESSION_TTL_S)
    ctx.host.write_json(session_path(ctx), {"token": token, "mdm_ip": mdm_ip, "user": user}, 0o600)
    return [f"Logged in. User role is SuperUser. System ID is {result.system_id}"]


def cmd_logout(ctx: Ctx, mdm_ip: str):
    data = ctx.host.read_json(session_path(ctx)) or {}
    ctx.system.close_session(session_kind(ctx), data.get("token"))
    try:
        ctx.host.path(session_path(ctx)).unlink()
    except FileNotFoundError:
        pass
    return ["Logged out"]


def cmd_set_password(ctx: Ctx, mdm_ip: str):
    user = require_session(ctx)
    ctx.system.set_password(ctx.opt("username") or user, ctx.need("old_password"), ctx.need("new_password"))
    return ["Password changed successfully"]


def cmd_add_standby_mdm(ctx: Ctx, mdm_ip: str):
    role = ctx.need("mdm_role")
    if role not in ("manager", "tb"):
        raise InvalidParameter(f"Invalid MDM role: {role}")
    new_ip = ctx.need("new_mdm_ip")
    mgmt = ctx.opt("new_mdm_management_ip")
    if role == "tb" and mgmt:
        raise InvalidParameter("A tie-breaker has no management IP")
    port = int(ctx.opt("new_mdm_port", probe.MDM_PORT))
    if sysview.mdm_unreachable(ctx.system, new_ip):
        raise ScaleIOError(f"Could not connect to the MDM at {new_ip}:{port}")
    from dcos_scaleio.sandbox.scaleio.daemons import ask
    reply = ask(split_list(new_ip)[0], port, {"op": "ping"}) or {}
    installed = reply.get("role")
    if installed and installed != role:
        kind = {"manager": "a manager", "tb": "a tie-breaker"}
        raise InvalidState(f"The MDM at {new_ip} was installed as {kind[installed]} "
                           f"(actor_role_is_manager); it cannot be added with role {role}")
    mdm = ctx.system.add_standby_mdm(split_list(new_ip)[0], role=role, management_ip=mgmt,
                                     name=ctx.opt("new_mdm_name"), port=port)
    return [f"Successfully added a standby MDM. Object ID 0x{mdm.id}"]


def cmd_remove_standby_mdm(ctx: Ctx, mdm_ip: str):
    if not any(ctx.opt(k) for k in ("remove_mdm_ip", "remove_mdm_name", "remove_mdm_id")):
        raise UsageError("Missing parameter: --remove_mdm_ip, --remove_mdm_name or --remove_mdm_id")
    ctx.system.remove_standby_mdm(id=(ctx.opt("remove_mdm_id") or "").removeprefix("0x") or None,
                                  name=ctx.opt("remove_mdm_name"), ip=ctx.opt("remove_mdm_ip"))
    return ["Successfully removed the standby MDM"]


def cmd_switch_cluster_mode(ctx: Ctx, mdm_ip: str):
    mode = ctx.need("cluster_mode")

    def refs(*names):
        return [r for n in names for r in split_list(ctx.opt(n))]

    ctx.system.switch_cluster_mode(
        mode, add_slaves=refs("add_slave_mdm_name", "add_slave_mdm_ip"), add_tbs=refs("add_tb_name", "add_tb_ip"),
        remove_slaves=refs("remove_slave_mdm_name", "remove_slave_mdm_ip"),
        remove_tbs=refs("remove_tb_name", "remove_tb_ip"))
    return ["Successfully switched the cluster mode."]


def cmd_rename_system(ctx: Ctx, mdm_ip: str):
    name = ctx.need("new_name")
    ctx.system.rename_system(name)
    return [f"Successfully renamed system to {name}"]


def _member_lines(m, version: str, *, with_status: bool, up: bool = True) -> list[str]:
    lines = [f"    Name: {m.name}, ID: 0x{m.id}"]
    if m.role == "tb":
        lines.append(f"        IPs: {ip_list_text(m.ips)}, Port: {m.port}")
    else:
        lines.append(f"        IPs: {ip_list_text(m.ips)}, Management IPs: {ip_list_text(m.management_ips)}, "
                     f"Port: {m.port}, Virtual IP interfaces: N/A")
    status = "Normal" if up else "Disconnected"
    lines.append(f"        Status: {status}, Version: {version}" if with_status
                 else f"        Version: {version}")
    return lines


def member_up(ctx: Ctx, m) -> bool:
    """Whether a member's MDM service answers (what the cluster's Active count reflects)."""
    return any(not sysview.mdm_unreachable(ctx.system, ip) and probe.tcp_listening(ip, m.port, 1)
               for ip in m.ips)


def cmd_query_cluster(ctx: Ctx, mdm_ip: str):
    cluster = require_attached(ctx, mdm_ip)
    active = cluster.active_members
    up = {m.id: member_up(ctx, m) for m in active}
    replicas = 1 + len(cluster.slaves)
    live_replicas = sum(1 for m in active if m.role == "manager" and up[m.id])
    state = "Normal" if all(up.values()) else "Degraded"
    head = f"Name: {cluster.system_name}, " if cluster.system_name else ""
    lines = ["Cluster:",
             f"    {head}ID: {cluster.system_id}, Mode: {cluster.mode}, State: {state}, "
             f"Active: {sum(up.values())}/{len(active)}, Replicas: {live_replicas}/{replicas}",
             "    Virtual IPs: N/A",
             "Master MDM:"]
    lines += _member_lines(cluster.master, cluster.version, with_status=False)
    for title, members in (("Slave MDMs:", cluster.slaves), ("Tie-Breakers:", cluster.tie_breakers)):
        if members:
            lines.append(title)
            for m in members:
                lines += _member_lines(m, cluster.version, with_status=True, up=up[m.id])
    if cluster.standbys:
        lines.append("Standby MDMs:")
        for m in cluster.standbys:
            kind = "Manager" if m.role == "manager" else "Tie Breaker"
            lines.append(f"    Name: {m.name}, ID: 0x{m.id}, {kind}")
            lines.append(f"        IPs: {ip_list_text(m.ips)}, Port: {m.port}")
    return lines


def cmd_query_all(ctx: Ctx, mdm_ip: str):
    cluster = require_attached(ctx, mdm_ip)
    cap = ctx.system.system_capacity()
    return ["System Info:",
            f"\tProduct:  EMC ScaleIO Version: {VERSION}",
            f"\tID:      {cluster.system_id}",
            f"\tName:    {cluster.system_name or 'N/A'}",
            f"System ID: {cluster.system_id}",
            f"Installation ID: {cluster.install_id}",
            f"Protection Domains: {len(ctx.system.protection_domains())}",
            f"SDS nodes: {len(ctx.system.sds_list())}",
            f"Volumes: {cap.num_volumes}",
            f"Capacity: {capacity_text(cap.total_kb)} total, {capacity_text(cap.in_use_kb)} in use"]
