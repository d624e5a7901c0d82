"""What the engine tells the executor (host steps) and the scheduler (cluster actions) to do a step:
a mixin of :class:`~dcos_scaleio.plan.engine.Engine`. Secrets never appear here."""
from __future__ import annotations

from ..options import OS_FAMILIES
from . import agents as agentsel
from . import uninstall as uninstall_plan
from .model import Node, Step

__all__ = ["ParamsMixin", "PACKAGES", "MESOS_PACKAGES", "sds_name"]


# Packages each host action installs, per OS family (flavour "mesos" adds rexray/dvdcli).
PACKAGES = {"mdm": ("mdm",), "gateway": ("lia", "gateway"), "sds": ("sds",), "sdc": ("sdc",)}
MESOS_PACKAGES = {"rexray": ("rexray",), "dvdi": ("dvdcli",)}

def sds_name(hostname: str) -> str:
    """A ScaleIO SDS name (<= 31 characters, [A-Za-z0-9_.-]) derived from the hostname: the short
    name of a DNS hostname, or the whole address of an IP hostname (DC/OS agents are named by IP, and
    the first octet alone would give every agent the same name)."""
    parts = hostname.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        short = "-".join(parts)
    else:
        short = parts[0]
    return ("sds-" + short)[:31]


class ParamsMixin:
    """Parameters of LaunchHostStep (for the executor) and RunClusterAction (for the scheduler)."""

    def _manager_ips(self) -> list[str]:
        o = self.options
        if not o.scaleio.provisioning:
            return list(o.scaleio.existing.mdm_ips)
        return [self.nodes[h].info.ip for s, h in self.mdm_slots.items() if not s.startswith("tiebreaker")]

    def _gateway_endpoint(self) -> str:
        # Cached: asked for by every cluster action; depends only on options and the primary's IP.
        primary = self.mdm_slots.get("primary")
        ip = self.nodes[primary].info.ip if primary else None
        cached = self._gw_cache
        if cached is None or cached[0] != ip:
            cached = self._gw_cache = (ip, self._compute_gateway_endpoint())
        return cached[1]

    def _compute_gateway_endpoint(self) -> str:
        o = self.options
        if not o.scaleio.provisioning:
            return o.scaleio.existing.gateway_endpoint.rstrip("/")
        primary = self.mdm_slots.get("primary")
        return f"https://{self.nodes[primary].info.ip}:{o.scaleio.gateway.port}" if primary else ""

    def _host_params(self, step: Step, node: Node) -> dict:
        o = self.options
        p = {"action": step.action, "hostname": node.hostname, "os_family": node.os_family,
             "scaleio_version": o.scaleio.version, "flavour": o.agents.flavour}
        comps = PACKAGES.get(step.action, ()) + (MESOS_PACKAGES.get(step.action, ())
                                                  if o.agents.flavour == "mesos" else ())
        if node.os_family in OS_FAMILIES and comps:
            p["packages"] = {c: {"url": a.url, "sha256": a.sha256}
                             for c in comps if (a := o.artifacts.package(node.os_family, c))}
        action = step.action
        if action in ("mdm", "gateway"):
            p["role"] = step.params["role"]
            p["manager"] = step.params["role"] != agentsel.ROLE_TIEBREAKER
        if action == "cluster-create":
            slots = self.mdm_slots
            ip = lambda s: self.nodes[slots[s]].info.ip  # noqa: E731
            p.update(primary_ip=ip("primary"), cluster_mode=f"{o.scaleio.provision.mdm_count}_node",
                     system_name=o.scaleio.system_name,
                     standby_managers=[{"name": slots[s], "ip": ip(s)} for s in slots if s.startswith("secondary")],
                     tiebreakers=[{"name": slots[s], "ip": ip(s)} for s in slots if s.startswith("tiebreaker")])
        if action in ("gateway", "sdc"):
            p["mdm_ips"] = self._manager_ips()
        if action == "sdc":
            p["allow_reboot"] = o.agents.allow_reboot
        if action == "gateway":
            p["port"] = o.scaleio.gateway.port
        if action == "rexray":
            rx = o.rexray
            p.update(gateway_endpoint=self._gateway_endpoint(), system_name=o.scaleio.system_name,
                     system_id=o.scaleio.existing.system_id, protection_domain=o.scaleio.protection_domain,
                     storage_pool=o.scaleio.storage_pool, version=rx.version, tls_verify=o.scaleio.gateway.tls_verify,
                     thin_provisioning=rx.thin_provisioning, mount_preempt=rx.mount_preempt,
                     ignore_used_count=rx.ignore_used_count, log_level=rx.log_level)
        if action == "dvdi":
            module = o.isolator.module_for(node.info.mesos_version)
            p.update(isolator="dvdi" if module else "native",
                     module={"url": module.url, "sha256": module.sha256} if module else None,
                     mesos_version=node.info.mesos_version, allow_restart=o.agents.allow_restart,
                     docker_volume_checkpoint_dir=o.isolator.docker_volume_checkpoint_dir)
        if action in ("uninstall-mdm", "uninstall-gateway"):
            p["role"] = step.params["role"]
        if action == "uninstall-dvdi":
            p["allow_restart"] = o.agents.allow_restart
        if action == "uninstall-sds":
            p["wipe_devices"] = list(step.params.get("wipe_devices", ()))
        if action == "deps":
            p["discover_disks"] = o.devices.discovery.enabled and node.sds
            p["mdm"] = bool(node.mdm_slot)
        return p

    def _cluster_params(self, step: Step) -> dict:
        p = dict(step.params)
        p["gateway_endpoint"] = self._gateway_endpoint()
        if self.uninstall:
            p.update(uninstall_plan.owned_params(self, step))
        if step.host:
            node = self.nodes[step.host]
            p.update(hostname=node.hostname, agent_id=node.info.agent_id, ip=node.info.ip,
                     sds_name=sds_name(node.hostname), protection_domain=self.options.scaleio.protection_domain)
            if step.stage == "verify":
                p["verify"] = step.action
        return p

