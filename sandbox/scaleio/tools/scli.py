"""``scli``: the ScaleIO 2.x/3.x MDM command line, acting on the shared simulated system.

Installed by the MDM package only (``/opt/emc/scaleio/mdm/bin/cli``, linked as ``/usr/bin/scli``).
Syntax as the real tool: one command flag (``--add_sds``) plus ``--option value`` / ``--switch`` options
in any order. Reference: scaleio-commands.md section 3.

Behaviour that matters to callers:

- It talks to the MDM on this host (or ``--mdm_ip``): that MDM's service must be running
  (something listening on 9011/6611) and not cut off by the ``mdm_unreachable`` fault, else
  ``Error: Failed to connect to MDM <ip>:6611`` and exit 1.
- Most commands need ``--login`` first. The session is kept per host and Unix user
  (``$HOME/.scli/session``, 0600), as the real tool keeps it; an expired or unknown session gives
  ``Error: MDM failed command.  Status: Invalid session. Please login and try again.``
- Destructive commands (``--unmap_volume_from_sdc``, ``--remove_volume``, ``--modify_spare_policy``) ask
  for confirmation unless ``--i_am_sure`` is given; without a terminal they are aborted (exit 1).
- Refusals print ``Error: MDM failed command.  Status: <text>`` on stderr. Exit codes: 0 success;
  7 command failed (not found, exists, bad credentials, invalid state); 8 ``--query_storage_pool``
  of a missing pool; 1 ``--query_cluster`` without a cluster, connection failures and usage errors.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable

from dcos_scaleio.sandbox.scaleio import hostside, probe, sysview
from dcos_scaleio.sandbox.scaleio.errors import InvalidParameter, InvalidState, NoCluster, NotFound, ScaleIOError
from dcos_scaleio.sandbox.scaleio.records import KB_PER_GB

SESSION_TTL_S = 8 * 3600
VERSION = "R3_0.1000.208"

# Switches (no value). Everything else in OPTIONS takes one value.
SWITCHES = {
    "approve_certificate", "accept_license", "use_nonsecure_communication", "i_am_sure", "force_clean",
    "all_sdcs", "allow_multi_map", "thin_provisioned", "thick_provisioned", "enable_zero_padding",
    "disable_zero_padding", "no_test", "force_device_takeover", "use_rmcache", "dont_use_rmcache",
    "all_objects", "help",
}
OPTIONS = SWITCHES | {
    "mdm_ip", "username", "password", "old_password", "new_password",
    "master_mdm_ip", "master_mdm_management_ip", "master_mdm_name", "cluster_virtual_ip",
    "master_mdm_virtual_ip_interface",
    "new_mdm_ip", "mdm_role", "new_mdm_management_ip", "new_mdm_name", "new_mdm_virtual_ip_interface",
    "new_mdm_port", "remove_mdm_ip", "remove_mdm_name", "remove_mdm_id",
    "cluster_mode", "add_slave_mdm_name", "add_slave_mdm_ip", "add_tb_name", "add_tb_ip",
    "remove_slave_mdm_name", "remove_slave_mdm_ip", "remove_tb_name", "remove_tb_ip",
    "new_name", "protection_domain_name", "protection_domain_id", "storage_pool_name", "storage_pool_id",
    "media_type", "rmcache_write_handling_mode", "data_layout", "spare_percentage",
    "sds_ip", "sds_ip_role", "sds_name", "sds_id", "sds_port", "device_path", "device_name", "device_id",
    "fault_set_name", "test_time",
    "sdc_ip", "sdc_id", "sdc_guid", "sdc_name",
    "volume_name", "volume_id", "size_gb", "new_sdc_name", "restricted_sdc_mode",
    "object_type", "object_id", "object_name", "properties", "preset",
}


class UsageError(Exception):
    pass


class ConnectError(Exception):
    pass


@dataclass
class Ctx:
    host: hostside.Host
    system: object
    opts: dict
    command: str

    def opt(self, name, default=None):
        return self.opts.get(name, default)

    def need(self, *names):
        """The value of the first of ``names`` given; usage error if none is."""
        for name in names:
            if self.opts.get(name) not in (None, True):
                return self.opts[name]
        raise UsageError("Missing parameter: " + " or ".join("--" + n for n in names))

    def flag(self, name) -> bool:
        return self.opts.get(name) is True


# ------------------------------------------------------------------------------------------------
# argument parsing
# ------------------------------------------------------------------------------------------------
def parse(argv: list[str]) -> tuple[str, dict]:
    command, opts = None, {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise UsageError(f"Invalid parameter: {arg}")
        name = arg[2:]
        if name in COMMANDS:
            if command is not None:
                raise UsageError(f"Only one command may be given ({'--' + command}, {arg})")
            command = name
        elif name in SWITCHES:
            opts[name] = True
        elif name in OPTIONS:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise UsageError(f"Missing value for parameter {arg}")
            opts[name] = argv[i + 1]
            i += 1
        else:
            raise UsageError(f"Unknown parameter {arg}")
        i += 1
    if command is None:
        raise UsageError("No command given")
    return command, opts


def split_list(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


# ------------------------------------------------------------------------------------------------
# MDM connection and session
# ------------------------------------------------------------------------------------------------
def target_mdm(ctx: Ctx) -> str:
    """The MDM IP this invocation talks to: ``--mdm_ip`` (first reachable of a list) or this host."""
    # "This host" as the real tool means it: agents share the machine's loopback, so the local MDM
    # listens on the agent's own address rather than on 127.0.0.1.
    candidates = [ctx.host.ip if ip in ("127.0.0.1", "localhost") else ip
                  for ip in split_list(ctx.opt("mdm_ip"))] or [ctx.host.ip]
    for ip in candidates:
        if not probe.valid_ip(ip):
            raise UsageError(f"Invalid IP address: {ip}")
    for ip in candidates:
        if sysview.mdm_unreachable(ctx.system, ip):
            continue
        if probe.tcp_listening(ip, probe.MDM_MGMT_PORT, 2) or probe.tcp_listening(ip, probe.MDM_PORT, 2):
            return ip
    raise ConnectError(f"Error: Failed to connect to MDM {candidates[0]}:{probe.MDM_MGMT_PORT}")


def require_attached(ctx: Ctx, mdm_ip: str):
    """The cluster, if ``mdm_ip`` is an active manager of it; NoCluster otherwise."""
    cluster = ctx.system.cluster()
    member = sysview.member(cluster, mdm_ip) if cluster.created else None
    if member is None or member.status not in ("master", "slave"):
        raise NoCluster()
    return cluster


def session_path(ctx: Ctx) -> str:
    home = os.environ.get("HOME") or "/root"
    return os.path.join(home, ".scli", "session")


def session_kind(ctx: Ctx) -> str:
    return f"scli:{ctx.host.name}:{os.geteuid()}"


def require_session(ctx: Ctx) -> str:
    data = ctx.host.read_json(session_path(ctx)) or {}
    return ctx.system.check_session(session_kind(ctx), data.get("token"))


# ------------------------------------------------------------------------------------------------
# formatting helpers
# ------------------------------------------------------------------------------------------------
def gb(kb: int) -> str:
    value = kb / KB_PER_GB
    return f"{value:.1f} GB" if value != int(value) else f"{int(value)} GB"


def capacity_text(kb: int) -> str:
    return f"{gb(kb)} ({kb // 1024} MB)"


def ip_list_text(ips) -> str:
    return ", ".join(ips) if ips else "N/A"


def pd_of(ctx: Ctx, required=True):
    if ctx.opt("protection_domain_id") or ctx.opt("protection_domain_name"):
        return ctx.system.protection_domain(id=ctx.opt("protection_domain_id"),
                                            name=ctx.opt("protection_domain_name"))
    if required:
        raise UsageError("Missing parameter: --protection_domain_name or --protection_domain_id")
    return None


def pool_of(ctx: Ctx):
    if ctx.opt("storage_pool_id"):
        return ctx.system.storage_pool(id=ctx.opt("storage_pool_id"))
    name = ctx.need("storage_pool_name", "storage_pool_id")
    return ctx.system.storage_pool(name=name, pd_id=ctx.opt("protection_domain_id"),
                                   pd_name=ctx.opt("protection_domain_name"))


def sds_selector(ctx: Ctx) -> dict:
    if not any(ctx.opt(k) for k in ("sds_id", "sds_name", "sds_ip")):
        raise UsageError("Missing parameter: --sds_name, --sds_id or --sds_ip")
    return {"id": ctx.opt("sds_id"), "name": ctx.opt("sds_name"), "ip": ctx.opt("sds_ip")}


def sdc_selector(ctx: Ctx) -> dict:
    if not any(ctx.opt(k) for k in ("sdc_id", "sdc_guid", "sdc_ip", "sdc_name")):
        raise UsageError("Missing parameter: --sdc_ip, --sdc_id, --sdc_guid or --sdc_name")
    return {"id": ctx.opt("sdc_id"), "guid": ctx.opt("sdc_guid"), "ip": ctx.opt("sdc_ip"),
            "name": ctx.opt("sdc_name")}


def volume_selector(ctx: Ctx) -> dict:
    if not any(ctx.opt(k) for k in ("volume_id", "volume_name")):
        raise UsageError("Missing parameter: --volume_name or --volume_id")
    return {"id": ctx.opt("volume_id"), "name": ctx.opt("volume_name")}


def confirm(ctx: Ctx, what: str) -> None:
    """Destructive commands ask for confirmation unless ``--i_am_sure`` is given, as the real tool does.
    Without a terminal there is nobody to answer, so the command is aborted."""
    if ctx.flag("i_am_sure"):
        return
    if sys.stdin is not None and sys.stdin.isatty():
        answer = input(f"{what}. Press 'y' and then Enter to confirm: ")
        if answer.strip().lower() == "y":
            return
    raise UsageError(f"{what}: confirmation required; run again with --i_am_sure")


def sdc_label(sdc) -> str:
    return sdc.name or sdc.ip


# ------------------------------------------------------------------------------------------------
# commands: cluster, login
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# commands: protection domains, storage pools
# ------------------------------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Command:
    run: Callable
    login: bool = True          # needs a valid session
    attached: bool = True       # needs the target MDM to be a cluster manager


COMMANDS = {
    "create_mdm_cluster": Command(cmd_create_mdm_cluster, login=False, attached=False),
    "login": Command(cmd_login, login=False, attached=False),
    "logout": Command(cmd_logout, login=False, attached=False),
    "set_password": Command(cmd_set_password),
    "add_standby_mdm": Command(cmd_add_standby_mdm),
    "remove_standby_mdm": Command(cmd_remove_standby_mdm),
    "switch_cluster_mode": Command(cmd_switch_cluster_mode),
    "rename_system": Command(cmd_rename_system),
    "query_cluster": Command(cmd_query_cluster, login=False, attached=False),
    "query_all": Command(cmd_query_all),
    "add_protection_domain": Command(cmd_add_protection_domain),
    "query_protection_domain": Command(cmd_query_protection_domain),
    "remove_protection_domain": Command(cmd_remove_protection_domain),
    "add_storage_pool": Command(cmd_add_storage_pool),
    "query_storage_pool": Command(cmd_query_storage_pool),
    "remove_storage_pool": Command(cmd_remove_storage_pool),
    "modify_zero_padding_policy": Command(cmd_modify_zero_padding_policy),
    "modify_spare_policy": Command(cmd_modify_spare_policy),
    "add_sds": Command(cmd_add_sds),
    "add_sds_device": Command(cmd_add_sds_device),
    "remove_sds_device": Command(cmd_remove_sds_device),
    "query_all_sds": Command(cmd_query_all_sds),
    "query_sds": Command(cmd_query_sds),
    "remove_sds": Command(cmd_remove_sds),
    "query_all_sdc": Command(cmd_query_all_sdc),
    "add_sdc": Command(cmd_add_sdc),
    "remove_sdc": Command(cmd_remove_sdc),
    "rename_sdc": Command(cmd_rename_sdc),
    "set_restricted_sdc_mode": Command(cmd_set_restricted_sdc_mode),
    "query_properties": Command(cmd_query_properties),
    "add_volume": Command(cmd_add_volume),
    "map_volume_to_sdc": Command(cmd_map_volume_to_sdc),
    "unmap_volume_from_sdc": Command(cmd_unmap_volume_from_sdc),
    "remove_volume": Command(cmd_remove_volume),
    "query_volume": Command(cmd_query_volume),
    "query_all_volumes": Command(cmd_query_all_volumes),
}


def exit_code(command: str, err: ScaleIOError) -> int:
    if command == "query_cluster" and isinstance(err, NoCluster):
        return 1
    if command == "query_storage_pool" and isinstance(err, NotFound):
        return 8
    return err.scli_exit


def run(argv: list[str], host: hostside.Host) -> tuple[int, list[str], list[str]]:
    """Run one scli invocation. Returns (exit code, stdout lines, stderr lines)."""
    if argv in (["--version"], ["--help"]):
        if argv == ["--version"]:
            return 0, [f"EMC ScaleIO Version: {VERSION}"], []
        return 0, ["Usage: scli --<command> [--<parameter> <value> ...]", "Commands:"] + \
            [f"  --{name}" for name in sorted(COMMANDS)], []
    try:
        command, opts = parse(argv)
    except UsageError as exc:
        return 1, [], [f"Error: {exc}", "Run scli --help for the list of commands and parameters"]
    spec = COMMANDS[command]
    try:
        system = sysview.open_system(host, "scli")
    except hostside.HostError as exc:
        return 1, [], [f"Error: {exc}"]
    ctx = Ctx(host, system, opts, command)
    try:
        sysview.apply_slow_command(system, "scli", command)
        mdm_ip = target_mdm(ctx)
        if spec.attached:
            require_attached(ctx, mdm_ip)
        if spec.login:
            require_session(ctx)
        return 0, spec.run(ctx, mdm_ip), []
    except UsageError as exc:
        return 1, [], [f"Error: {exc}"]
    except ConnectError as exc:
        return 1, [], [str(exc)]
    except ScaleIOError as err:
        return exit_code(command, err), [], [err.scli_line]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rc, out, err = run(argv, hostside.Host())
    for line in out:
        print(line)
    sys.stdout.flush()
    for line in err:
        print(line, file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
