"""The typed, frozen options object every part of the product reads.

Built only by :func:`dcos_scaleio.options.validate` from options that passed the schema and the
semantic checks, so its fields can be trusted: names, IPs, paths and URLs already match the strict
patterns. The admin password is a :class:`Secret`, whose ``repr``/``str`` never show the value.
"""
from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass
from typing import Mapping

__all__ = [
    "Secret", "Options", "ServiceOptions", "RetryOptions", "ExecutorOptions", "StateStoreOptions",
    "ScaleIOOptions", "GatewayOptions", "ExistingOptions", "ProvisionOptions", "AgentOptions",
    "DeviceOptions", "DiscoveryOptions", "Artifact", "OsArtifacts", "ArtifactOptions",
    "RexrayOptions", "DvdiModule", "IsolatorOptions", "UninstallOptions", "REDACTED",
    "SECRET_FIELDS", "DESTROY_CONFIRMATION", "OS_FAMILIES", "COMPONENTS",
]

REDACTED = "******"
# Option paths whose values are secrets: never rendered, logged or echoed in errors.
SECRET_FIELDS = frozenset({("scaleio", "admin_password")})
DESTROY_CONFIRMATION = "yes-really-destroy-data"
OS_FAMILIES = ("rhel", "ubuntu")
COMPONENTS = ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")


class Secret:
    """A secret value that does not print itself. Call :meth:`reveal` where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self):
        return bool(self._value)

    def __eq__(self, other):
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self):
        return hash(self._value)

    def __repr__(self):
        return f"Secret({REDACTED})" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class RetryOptions:
    max_attempts: int
    backoff_initial_s: float
    backoff_factor: float
    backoff_max_s: float

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (1-based), capped."""
        return min(self.backoff_max_s, self.backoff_initial_s * self.backoff_factor ** max(0, failures - 1))


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    mdm_cpus: float
    mdm_mem: int
    data_cpus: float
    data_mem: int


@dataclass(frozen=True, slots=True)
class StateStoreOptions:
    type: str
    zookeeper: str
    sqlite_path: str


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    name: str
    user: str
    role: str
    principal: str
    service_account: str
    service_account_secret: str
    api_token_secret: str
    log_level: str
    mesos_master: str
    cpus: float
    mem: int
    executor: ExecutorOptions
    deploy_parallelism: int
    step_timeout_s: int
    retry: RetryOptions
    state_store: StateStoreOptions

    @property
    def slug(self) -> str:
        """The name without its leading slash, folders joined by '__' (as dcos-commons does)."""
        return self.name.strip("/").replace("/", "__")

    @property
    def mesos_role(self) -> str:
        return self.role or f"{self.slug}-role"

    @property
    def mesos_principal(self) -> str:
        return self.principal or f"{self.slug}-principal"

    @property
    def zk_root(self) -> str:
        return f"/dcos-service-{self.slug}"


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    port: int
    tls_verify: bool
    ca_pem: str
    ca_file: str


@dataclass(frozen=True, slots=True)
class ExistingOptions:
    mdm_ips: tuple[str, ...]
    gateway_endpoint: str
    system_id: str


@dataclass(frozen=True, slots=True)
class ProvisionOptions:
    mdm_count: int
    mdm_hosts: tuple[str, ...]
    persona_attribute: str


@dataclass(frozen=True, slots=True)
class ScaleIOOptions:
    version: str
    mode: str
    system_name: str
    admin_password: Secret
    admin_password_secret: str
    protection_domain: str
    storage_pool: str
    media_type: str
    gateway: GatewayOptions
    existing: ExistingOptions
    provision: ProvisionOptions

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    @property
    def provisioning(self) -> bool:
        return self.mode == "provision"


@dataclass(frozen=True, slots=True)
class AgentOptions:
    attribute_filters: tuple[str, ...]
    exclude_hostnames: tuple[str, ...]
    include_public: bool
    flavour: str
    allow_restart: bool
    allow_reboot: bool


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    enabled: bool
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    min_size_gb: int


@dataclass(frozen=True, slots=True)
class DeviceOptions:
    use_attributes: bool
    host_devices: Mapping[str, tuple[str, ...]]
    discovery: DiscoveryOptions


@dataclass(frozen=True, slots=True)
class Artifact:
    url: str
    sha256: str

    def __bool__(self):
        return bool(self.url)


@dataclass(frozen=True, slots=True)
class OsArtifacts:
    mdm: Artifact
    sds: Artifact
    sdc: Artifact
    lia: Artifact
    gateway: Artifact
    rexray: Artifact
    dvdcli: Artifact


@dataclass(frozen=True, slots=True)
class ArtifactOptions:
    executor: Artifact
    rhel: OsArtifacts
    ubuntu: OsArtifacts

    def package(self, os_family: str, component: str) -> Artifact:
        """The artifact of ``component`` for ``os_family`` (may be unconfigured: falsy)."""
        return getattr(getattr(self, os_family), component)


@dataclass(frozen=True, slots=True)
class RexrayOptions:
    enabled: bool
    version: str
    thin_provisioning: bool
    mount_preempt: bool
    ignore_used_count: bool
    log_level: str


@dataclass(frozen=True, slots=True)
class DvdiModule:
    mesos_version: str
    url: str
    sha256: str


@dataclass(frozen=True, slots=True)
class IsolatorOptions:
    mode: str
    dvdi_modules: tuple[DvdiModule, ...]
    docker_volume_checkpoint_dir: str

    def module_for(self, mesos_version: str | None) -> DvdiModule | None:
        """The DVDI module for exactly this Mesos version, when mode=dvdi and one is configured."""
        if self.mode != "dvdi" or not mesos_version:
            return None
        return next((m for m in self.dvdi_modules if m.mesos_version == mesos_version), None)


@dataclass(frozen=True, slots=True)
class UninstallOptions:
    level: str
    confirm: str

    @property
    def destroys_data(self) -> bool:
        return self.level == "data" and self.confirm == DESTROY_CONFIRMATION


@dataclass(frozen=True, slots=True)
class Options:
    service: ServiceOptions
    scaleio: ScaleIOOptions
    agents: AgentOptions
    devices: DeviceOptions
    artifacts: ArtifactOptions
    rexray: RexrayOptions
    isolator: IsolatorOptions
    uninstall: UninstallOptions

    @classmethod
    def from_merged(cls, merged: Mapping) -> "Options":
        """Build from merged options that already passed :func:`validate` (no checks here)."""
        return _build(cls, merged)


def _build(cls, data):
    """Recursively build a frozen options dataclass from a merged-options mapping."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        kwargs[f.name] = _convert(f.type, data[f.name])
    return cls(**kwargs)


_DATACLASSES = {c.__name__: c for c in (
    RetryOptions, ExecutorOptions, StateStoreOptions, ServiceOptions, GatewayOptions, ExistingOptions,
    ProvisionOptions, ScaleIOOptions, AgentOptions, DiscoveryOptions, DeviceOptions, Artifact,
    OsArtifacts, ArtifactOptions, RexrayOptions, DvdiModule, IsolatorOptions, UninstallOptions)}


def _convert(type_name: str, value):
    # Field types are strings (from __future__ annotations); the set used here is small and fixed.
    if type_name in _DATACLASSES:
        return _build(_DATACLASSES[type_name], value)
    if type_name == "Secret":
        return Secret(value)
    if type_name == "float":
        return float(value)
    if type_name == "tuple[DvdiModule, ...]":
        return tuple(_build(DvdiModule, v) for v in value)
    if type_name.startswith("tuple["):
        return tuple(value)
    if type_name.startswith("Mapping["):
        # devices.host_devices: a list of {"host", "paths"} in the schema (mustache and UI
        # friendly), a read-only hostname -> paths mapping here.
        return types.MappingProxyType({e["host"]: tuple(e["paths"]) for e in value})
    return value
