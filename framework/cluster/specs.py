"""Explicit parameters of the cluster actions, and the JSON-able result every action returns.

Each spec can be built from the plan engine's ``RunClusterAction.params`` mapping with
``from_params`` (extra keys such as ``gateway_endpoint``, ``hostname`` or ``agent_id`` are ignored;
a missing or malformed key is an :class:`~.errors.InvalidParameters`). Key names per action:

===========================  ==========================================================================
action                       params keys
===========================  ==========================================================================
protection-domain            ``name``
storage-pool                 ``protection_domain``, ``name``; optional ``media_type`` (HDD),
                             ``zero_padding`` (bool), ``spare_percentage`` (0-99)
sds-register                 ``sds_name``, ``ip``, ``protection_domain``
device                       ``sds_name``, ``path``, ``protection_domain``, ``storage_pool``
device-remove                ``device_id``; ``created`` (must be true)
sds-remove                   ``sds_id``; ``created``; optional ``wait_s`` (0)
storage-pool-remove          ``storage_pool_id``; ``created``
protection-domain-remove     ``protection_domain_id``; ``created``
volumes-check                optional ``storage_pool_ids`` (list; default: every pool)
===========================  ==========================================================================
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from .errors import InvalidParameters

__all__ = ["ActionResult", "ProtectionDomainSpec", "StoragePoolSpec", "SdsSpec", "DeviceSpec", "OwnedObject",
           "VolumeScope", "MEDIA_TYPES"]

MEDIA_TYPES = ("HDD", "SSD", "TRANSITIONAL")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,31}$")          # ScaleIO object names
_DEVICE_RE = re.compile(r"^/dev/[A-Za-z0-9_.\-/]+$")
_IPV4_RE = re.compile(r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
_ID_RE = re.compile(r"^[0-9A-Za-z]{1,32}$")


@dataclass(frozen=True)
class ActionResult:
    """What an action found or did. ``changed`` is False when the real state already matched.

    ``details`` holds IDs and facts (``protection_domain_id``, ``created``, ...), JSON-able; the
    scheduler stores them with the step so uninstall can remove exactly what was created.
    """

    action: str
    changed: bool
    message: str
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"action": self.action, "changed": self.changed, "message": self.message,
                "details": dict(self.details)}


def _need(params: Mapping, key: str, check=None, what: str = "") -> Any:
    value = params.get(key)
    if value in (None, ""):
        raise InvalidParameters(f"missing parameter {key!r}")
    if check is not None and not check(value):
        raise InvalidParameters(f"parameter {key!r} is not {what}")
    return value


def _name(v) -> bool:
    return isinstance(v, str) and bool(_NAME_RE.match(v))


def _oid(v) -> bool:
    return isinstance(v, str) and bool(_ID_RE.match(v))


@dataclass(frozen=True)
class ProtectionDomainSpec:
    name: str

    def __post_init__(self):
        _need(asdict(self), "name", _name, "a ScaleIO name ([A-Za-z0-9_.:-], at most 31 characters)")

    @classmethod
    def from_params(cls, p: Mapping) -> "ProtectionDomainSpec":
        return cls(name=_need(p, "name"))


@dataclass(frozen=True)
class StoragePoolSpec:
    """A pool; the policies apply only when the pool is created (an existing pool is never modified,
    its differing policies are reported). None = the system's default."""

    protection_domain: str
    name: str
    media_type: str = "HDD"
    zero_padding: bool | None = None
    spare_percentage: int | None = None

    def __post_init__(self):
        d = asdict(self)
        for key in ("protection_domain", "name"):
            _need(d, key, _name, "a ScaleIO name")
        if self.media_type not in MEDIA_TYPES:
            raise InvalidParameters(f"parameter 'media_type' must be one of {', '.join(MEDIA_TYPES)}")
        if self.zero_padding is not None and not isinstance(self.zero_padding, bool):
            raise InvalidParameters("parameter 'zero_padding' must be a boolean")
        sp = self.spare_percentage
        if sp is not None and (isinstance(sp, bool) or not isinstance(sp, int) or not 0 <= sp <= 99):
            raise InvalidParameters("parameter 'spare_percentage' must be an integer from 0 to 99")

    @classmethod
    def from_params(cls, p: Mapping) -> "StoragePoolSpec":
        return cls(protection_domain=_need(p, "protection_domain"), name=_need(p, "name"),
                   media_type=p.get("media_type") or "HDD", zero_padding=p.get("zero_padding"),
                   spare_percentage=p.get("spare_percentage"))


@dataclass(frozen=True)
class SdsSpec:
    """Register the SDS service running at ``ip`` under ``name`` in ``protection_domain``."""

    name: str
    ip: str
    protection_domain: str

    def __post_init__(self):
        d = asdict(self)
        _need(d, "name", _name, "a ScaleIO name")
        _need(d, "ip", lambda v: isinstance(v, str) and bool(_IPV4_RE.match(v)), "an IPv4 address")
        _need(d, "protection_domain", _name, "a ScaleIO name")

    @classmethod
    def from_params(cls, p: Mapping) -> "SdsSpec":
        return cls(name=_need(p, "sds_name"), ip=_need(p, "ip"), protection_domain=_need(p, "protection_domain"))


@dataclass(frozen=True)
class DeviceSpec:
    """Add the block device ``path`` of SDS ``sds_name`` to ``storage_pool`` of ``protection_domain``."""

    sds_name: str
    path: str
    protection_domain: str
    storage_pool: str

    def __post_init__(self):
        d = asdict(self)
        for key in ("sds_name", "protection_domain", "storage_pool"):
            _need(d, key, _name, "a ScaleIO name")
        _need(d, "path", lambda v: isinstance(v, str) and bool(_DEVICE_RE.match(v)) and ".." not in v,
              "a device path under /dev")

    @classmethod
    def from_params(cls, p: Mapping) -> "DeviceSpec":
        return cls(sds_name=_need(p, "sds_name"), path=_need(p, "path"),
                   protection_domain=_need(p, "protection_domain"), storage_pool=_need(p, "storage_pool"))


@dataclass(frozen=True)
class OwnedObject:
    """An object this framework created, as recorded from its creating action's result (by ID).

    ``created`` False means it existed before us: removal actions leave it in place.
    """

    id: str
    created: bool = True
    wait_s: float = 0.0

    def __post_init__(self):
        _need({"id": self.id}, "id", _oid, "a ScaleIO object ID")
        if not isinstance(self.created, bool):
            raise InvalidParameters("parameter 'created' must be a boolean")
        if not isinstance(self.wait_s, (int, float)) or isinstance(self.wait_s, bool) or not 0 <= self.wait_s <= 3600:
            raise InvalidParameters("parameter 'wait_s' must be a number of seconds from 0 to 3600")

    @classmethod
    def from_params(cls, p: Mapping, id_key: str) -> "OwnedObject":
        return cls(id=_need(p, id_key), created=p.get("created", False), wait_s=p.get("wait_s", 0.0))


@dataclass(frozen=True)
class VolumeScope:
    """Which pools a volume check covers; empty = the whole system."""

    storage_pool_ids: tuple[str, ...] = ()

    def __post_init__(self):
        ids = self.storage_pool_ids
        if isinstance(ids, str) or not all(_oid(i) for i in ids):
            raise InvalidParameters("parameter 'storage_pool_ids' must be a list of ScaleIO object IDs")
        object.__setattr__(self, "storage_pool_ids", tuple(ids))

    @classmethod
    def from_params(cls, p: Mapping) -> "VolumeScope":
        return cls(storage_pool_ids=tuple(p.get("storage_pool_ids") or ()))


# Keep the field lists visible for docs/tests.
SPEC_FIELDS = {c.__name__: [f.name for f in fields(c)] for c in
               (ProtectionDomainSpec, StoragePoolSpec, SdsSpec, DeviceSpec, OwnedObject, VolumeScope)}
