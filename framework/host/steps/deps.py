"""``deps``: the OS packages ScaleIO needs (scaleio-commands.md 2.2 and phase 0), plus host facts.

Installs only what is missing (one apt-get/yum call). Reports the kernel and, with
``discover_disks``, the block devices the scheduler may offer to ScaleIO as ``disks``:
``[{"path": "/dev/sdb", "size_gb": 100, "unused": true}]`` (unused = no partitions, no
filesystem or other signature, not mounted). The scheduler filters them by its own rules.
"""
from __future__ import annotations

import json

from .. import validate as v
from ..step import Step
from .common import COMMON, spec

BASE = {"ubuntu": ["libaio1", "numactl", "wget", "zip"], "rhel": ["libaio", "numactl", "wget", "unzip"]}
MDM = {"ubuntu": ["python2.7", "bash-completion"], "rhel": ["python2", "bash-completion"]}
# MDM nodes also run the gateway (Java 8).
GATEWAY = {"ubuntu": ["openjdk-8-jre", "binutils"], "rhel": ["java-1.8.0-openjdk"]}
GIB = 1024 ** 3


def missing_prerequisites(ctx, groups) -> list:
    """The OS packages of ``groups`` (e.g. ``(MDM,)``) this host still lacks. The mdm and gateway
    steps install theirs themselves: deps may have run before the agent was chosen as an MDM
    (``mdm`` false, e.g. an agent that came up before the MDM placement was decided)."""
    f = ctx.os_family
    return ctx.pm.missing([name for group in groups for name in group[f]])


def install_prerequisites(ctx, names) -> None:
    if names:
        ctx.pm.install_repo(names)
        ctx.changed("installed prerequisites " + " ".join(names))


class Deps(Step):
    NAME = "deps"
    PARAMS = spec(COMMON, mdm=(v.boolean, False, False), discover_disks=(v.boolean, False, False))

    def wanted(self, ctx) -> list:
        f = ctx.os_family
        return BASE[f] + (MDM[f] + GATEWAY[f] if ctx.params["mdm"] else [])

    def check(self, ctx):
        ctx.fact("kernel", ctx.host.kernel())
        return ctx.pm.missing(self.wanted(ctx))

    def act(self, ctx, todo):
        ctx.pm.install_repo(todo)
        ctx.changed("installed " + " ".join(todo))

    def verify(self, ctx):
        from ..step import StepError
        missing = ctx.pm.missing(self.wanted(ctx))
        if missing:
            raise StepError(f"still not installed after install: {' '.join(missing)}")
        if ctx.params["discover_disks"]:
            ctx.extra["disks"] = discover_disks(ctx.host)


def discover_disks(host) -> list:
    """Whole disks from ``lsblk`` with whether they look unused."""
    r = host.run(["lsblk", "-J", "-b", "-o", "NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT"], timeout=60, check=True)
    try:
        tree = json.loads(r.out).get("blockdevices") or []
    except ValueError:
        return []
    signed = set()
    b = host.run(["blkid", "-o", "device"], timeout=60)
    if b.ok:
        signed = {line.strip() for line in b.out.splitlines() if line.strip()}
    disks = []
    for dev in tree:
        if dev.get("type") != "disk":
            continue
        path = "/dev/" + str(dev.get("name", ""))
        if not v.patterns.is_device_path(path):
            continue
        children = dev.get("children") or []
        unused = (not dev.get("fstype") and not dev.get("mountpoint") and not children and path not in signed)
        disks.append({"path": path, "size_gb": int(dev.get("size") or 0) // GIB, "unused": unused})
    return disks
