"""The SDC's host-local state, shared by ``drv_cfg``, the ``scini`` daemon and ``rexray``.

Files (real paths where the real product has them):

- ``drv_cfg.txt``, persistent: ``/etc/emc/scaleio/drv_cfg.txt`` (3.x) or ``/bin/emc/scaleio/drv_cfg.txt``
  (2.x); the package writes the one of its version. Lines ``ini_guid <GUID>`` and ``mdm <ip>,<ip>``.
- Prebuilt ``scini`` modules: ``/lib/modules/<kernel>/extra/scini.ko`` (shipped by the SDC package, one per
  supported kernel) or ``/bin/emc/scaleio/scini_sync/driver_cache/<kernel>/scini.ko`` (where driver_sync
  puts them). Inside agents loading goes through the host's emulated module table (sandbox.hosts.kmod),
  so ``lsmod`` lists ``scini`` while the driver is loaded; with a relocated root (plain hosts) only the
  files are checked.
- Runtime-only (``/run``, lost on reboot, like the kernel driver's memory): ``/run/emc/scaleio/``
  ``scini.json`` (loaded driver: pid, kernel), ``mdms.json`` (systems added without ``--file``),
  ``links.json`` (which MDM each system is connected through), ``guid`` (when drv_cfg.txt has none),
  ``volumes.json`` (mapped volumes found by ``--rescan`` and their ``/dev/scini*`` names).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import uuid

from dcos_scaleio.sandbox.scaleio.hostside import Host

DRV_CFG_PATHS = ("/etc/emc/scaleio/drv_cfg.txt", "/bin/emc/scaleio/drv_cfg.txt")
MODULE_PATH = "/lib/modules/{kernel}/extra/scini.ko"
DRIVER_CACHE = "/bin/emc/scaleio/scini_sync/driver_cache"
RUN_DIR = "/run/emc/scaleio"
LOADED = RUN_DIR + "/scini.json"
RUNTIME_MDMS = RUN_DIR + "/mdms.json"
LINKS = RUN_DIR + "/links.json"
RUNTIME_GUID = RUN_DIR + "/guid"
VOLUMES = RUN_DIR + "/volumes.json"
LOCK = RUN_DIR + "/.lock"


@contextlib.contextmanager
def locked(host: Host):
    """Serialise read-modify-write of the runtime files among drv_cfg, scini and rexray."""
    path = host.path(LOCK)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- drv_cfg.txt --------------------------------------------------------------------------------
def drv_cfg_path(host: Host) -> str | None:
    """The drv_cfg.txt this host has (3.x path first), or None."""
    for path in DRV_CFG_PATHS:
        if host.path(path).exists():
            return path
    return None


def parse_drv_cfg(text: str) -> tuple[str | None, list[list[str]]]:
    """(ini_guid, [mdm ip lists]) of a drv_cfg.txt."""
    guid, systems = None, []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "ini_guid":
            guid = parts[1]
        elif len(parts) >= 2 and parts[0] == "mdm":
            systems.append([ip for ip in parts[1].split(",") if ip])
    return guid, systems


def render_drv_cfg(guid: str, systems: list[list[str]]) -> str:
    lines = ["# drv_cfg.txt: SDC configuration (ScaleIO sandbox)", f"ini_guid {guid}"]
    lines += ["mdm " + ",".join(ips) for ips in systems]
    return "\n".join(lines) + "\n"


def new_guid() -> str:
    return str(uuid.uuid4()).upper()


def guid(host: Host) -> str:
    """This SDC's GUID: ``ini_guid`` of drv_cfg.txt, else one generated for this boot."""
    path = drv_cfg_path(host)
    if path:
        found, _ = parse_drv_cfg(host.read_text(path) or "")
        if found:
            return found
    with locked(host):
        text = (host.read_text(RUNTIME_GUID) or "").strip()
        if not text:
            text = new_guid()
            host.write_text(RUNTIME_GUID, text + "\n")
        return text


def add_system_to_file(host: Host, path: str, ips: list[str]) -> None:
    """Persist ``mdm <ips>`` in drv_cfg.txt (replacing a line that shares an IP)."""
    with locked(host):
        found_guid, systems = parse_drv_cfg(host.read_text(path) or "")
        systems = [s for s in systems if not set(s) & set(ips)] + [ips]
        host.write_text(path, render_drv_cfg(found_guid or guid_unlocked(host), systems))


def guid_unlocked(host: Host) -> str:
    text = (host.read_text(RUNTIME_GUID) or "").strip()
    return text or new_guid()


# -- scini module ---------------------------------------------------------------------------------
class ModuleLoadError(Exception):
    """The driver cannot load (no module for the running kernel); the message is the tool's error."""


def _relocated(host: Host) -> bool:
    return str(host.root) != "/"


def load_module(host: Host, kernel: str) -> None:
    """Load scini for ``kernel`` (modprobe, else insmod from driver_sync's cache). ModuleLoadError if none fits."""
    if not kernel or "/" in kernel or kernel.startswith("."):
        raise ModuleLoadError(f"bad kernel release {kernel!r}")
    cached = f"{DRIVER_CACHE}/{kernel}/scini.ko"
    if _relocated(host):  # plain host: never touch the machine's module table
        if not (host.path(MODULE_PATH.format(kernel=kernel)).exists() or host.path(cached).exists()):
            raise ModuleLoadError(f"modprobe: FATAL: Module scini not found in directory /lib/modules/{kernel}")
        return
    from dcos_scaleio.sandbox.hosts import kmod
    path = kmod.find("scini", kernel) or (cached if os.path.exists(cached) else None)
    if path is None:
        raise ModuleLoadError(f"modprobe: FATAL: Module scini not found in directory /lib/modules/{kernel}")
    if kmod.is_loaded("scini"):
        return
    try:
        kmod.insert(path)
    except kmod.ModuleError as exc:
        raise ModuleLoadError(f"insmod: ERROR: {exc}") from None


def unload_module(host: Host) -> None:
    if _relocated(host):
        return
    from dcos_scaleio.sandbox.hosts import kmod
    with contextlib.suppress(kmod.ModuleError):
        kmod.remove("scini")


def mark_loaded(host: Host, kernel: str) -> None:
    forget_runtime(host)  # a freshly loaded driver remembers nothing (a crash may have left files)
    host.write_json(LOADED, {"pid": os.getpid(), "kernel": kernel})


def mark_unloaded(host: Host) -> None:
    """Unloading the module forgets its memory: systems added without --file, links, devices."""
    forget_runtime(host)
    with contextlib.suppress(FileNotFoundError):
        host.path(LOADED).unlink()


def forget_runtime(host: Host) -> None:
    with locked(host):
        for path in (RUNTIME_MDMS, LINKS, VOLUMES):
            with contextlib.suppress(FileNotFoundError):
                host.path(path).unlink()


def is_loaded(host: Host) -> bool:
    """True while a scini daemon of this boot is alive (the module is loaded)."""
    data = host.read_json(LOADED)
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return False
    try:
        os.kill(data["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- configured systems ---------------------------------------------------------------------------
def runtime_systems(host: Host) -> list[list[str]]:
    data = host.read_json(RUNTIME_MDMS, {}) or {}
    return [list(s) for s in data.get("systems", [])]


def add_runtime_system(host: Host, ips: list[str]) -> bool:
    """Add a system to the driver's runtime list. False if an IP of it is already known."""
    with locked(host):
        systems = runtime_systems(host)
        if any(set(s) & set(ips) for s in systems):
            return False
        systems.append(ips)
        host.write_json(RUNTIME_MDMS, {"systems": systems})
        return True


def load_file_systems(host: Host) -> None:
    """What the driver does when it loads: take the ``mdm`` lines of drv_cfg.txt into its memory."""
    path = drv_cfg_path(host)
    if not path:
        return
    _, systems = parse_drv_cfg(host.read_text(path) or "")
    for ips in systems:
        add_runtime_system(host, ips)


def configured_systems(host: Host) -> list[list[str]]:
    return runtime_systems(host)


def record_connection(host: Host, ips: list[str], mdm_ip: str | None, system_id: str | None) -> None:
    with locked(host):
        links = host.read_json(LINKS, {}) or {}
        key = ",".join(ips)
        if mdm_ip is None:
            links.pop(key, None)
        else:
            links[key] = {"mdm_ip": mdm_ip, "system_id": system_id}
        host.write_json(LINKS, links)


def links(host: Host) -> dict:
    return host.read_json(LINKS, {}) or {}


# -- volumes --------------------------------------------------------------------------------------
def device_names(n: int) -> str:
    """scinia, scinib, ... scinaz, scinba: the driver's device naming (like sd*)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        name = letters[rem] + name
    return "scini" + name


def set_volumes(host: Host, volume_ids: list[str]) -> dict:
    """Make the device table match the volumes mapped now; keep existing devices' names stable."""
    with locked(host):
        current = host.read_json(VOLUMES, {}) or {}
        table = {vid: dev for vid, dev in current.items() if vid in volume_ids}
        used = set(table.values())
        i = 0
        for vid in volume_ids:
            if vid in table:
                continue
            while device_names(i) in used:
                i += 1
            table[vid] = device_names(i)
            used.add(table[vid])
        host.write_json(VOLUMES, table)
        return table


def volumes(host: Host) -> dict:
    return host.read_json(VOLUMES, {}) or {}
