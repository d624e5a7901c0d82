"""The built-in catalogue of OS dependency packages that apt-get/yum "download" and install instantly.

These are the distribution packages the ScaleIO roles need (scaleio-commands.md section 2.2 and the
phase table): they carry no payload, only a database entry, except kernel images which drop a
``/boot/vmlinuz-<version>`` file and become the boot kernel (the kernel pin of section 2.5: install,
reboot, and ``uname -r`` reports it).
"""
from __future__ import annotations

import re

from .families import HOST_JSON, load_json, write_json_atomic

# name -> version, per family.
CATALOGUE = {
    "ubuntu": {
        "libaio1": "0.3.110-2", "numactl": "2.0.11-1ubuntu1.1", "wget": "1.17.1-1ubuntu1.5",
        "zip": "3.0-11", "unzip": "6.0-20ubuntu1.1", "curl": "7.47.0-1ubuntu2.19",
        "python2.7": "2.7.12-1ubuntu0~16.04.18", "python": "2.7.12-1~16.04", "bash-completion": "1:2.1-4.2ubuntu1.1",
        "binutils": "2.26.1-1ubuntu1~16.04.8", "openjdk-8-jre": "8u292-b10-0ubuntu1~16.04.1",
        "openjdk-8-jre-headless": "8u292-b10-0ubuntu1~16.04.1", "ldap-utils": "2.4.42+dfsg-2ubuntu3.13",
        "mutt": "1.5.24-1ubuntu0.16.04.1", "python-paramiko": "1.16.0-1ubuntu0.2",
        "sg3-utils": "1.40-0ubuntu1", "xfsprogs": "4.3.0+nmu1ubuntu1.1", "e2fsprogs": "1.42.13-1ubuntu1.2",
        "docker-ce": "5:19.03.15~3-0~ubuntu-xenial",
    },
    "rhel": {
        "libaio": "0.3.109-13.el7", "numactl": "2.0.12-5.el7", "wget": "1.14-18.el7_6.1",
        "unzip": "6.0-24.el7_9", "zip": "3.0-11.el7", "curl": "7.29.0-59.el7_9.1",
        "python2": "2.7.5-90.el7", "bash-completion": "1:2.1-8.el7", "binutils": "2.27-44.base.el7_9.1",
        "java-1.8.0-openjdk": "1:1.8.0.412.b08-1.el7_9", "java-1.8.0-openjdk-headless": "1:1.8.0.412.b08-1.el7_9",
        "mutt": "5:1.5.21-29.el7_9", "python-paramiko": "2.1.1-9.el7", "sg3_utils": "1.37-19.el7",
        "xfsprogs": "4.5.0-22.el7", "e2fsprogs": "1.42.9-19.el7", "ldap-utils": "2.4.44-25.el7_9",
        "docker-ce": "3:19.03.15-3.el7",
    },
}
# Kernel image packages: any version is "available" (as on a real mirror with many kernels).
_KERNEL_RE = {"ubuntu": re.compile(r"^linux-image-(\d+\.\d+\.\d+-\d+-generic)$"),
              "rhel": re.compile(r"^kernel-(\d+\.\d+\.\d+-[\d.]+\.el7\.x86_64)$")}


def lookup(family: str, name: str) -> str | None:
    """The version the mirror offers for ``name``, or None if there is no such package."""
    version = CATALOGUE[family].get(name)
    if version is None:
        m = _KERNEL_RE[family].match(name)
        if m:
            return m.group(1) if family == "ubuntu" else m.group(1).rsplit(".el7", 1)[0]
    return version


def kernel_of(family: str, name: str) -> str | None:
    m = _KERNEL_RE[family].match(name)
    return m.group(1) if m else None


def install(db, name: str) -> None:
    """Record a catalogue package in ``db`` (a locked hosts.pkgdb.PkgDB); kernels become the boot kernel."""
    version = lookup(db.family, name)
    if version is None:
        raise KeyError(name)
    kernel = kernel_of(db.family, name)
    files = {f"/boot/vmlinuz-{kernel}": (b"sandbox kernel image\n", 0o600)} if kernel else None
    db.add_virtual(name, version, description=f"{name} (sandbox catalogue)", files=files)
    if kernel:
        # As if the package's postinst ran update-grub with this kernel as the default entry.
        cfg = load_json(HOST_JSON, {}) or {}
        cfg["boot_kernel"] = kernel
        write_json_atomic(HOST_JSON, cfg)
