"""Shared pieces of ``scli``: options, the invocation context, MDM connection and session, selectors
and output formatting. The commands live in :mod:`.scli_cluster` and :mod:`.scli_objects`; parsing and
dispatch in :mod:`.scli`."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from dcos_scaleio.sandbox.scaleio import hostside, probe, sysview
from dcos_scaleio.sandbox.scaleio.errors import NoCluster
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
