"""Immutable records the simulated ScaleIO system returns. Plain data: no behaviour, no DB handles."""
from __future__ import annotations

from dataclasses import dataclass, field

KB_PER_GB = 1024 * 1024


@dataclass(frozen=True)
class Mdm:
    """One MDM cluster member or standby.

    ``role`` is what the MDM package was installed as: ``"manager"`` or ``"tb"`` (tie-breaker).
    ``status`` is its place in the cluster: ``"master"``, ``"slave"``, ``"tb"`` or ``"standby"``.
    """

    id: str
    name: str
    ips: tuple[str, ...]
    management_ips: tuple[str, ...]
    port: int
    role: str
    status: str


@dataclass(frozen=True)
class Cluster:
    """The MDM cluster as ``scli --query_cluster`` sees it.

    ``created`` is False until ``create_cluster``; then ``mode`` is ``1_node``/``3_node``/``5_node``.
    ``system_name`` is None while the system is unnamed (address it by ``system_id`` then).
    """

    created: bool
    system_id: str | None
    system_name: str | None
    install_id: str | None
    mode: str | None
    members: tuple[Mdm, ...] = ()
    password_changed: bool = False
    restricted_sdc_mode: bool = False
    version: str = "3.0.1000.208"

    @property
    def master(self) -> Mdm | None:
        return next((m for m in self.members if m.status == "master"), None)

    @property
    def slaves(self) -> tuple[Mdm, ...]:
        return tuple(m for m in self.members if m.status == "slave")

    @property
    def tie_breakers(self) -> tuple[Mdm, ...]:
        return tuple(m for m in self.members if m.status == "tb")

    @property
    def standbys(self) -> tuple[Mdm, ...]:
        return tuple(m for m in self.members if m.status == "standby")

    @property
    def active_members(self) -> tuple[Mdm, ...]:
        """Master, slaves and tie-breakers (what "Active: n/n" counts)."""
        return tuple(m for m in self.members if m.status != "standby")


@dataclass(frozen=True)
class ProtectionDomain:
    id: str
    name: str
    state: str = "Active"


@dataclass(frozen=True)
class StoragePool:
    """A storage pool. ``spare_percentage`` of the raw capacity is kept free for rebuilds."""

    id: str
    name: str
    protection_domain_id: str
    media_type: str
    zero_padding: bool
    spare_percentage: int


@dataclass(frozen=True)
class SdsIp:
    ip: str
    role: str = "all"   # all | sdc_only | sds_only


@dataclass(frozen=True)
class Sds:
    id: str
    name: str
    protection_domain_id: str
    ips: tuple[SdsIp, ...]
    port: int

    @property
    def ip_list(self) -> tuple[str, ...]:
        return tuple(i.ip for i in self.ips)


@dataclass(frozen=True)
class Device:
    """A block device an SDS contributes to a pool. ``name`` may be None (scli shows ``N/A``)."""

    id: str
    name: str | None
    path: str
    sds_id: str
    storage_pool_id: str
    size_kb: int


@dataclass(frozen=True)
class HostDisk:
    """A disk an SDS host has (published by the host side), used to size and vet ``add_device``."""

    ip: str
    path: str
    size_kb: int
    has_data: bool


@dataclass(frozen=True)
class Sdc:
    id: str
    guid: str
    ip: str
    name: str | None
    connected: bool
    approved: bool


@dataclass(frozen=True)
class Volume:
    """A volume. Sizes are multiples of 8 GB. ``thin`` = ThinProvisioned."""

    id: str
    name: str
    storage_pool_id: str
    size_kb: int
    thin: bool
    mapped_sdc_ids: tuple[str, ...] = ()
    created: float = 0.0

    @property
    def size_gb(self) -> int:
        return self.size_kb // KB_PER_GB


@dataclass(frozen=True)
class Capacity:
    """Capacity of a pool (or summed over the system), in KB.

    ``in_use_kb`` is raw capacity used: every volume is stored twice (2-copy mesh mirroring), and the
    sandbox counts a volume's full size as used from its creation (thin or thick) so that capacity
    checks are deterministic. ``free_for_volumes_kb`` is the largest further volume size possible.
    """

    total_kb: int
    spare_kb: int
    in_use_kb: int
    num_devices: int = 0
    num_volumes: int = 0

    @property
    def usable_kb(self) -> int:
        return max(0, self.total_kb - self.spare_kb)

    @property
    def unused_kb(self) -> int:
        return max(0, self.usable_kb - self.in_use_kb)

    @property
    def free_for_volumes_kb(self) -> int:
        gran = 8 * KB_PER_GB
        return (self.unused_kb // 2) // gran * gran


@dataclass(frozen=True)
class Event:
    """One line of the mutation log.

    ``outcome`` is ``"applied"`` (state changed), ``"noop"`` (accepted, nothing to change) or ``"refused"``
    (a :class:`~dcos_scaleio.sandbox.scaleio.errors.ScaleIOError`; ``error`` holds its class name and
    message). ``args`` are the call's arguments with secrets replaced by ``"***"``.
    """

    seq: int
    ts: float
    actor: str
    op: str
    args: dict = field(default_factory=dict)
    outcome: str = "applied"
    error: str | None = None


@dataclass(frozen=True)
class LoginResult:
    user: str
    password_is_default: bool
    system_id: str
