"""Fake ``blkid`` over the agent's disk table (hosts.disks).

``blkid [-p] [-o value|export|device|full] [-s TAG] <dev>...``: prints ``/dev/sdb: UUID="..." TYPE="ext4"``
for devices with a signature; exit 2 when nothing was identified (no signature, as on an empty disk),
exit 2 (silently) for a device that does not exist; no device arguments lists every disk with
a signature (exit 2 if there is none). Low-level probing (-p) adds USAGE="filesystem".
"""
from __future__ import annotations

from .. import disks
from ._common import out, err


def _tags(disk: dict, probe: bool) -> list[tuple[str, str]]:
    tags = []
    if disk.get("label"):
        tags.append(("LABEL", disk["label"]))
    tags.append(("UUID", disk["uuid"] or ""))
    if probe:
        tags += [("VERSION", "1.0"), ("BLOCK_SIZE", "4096")]
    tags.append(("TYPE", disk["fstype"]))
    if probe:
        tags.append(("USAGE", "filesystem"))
    return tags


def main(argv) -> int:
    probe, fmt, only, devices = False, "full", [], []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-p", "--probe"):
            probe = True
        elif a in ("-o", "--output"):
            i += 1
            fmt = args[i] if i < len(args) else "full"
        elif a in ("-s", "--match-tag"):
            i += 1
            only.append(args[i].upper() if i < len(args) else "")
        elif a in ("-c", "-O", "--offset", "-u", "--usages"):
            i += 1  # cache file / offset / usage filter: accepted, ignored
        elif a in ("-g", "-w", "-L", "-U", "--garbage-collect"):
            pass
        elif a.startswith("-"):
            err(f"blkid: invalid option -- '{a.lstrip('-')[:1]}'")
            return 4
        else:
            devices.append(a)
        i += 1
    if devices:
        targets = []
        for dev in devices:
            disk = disks.find(dev)
            if disk is None:
                continue  # util-linux 2.3x: silent, exit 2
            targets.append(disk)
    else:
        targets = disks.load()
    found = 0
    for disk in targets:
        if not disk.get("fstype"):
            continue
        tags = [(k, v) for k, v in _tags(disk, probe) if not only or k in only]
        if not tags:
            continue
        found += 1
        if fmt == "device":
            out(f"/dev/{disk['name']}")
        elif fmt == "value":
            for _, v in tags:
                out(v)
        elif fmt == "export":
            out(f"DEVNAME=/dev/{disk['name']}")
            for k, v in tags:
                out(f"{k}={v}")
            out("")
        else:
            out(f"/dev/{disk['name']}: " + " ".join(f'{k}="{v}"' for k, v in tags))
    return 0 if found else 2
