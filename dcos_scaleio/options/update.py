"""Which option changes an installed service accepts (``dcos scaleio update start``).

Like the SDK's config validators: a change the deployed system cannot follow is refused with the
field named, and the scheduler keeps running with the old options (its deploy plan shows the
errors). Everything else (agents, devices, artifacts, retries, REX-Ray settings, ...) may change.
"""
from __future__ import annotations

from .model import Options
from .validate import FieldError

__all__ = ["update_errors", "FIXED_FIELDS"]

# (dotted path, why it cannot change once deployed)
FIXED_FIELDS = (
    ("service.name", "the service name is its identity (ZooKeeper node, framework name)"),
    ("service.state_store.type", "the state lives in the store it was written to"),
    ("scaleio.mode", "existing and provision mode manage different things"),
    ("scaleio.system_name", "the system was created or found by this name"),
    ("scaleio.protection_domain", "the SDSs are registered in this protection domain"),
    ("scaleio.storage_pool", "devices were added to this pool; name further pools per device instead"),
    ("scaleio.provision.mdm_count", "the MDM cluster was formed with this many members"),
    ("scaleio.provision.mdm_hosts", "the MDMs were placed on these agents"),
)


def _get(opts: Options, path: str):
    node = opts
    for part in path.split("."):
        node = getattr(node, part)
    return node


def update_errors(old: Options, new: Options) -> list[FieldError]:
    """Errors for changes from ``old`` to ``new`` that an installed service cannot apply."""
    errors = []
    for path, why in FIXED_FIELDS:
        if path.startswith("scaleio.provision.") and old.scaleio.mode != "provision":
            continue
        before, after = _get(old, path), _get(new, path)
        if before != after:
            errors.append(FieldError(path, f"cannot change from {before!r} to {after!r}: {why}"))
    if old.scaleio.version.split(".")[0] != new.scaleio.version.split(".")[0]:
        errors.append(FieldError("scaleio.version", f"cannot change the major version ({old.scaleio.version} -> "
                                 f"{new.scaleio.version}): upgrades are not supported"))
    return errors
