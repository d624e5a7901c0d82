"""Agent selection, persona assignment and device selection: pure functions of options + agent info.

Personas: an MDM role (primary, secondary, tiebreaker) in provision mode, SDS when the agent
contributes devices (configured, or discovery on), SDC + REX-Ray + isolator on every selected
agent. LIA + gateway run on every MDM agent.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Iterable, Mapping

from ..options import patterns
from .events import AgentInfo

__all__ = ["select", "mdm_slots", "MdmChoice", "choose_mdms", "DeviceSpec", "configured_devices",
           "filter_discovered", "ROLE_PRIMARY", "ROLE_SECONDARY", "ROLE_TIEBREAKER"]

ROLE_PRIMARY, ROLE_SECONDARY, ROLE_TIEBREAKER = "primary", "secondary", "tiebreaker"


def select(options, agent: AgentInfo) -> tuple[bool, str]:
    """(selected, why). Public agents only when asked; every attribute filter must match."""
    ao = options.agents
    if agent.hostname in ao.exclude_hostnames:
        return False, "excluded by agents.exclude_hostnames"
    if agent.public and not ao.include_public:
        return False, "public agent (agents.include_public is off)"
    for flt in ao.attribute_filters:
        name, sep, value = flt.partition(":")
        if name not in agent.attributes:
            return False, f"attribute {name} missing (agents.attribute_filters)"
        if sep and agent.attributes[name] != value:
            return False, f"attribute {name}={agent.attributes[name]!s} is not {value} (agents.attribute_filters)"
    return True, "selected"


def mdm_slots(mdm_count: int) -> tuple[tuple[str, str], ...]:
    """The MDM cluster's slots as (slot name, role): primary, secondaries, then tie-breakers."""
    half = mdm_count // 2
    return ((ROLE_PRIMARY, ROLE_PRIMARY),) \
        + tuple((f"secondary-{i}", ROLE_SECONDARY) for i in range(1, half + 1)) \
        + tuple((f"tiebreaker-{i}", ROLE_TIEBREAKER) for i in range(1, half + 1))


@dataclass(frozen=True, slots=True)
class MdmChoice:
    """Either ``slots`` (slot name -> hostname) or a reason to wait (``waiting``) or an ``error``."""
    slots: Mapping[str, str] | None = None
    waiting: str | None = None
    error: str | None = None


def choose_mdms(options, candidates: Iterable[AgentInfo]) -> MdmChoice:
    """Place the MDM cluster among selected, present, private agents.

    Order of preference: ``scaleio.provision.mdm_hosts`` (all must be present), else the persona
    attribute (exactly the right number of each value), else automatic: most CPUs, then most
    memory, then hostname. Deterministic for the same candidates.
    """
    prov = options.scaleio.provision
    slots = mdm_slots(prov.mdm_count)
    cands = sorted((a for a in candidates if not a.public), key=lambda a: a.hostname)
    by_host = {a.hostname: a for a in cands}
    if prov.mdm_hosts:
        missing = [h for h in prov.mdm_hosts if h not in by_host]
        if missing:
            return MdmChoice(waiting=f"waiting for pinned MDM agents: {', '.join(missing)}")
        return MdmChoice(slots={slot: host for (slot, _), host in zip(slots, prov.mdm_hosts)})
    attr = prov.persona_attribute
    pinned = [a for a in cands if a.attributes.get(attr)]
    if pinned:
        by_role: dict[str, list[str]] = {ROLE_PRIMARY: [], ROLE_SECONDARY: [], ROLE_TIEBREAKER: []}
        for a in pinned:
            role = a.attributes[attr]
            if role not in by_role:
                return MdmChoice(error=f"agent {a.hostname}: attribute {attr}={role} is not primary, secondary or tiebreaker")
            by_role[role].append(a.hostname)
        want = {ROLE_PRIMARY: 1, ROLE_SECONDARY: prov.mdm_count // 2, ROLE_TIEBREAKER: prov.mdm_count // 2}
        for role, hosts in by_role.items():
            if len(hosts) > want[role]:
                return MdmChoice(error=f"{len(hosts)} agents have {attr}={role} ({', '.join(hosts)}); "
                                       f"mdm_count={prov.mdm_count} needs {want[role]}")
        short = [f"{want[r] - len(h)} {r}" for r, h in by_role.items() if len(h) < want[r]]
        if short:
            return MdmChoice(waiting=f"waiting for agents with {attr}: need {', '.join(short)} more")
        queues = {r: list(h) for r, h in by_role.items()}
        return MdmChoice(slots={slot: queues[role].pop(0) for slot, role in slots})
    if len(cands) < prov.mdm_count:
        return MdmChoice(waiting=f"waiting for MDM agents: need {prov.mdm_count}, have {len(cands)}")
    best = sorted(cands, key=lambda a: (-a.cpus, -a.mem, a.hostname))[:prov.mdm_count]
    return MdmChoice(slots={slot: a.hostname for (slot, _), a in zip(slots, best)})


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    path: str
    protection_domain: str
    storage_pool: str
    source: str  # "options", "attributes", "discovery" or "request"


def configured_devices(options, agent: AgentInfo) -> tuple[list[DeviceSpec], dict[str, str]]:
    """Devices an agent contributes by configuration, and refused ones (path -> reason).

    Sources: ``devices.host_devices`` (the entry for the hostname), then (``devices.use_attributes``) the 2017
    framework's attributes ``scaleio-sds-domains=<pd>``, ``scaleio-sds-<pd>=<pool>[,..]`` and
    ``scaleio-sds-<pool>=/dev/a,/dev/b``. Only the configured protection domain is used (an SDS
    belongs to one protection domain); other pools in it are created on demand.
    """
    pd, pool = options.scaleio.protection_domain, options.scaleio.storage_pool
    accepted: dict[str, DeviceSpec] = {}
    refused: dict[str, str] = {}
    for path in options.devices.host_devices.get(agent.hostname, ()):
        accepted.setdefault(path, DeviceSpec(path, pd, pool, "options"))
    if options.devices.use_attributes:
        attrs = agent.attributes
        for domain in _split(attrs.get("scaleio-sds-domains", "")):
            for pool_name in _split(attrs.get(f"scaleio-sds-{domain}", "")):
                for path in _split(attrs.get(f"scaleio-sds-{pool_name}", "")):
                    if path in accepted:
                        continue
                    if not patterns.is_device_path(path):
                        refused[path] = "not a valid block device path under /dev"
                    elif domain != pd:
                        refused[path] = f"protection domain {domain} is not the configured {pd}"
                    elif not patterns.is_scaleio_name(pool_name):
                        refused[path] = f"storage pool name {pool_name!r} is not valid"
                    else:
                        accepted[path] = DeviceSpec(path, pd, pool_name, "attributes")
    return list(accepted.values()), refused


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def filter_discovered(options, disks: Iterable[Mapping]) -> tuple[list[str], dict[str, str]]:
    """Discovered disks (``{"path", "size_gb", "unused"}``) -> (usable paths, refused path -> reason)."""
    disc = options.devices.discovery
    usable, refused = [], {}
    for disk in disks:
        path = disk.get("path", "")
        if not patterns.is_device_path(path):
            refused[str(path)[:64]] = "not a valid block device path under /dev"
            continue
        name = path.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatchcase(name, pat) for pat in disc.deny):
            refused[path] = "matches devices.discovery.deny"
        elif disc.allow and not any(fnmatch.fnmatchcase(name, pat) for pat in disc.allow):
            refused[path] = "does not match devices.discovery.allow"
        elif not disk.get("unused", False):
            refused[path] = "in use (partitions, filesystem or signature)"
        elif float(disk.get("size_gb", 0)) < disc.min_size_gb:
            refused[path] = f"smaller than devices.discovery.min_size_gb ({disc.min_size_gb} GB)"
        else:
            usable.append(path)
    return usable, refused
