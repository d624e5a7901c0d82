"""The agent's block devices: a table the fake lsblk and blkid read (``/var/lib/sandbox/disks.json``).

The machine's /dev is shared with every agent (rbind), so disks are NOT device nodes: each disk is
an entry ``{"name": "sdb", "size": bytes, "type": "disk", "fstype": null|"ext4"|..., "uuid": ...,
"label": ..., "mountpoint": null|"/path", "used_by": null|"scaleio-sds", "rota": 1, "model": ...}``.

Other emulated tools change a disk through :func:`update` (run inside the agent), e.g. the ScaleIO
SDS taking a device marks ``used_by="scaleio-sds"`` (lsblk/blkid still show no filesystem, as real
ScaleIO devices have none), ``mkfs`` would set ``fstype``/``uuid``, a mount sets ``mountpoint``.
"""
from __future__ import annotations

import uuid as uuidlib

from .families import load_json, locked, write_json_atomic

DISKS_JSON = "/var/lib/sandbox/disks.json"
GB = 1024 ** 3


def make_table(disks, system_disk: bool = True) -> list[dict]:
    """Normalise provision()'s disk specs (``{"name", "size_gb"|"size", "fs", "mountpoint"}``).

    A system disk ``sda`` (ext4 on /) is added unless a disk named sda is given or ``system_disk`` is
    False, because every real host has one and tools must learn to skip it."""
    table = []
    names = {d["name"] for d in disks}
    if system_disk and "sda" not in names:
        table.append(_entry({"name": "sda", "size_gb": 40, "fs": "ext4", "mountpoint": "/"}))
    for spec in disks:
        table.append(_entry(spec))
    return table


def _entry(spec: dict) -> dict:
    name = spec["name"]
    if not name or "/" in name or not name.replace("-", "").isalnum():
        raise ValueError(f"bad disk name: {name!r}")
    size = int(spec["size"]) if "size" in spec else int(float(spec.get("size_gb", 100)) * GB)
    fs = spec.get("fs")
    # Stable UUIDs per disk name, so repeated provisioning gives the same blkid output.
    return {"name": name, "size": size, "type": spec.get("type", "disk"), "fstype": fs,
            "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"sandbox-disk:{name}")) if fs else None,
            "label": spec.get("label"), "mountpoint": spec.get("mountpoint"), "used_by": spec.get("used_by"),
            "rota": int(spec.get("rota", 1)), "model": spec.get("model", "QEMU HARDDISK"),
            "ro": 0, "rm": 0}


def load() -> list[dict]:
    return load_json(DISKS_JSON, []) or []


def find(device: str) -> dict | None:
    """A disk by name or /dev path (``sdb`` or ``/dev/sdb``)."""
    name = device[5:] if device.startswith("/dev/") else device
    return next((d for d in load() if d["name"] == name), None)


def update(device: str, **changes) -> dict:
    """Change one disk's fields (inside the agent), e.g. ``update("/dev/sdb", used_by="scaleio-sds")``
    or ``update("sdc", fstype="xfs")`` (a uuid is assigned when a filesystem appears). Returns the entry."""
    allowed = {"fstype", "uuid", "label", "mountpoint", "used_by", "size"}
    if set(changes) - allowed:
        raise ValueError(f"cannot change {sorted(set(changes) - allowed)}")
    name = device[5:] if device.startswith("/dev/") else device
    with locked(DISKS_JSON):
        table = load()
        for d in table:
            if d["name"] == name:
                d.update(changes)
                if d.get("fstype") and not d.get("uuid"):
                    d["uuid"] = str(uuidlib.uuid4())
                if "fstype" in changes and not changes["fstype"]:
                    d["uuid"] = None
                write_json_atomic(DISKS_JSON, table)
                return d
    raise KeyError(name)
