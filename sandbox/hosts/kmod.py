"""Kernel modules of an emulated host: what lsmod/modprobe/insmod/rmmod see (run INSIDE the agent).

The agent shares the machine's kernel, so modules are emulated: the loaded set lives in
``/run/sandbox/modules.json`` (tmpfs: a reboot unloads everything, as on a real host), and module
files are small text files under ``/lib/modules/<kernel>/...`` whose ``vermagic=`` line names the
kernel they were built for. ``modprobe`` only finds modules of the running kernel (``uname -r``) and
``insmod`` refuses a file built for another kernel ("Invalid module format"), which is what makes
e.g. the ScaleIO SDC's ``scini`` load only on a supported kernel. Build module files for packages
with :func:`module_file`.
"""
from __future__ import annotations

import os

from .families import load_json, locked, running_kernel, write_json_atomic

LOADED_JSON = "/run/sandbox/modules.json"
MODULES_DIR = "/lib/modules"
# What a fresh host has loaded (shown by lsmod, never unloadable here).
BASE_MODULES = {"overlay": 118784, "ext4": 737280, "mbcache": 16384, "jbd2": 131072, "xfs": 1187840,
                "libcrc32c": 16384, "nf_conntrack": 139264, "ip_tables": 32768, "x_tables": 40960}


class ModuleError(Exception):
    """A refused module operation; ``message`` is the tool's error text after its prefix."""


def module_file(name: str, kernel: str, size: int = 843776) -> bytes:
    """The content of a module file ``<name>.ko`` built for ``kernel`` (for package payloads)."""
    return f"sandbox kernel module\nname={name}\nvermagic={kernel} SMP mod_unload modversions\nsize={size}\n".encode()


def _info(path: str) -> dict:
    info = {}
    with open(path, errors="replace") as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                info[k] = v
    return info


def find(name: str, kernel: str | None = None) -> str | None:
    """The module file for ``name`` under /lib/modules/<kernel> (modprobe's search), or None."""
    base = os.path.join(MODULES_DIR, kernel or running_kernel())
    wanted = {f"{name}.ko", f"{name.replace('_', '-')}.ko", f"{name.replace('-', '_')}.ko"}
    for dirpath, _, files in os.walk(base):
        for f in files:
            if f in wanted:
                return os.path.join(dirpath, f)
    return None


def loaded() -> dict:
    """``{name: {"size": int, "used_by": [names], "path": str|None}}`` of the loaded modules."""
    table = load_json(LOADED_JSON)
    if table is None:
        table = {n: {"size": s, "used_by": [], "path": None, "base": True} for n, s in BASE_MODULES.items()}
    return table


def is_loaded(name: str) -> bool:
    return name.replace("-", "_") in loaded()


def insert(path: str) -> str:
    """Load a module file (insmod). Returns the module name. Raises ModuleError with the kernel's reason."""
    if not os.path.isfile(path):
        raise ModuleError(f"could not load module {path}: No such file or directory")
    info = _info(path)
    name = info.get("name", os.path.basename(path)[:-3] if path.endswith(".ko") else os.path.basename(path))
    name = name.replace("-", "_")
    if info.get("vermagic", "").split(" ")[0] != running_kernel():
        raise ModuleError(f"could not insert module {path}: Invalid module format")
    with locked(LOADED_JSON):
        table = loaded()
        if name in table:
            raise ModuleError(f"could not insert module {path}: File exists")
        table[name] = {"size": int(info.get("size", 16384)), "used_by": [], "path": path}
        write_json_atomic(LOADED_JSON, table)
    return name


def remove(name: str) -> None:
    """Unload a module (rmmod). Raises ModuleError if it is not loaded or in use."""
    name = name.replace("-", "_")
    with locked(LOADED_JSON):
        table = loaded()
        entry = table.get(name)
        if entry is None:
            raise ModuleError(f"Module {name} is not currently loaded")
        if entry.get("used_by") or entry.get("base"):
            raise ModuleError(f"Module {name} is in use")
        del table[name]
        write_json_atomic(LOADED_JSON, table)
