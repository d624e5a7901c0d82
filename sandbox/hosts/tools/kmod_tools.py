"""Fake ``lsmod``, ``modprobe``, ``insmod`` and ``rmmod`` (kmod 22-27 messages) over hosts.kmod.

- ``lsmod``: the loaded table, "Module  Size  Used by".
- ``modprobe [-q] [-r] NAME...``: load (or unload) by name from /lib/modules/$(uname -r); exit 1
  "modprobe: FATAL: Module X not found in directory /lib/modules/K" when the running kernel has none,
  "modprobe: ERROR: could not insert 'X': Exec format error" for a file of another kernel.
- ``insmod FILE``: exit 1 "insmod: ERROR: could not insert module F: Invalid module format" etc.
- ``rmmod NAME``: exit 1 "rmmod: ERROR: Module X is not currently loaded" / "is in use".
"""
from __future__ import annotations

import os
import sys

from .. import kmod
from ..families import running_kernel
from ._common import out, err


def lsmod(argv) -> int:
    if argv:
        err("Usage: lsmod")
        return 1
    out("Module                  Size  Used by")
    for name, entry in sorted(kmod.loaded().items(), key=lambda kv: kv[0]):
        users = entry.get("used_by") or []
        line = f"{name:<19} {entry['size']:>8}  {len(users)}"
        out(line + (" " + ",".join(users) if users else ""))
    return 0


def modprobe(argv) -> int:
    quiet = remove = False
    names = []
    for a in argv:
        if a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-r", "--remove"):
            remove = True
        elif a.startswith("-"):
            continue  # -v, -b, --first-time ...: accepted
        elif "=" in a and names:
            continue  # module parameters
        else:
            names.append(a)
    if not names:
        err("modprobe: ERROR: missing parameters. See -h.")
        return 1
    if remove:
        for name in names:
            if kmod.is_loaded(name):
                try:
                    kmod.remove(name)
                except kmod.ModuleError as exc:
                    err(f"modprobe: FATAL: {exc}")
                    return 1
            elif kmod.find(name) is None:
                if not quiet:
                    err(f"modprobe: FATAL: Module {name} not found.")
                return 1
        return 0
    name = names[0]  # modprobe loads one module; the rest are its parameters
    if kmod.is_loaded(name):
        return 0
    path = kmod.find(name)
    if path is None:
        if not quiet:
            err(f"modprobe: FATAL: Module {name} not found in directory {kmod.MODULES_DIR}/{running_kernel()}")
        return 1
    try:
        kmod.insert(path)
    except kmod.ModuleError:
        err(f"modprobe: ERROR: could not insert '{name}': Exec format error")
        return 1
    return 0


def insmod(argv) -> int:
    files = [a for a in argv if not a.startswith("-") and "=" not in a]
    if not files:
        err("insmod: ERROR: missing filename.")
        return 1
    path = files[0]
    try:
        kmod.insert(os.path.abspath(path))
    except kmod.ModuleError as exc:
        err(f"insmod: ERROR: {str(exc).replace(os.path.abspath(path), path)}")
        return 1
    return 0


def rmmod(argv) -> int:
    names = [a for a in argv if not a.startswith("-")]
    if not names:
        err("rmmod: ERROR: missing module name.")
        return 1
    rc = 0
    for name in names:
        try:
            kmod.remove(os.path.basename(name)[:-3] if name.endswith(".ko") else name)
        except kmod.ModuleError as exc:
            err(f"rmmod: ERROR: {exc}")
            rc = 1
    return rc


_BY_PROG = {"lsmod": lsmod, "modprobe": modprobe, "insmod": insmod, "rmmod": rmmod}


def main(argv) -> int:
    prog = os.path.basename(sys.argv[0])
    return _BY_PROG.get(prog, lsmod)(argv)
