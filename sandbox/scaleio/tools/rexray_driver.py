"""REX-Ray's ScaleIO storage driver as the sandbox runs it: config, gateway calls, mapping, mounting.

Used by both the ``rexray`` CLI (embedded mode) and ``rexray start`` (the Docker volume plugin
service), so a volume behaves the same whichever path the caller takes.

- Config: ``/etc/rexray/config.yml`` (or ``-c``/``--config``), YAML as in scaleio-commands.md 6.2:
  ``libstorage.service: scaleio`` (or ``rexray.storageDrivers: [scaleio]``), a top-level ``scaleio:``
  block (``endpoint``, ``insecure``, ``userName``, ``password``, ``systemID``/``systemName``,
  ``protectionDomainID``/``protectionDomainName``, ``storagePoolID``/``storagePoolName``,
  ``thinOrThick``, ``guid``), and ``libstorage.integration.volume.operations.mount.preempt`` /
  ``.mount.rootPath`` / ``.create.default.size``.
- Gateway: the goscaleio calls (:mod:`.gwclient`) against ``scaleio.endpoint`` with the configured
  credentials, one login per process. TLS is verified against the sandbox CA (standing in for the
  host's trust store) unless ``insecure: true``.
- This host's SDC is found by its GUID (``drv_cfg --query_guid``, or ``scaleio.guid``).
- A volume's contents live in the shared state dir (``<state>/hostside/volumes/<volume id>``), so they
  follow the volume from host to host. "Attaching" maps the volume to this SDC and rescans (the
  device appears as ``/dev/scini<x>`` in the SDC's device table); "mounting" bind-mounts the
  contents at ``/var/lib/libstorage/volumes/<name>`` and returns ``<that>/data`` (rootPath).
  With a relocated host root (unit tests, no mount namespace) a symlink stands in for the mount.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
from dataclasses import dataclass
from urllib.parse import urlparse

from dcos_scaleio.sandbox.scaleio import hostside, sdcstate

DEFAULT_CONFIG = "/etc/rexray/config.yml"
VOLUMES_ROOT = "/var/lib/libstorage/volumes"
DEFAULT_ROOT_PATH = "/data"
DEFAULT_SIZE_GB = 16
SOCKET_DIR = "/run/docker/plugins"


class RexrayError(Exception):
    """A refusal the CLI prints as ``Error: <text>`` and the plugin returns as ``Err``."""


def lookup(tree: dict, dotted: str, default=None):
    """``a.b.c`` in nested YAML maps, also accepting literal dotted keys at any level."""
    if not isinstance(tree, dict):
        return default
    if dotted in tree:
        return tree[dotted]
    parts = dotted.split(".")
    for i in range(1, len(parts)):
        head, rest = ".".join(parts[:i]), ".".join(parts[i:])
        if head in tree and isinstance(tree[head], dict):
            found = lookup(tree[head], rest, None)
            if found is not None:
                return found
    return default


def as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass
class Config:
    endpoint: str
    user: str
    password: str
    insecure: bool
    system_id: str | None
    system_name: str | None
    pd_id: str | None
    pd_name: str | None
    pool_id: str | None
    pool_name: str | None
    thin: bool
    guid: str | None
    preempt: bool
    root_path: str
    default_size: int
    sockets: list[str]

    @classmethod
    def load(cls, host: hostside.Host, path: str = DEFAULT_CONFIG) -> "Config":
        import yaml
        text = host.read_text(path)
        if text is None:
            raise RexrayError(f"config file {path} not found")
        try:
            tree = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise RexrayError(f"invalid config file {path}: {exc}") from None
        if not isinstance(tree, dict):
            raise RexrayError(f"invalid config file {path}: not a map")
        return cls.from_tree(tree, path)

    @classmethod
    def from_tree(cls, tree: dict, path: str = DEFAULT_CONFIG) -> "Config":
        drivers = lookup(tree, "rexray.storageDrivers") or []
        services = lookup(tree, "libstorage.server.services") or {}
        uses_scaleio = (lookup(tree, "libstorage.service") == "scaleio" or "scaleio" in drivers
                        or any(isinstance(s, dict) and lookup(s, "driver") == "scaleio" for s in services.values()))
        sio = tree.get("scaleio")
        if not uses_scaleio or not isinstance(sio, dict):
            raise RexrayError(f"invalid config {path}: no scaleio storage service configured "
                              "(libstorage.service: scaleio and a scaleio: block)")
        missing = [k for k in ("endpoint", "userName", "password") if not sio.get(k)]
        if not (sio.get("systemID") or sio.get("systemId") or sio.get("systemName")):
            missing.append("systemID or systemName")
        if missing:
            raise RexrayError(f"invalid config {path}: scaleio.{', scaleio.'.join(missing)} required")
        endpoint = str(sio["endpoint"])
        if urlparse(endpoint).scheme != "https" or not urlparse(endpoint).hostname:
            raise RexrayError(f"invalid config {path}: scaleio.endpoint must be https://<gateway>[:port]/api")
        sockets = []
        modules = lookup(tree, "rexray.modules") or {}
        for mod in modules.values() if isinstance(modules, dict) else ():
            host_url = lookup(mod, "host") if isinstance(mod, dict) else None
            if isinstance(mod, dict) and mod.get("type", "docker") == "docker" and isinstance(host_url, str) \
                    and host_url.startswith("unix://"):
                sockets.append(host_url[len("unix://"):])
        if not sockets:
            sockets = [f"{SOCKET_DIR}/rexray.sock"]
        return cls(
            endpoint=endpoint, user=str(sio["userName"]), password=str(sio["password"]),
            insecure=as_bool(sio.get("insecure", False)),
            system_id=sio.get("systemID") or sio.get("systemId"), system_name=sio.get("systemName"),
            pd_id=sio.get("protectionDomainID") or sio.get("protectionDomainId"),
            pd_name=sio.get("protectionDomainName"),
            pool_id=sio.get("storagePoolID") or sio.get("storagePoolId"), pool_name=sio.get("storagePoolName"),
            thin=str(sio.get("thinOrThick", "ThinProvisioned")) != "ThickProvisioned",
            guid=sio.get("guid"),
            preempt=as_bool(lookup(tree, "libstorage.integration.volume.operations.mount.preempt", False)),
            root_path=str(lookup(tree, "libstorage.integration.volume.operations.mount.rootPath",
                                 DEFAULT_ROOT_PATH)),
            default_size=int(lookup(tree, "libstorage.integration.volume.operations.create.default.size",
                                    DEFAULT_SIZE_GB)),
            sockets=sockets)


@dataclass
class VolumeInfo:
    id: str
    name: str
    size_gb: int
    status: str          # attached (to this host) | available | unavailable (attached elsewhere)
    device: str | None
    path: str | None     # mount path on this host, if mounted

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "size": self.size_gb, "status": self.status,
                "attachments": [{"deviceName": self.device}] if self.device else [],
                "path": self.path}


class Driver:
    """One host's REX-Ray ScaleIO driver."""

    def __init__(self, host: hostside.Host, config: Config):
        self.host = host
        self.cfg = config
        self._client = None
        self._system_id = None

    # -- gateway ------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            from dcos_scaleio.sandbox.scaleio.tools.gwclient import GatewayClient
            ca = os.path.join(self.host.state_dir, "tls", "ca.pem")
            client = GatewayClient(self.cfg.endpoint, self.cfg.user, self.cfg.password,
                                   verify=False if self.cfg.insecure else ca)
            if self.cfg.insecure:
                import urllib3
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            try:
                client.login()
            except Exception as exc:
                raise RexrayError(f"error logging in to the ScaleIO gateway {self.cfg.endpoint}: "
                                  f"{_short(exc)}") from None
            self._client = client
        return self._client

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RexrayError:
            raise
        except Exception as exc:
            raise RexrayError(f"{what}: {_short(exc)}") from None

    def _list(self, kind: str, what: str) -> list[dict]:
        return self._call(f"error listing {what}", self.client.instances, kind)

    def system_id(self) -> str:
        if self._system_id is None:
            systems = self._list("System", "systems")
            wanted = [x for x in systems if (self.cfg.system_id and x.get("id") == self.cfg.system_id)
                      or (not self.cfg.system_id and x.get("name") == self.cfg.system_name)]
            if not wanted:
                raise RexrayError("error finding the ScaleIO system: no system "
                                  f"{self.cfg.system_id or 'named ' + str(self.cfg.system_name)}")
            self._system_id = wanted[0]["id"]
        return self._system_id

    def pool_id(self, pool_name: str | None = None) -> str:
        self.system_id()
        if self.cfg.pool_id and not pool_name:
            return self.cfg.pool_id
        name = pool_name or self.cfg.pool_name
        if not name:
            raise RexrayError("no storage pool configured (scaleio.storagePoolName)")
        pd_id = self.cfg.pd_id
        if not pd_id and self.cfg.pd_name:
            pds = [p for p in self._list("ProtectionDomain", "protection domains") if p.get("name") == self.cfg.pd_name]
            if not pds:
                raise RexrayError(f"no protection domain named {self.cfg.pd_name}")
            pd_id = pds[0]["id"]
        pools = [p for p in self._list("StoragePool", "storage pools")
                 if p.get("name") == name and (not pd_id or p.get("protectionDomainId") == pd_id)]
        if not pools:
            raise RexrayError(f"no storage pool named {name}")
        return pools[0]["id"]

    def sdc_id(self) -> str:
        if not sdcstate.is_loaded(self.host):
            raise RexrayError("error getting the instance ID: the scini driver is not loaded")
        guid = (self.cfg.guid or sdcstate.guid(self.host)).upper()
        found = [x for x in self._list("Sdc", "SDCs") if str(x.get("sdcGuid", "")).upper() == guid]
        if not found:
            raise RexrayError(f"error getting the instance ID: no SDC with GUID {guid} is known to the "
                              f"system (is the SDC connected to the MDM?)")
        return found[0]["id"]

    def _volumes(self) -> list[dict]:
        self.system_id()
        return self._list("Volume", "volumes")

    def _volume(self, name: str) -> dict | None:
        return next((v for v in self._volumes() if v.get("name") == name), None)

    def _refresh(self, vol: dict) -> dict:
        return self._call("error reading volume", self.client.instance, "Volume", vol["id"])

    # -- views --------------------------------------------------------------------------------
    def info(self, vol: dict, sdc_id: str | None) -> VolumeInfo:
        mapped = [m.get("sdcId") for m in (vol.get("mappedSdcInfo") or [])]
        status = "available"
        if mapped:
            status = "attached" if sdc_id in mapped else "unavailable"
        device = None
        if status == "attached":
            device = sdcstate.volumes(self.host).get(vol["id"])
            device = f"/dev/{device}" if device else None
        path = self.mount_path(vol["name"]) if self.is_mounted(vol["name"]) else None
        return VolumeInfo(vol["id"], vol["name"], int(vol.get("sizeInKb", 0)) // (1024 * 1024), status, device,
                          path)

    def list(self, names=()) -> list[VolumeInfo]:
        sdc_id = self._sdc_id_or_none()
        vols = [v for v in self._volumes() if not names or v.get("name") in names]
        missing = set(names) - {v.get("name") for v in vols}
        if missing:
            raise RexrayError(f"volume not found: {sorted(missing)[0]}")
        return [self.info(v, sdc_id) for v in sorted(vols, key=lambda v: v.get("name", ""))]

    def _sdc_id_or_none(self):
        try:
            return self.sdc_id()
        except RexrayError:
            return None

    def get(self, name: str) -> VolumeInfo:
        vol = self._volume(name)
        if vol is None:
            raise RexrayError(f"volume not found: {name}")
        return self.info(vol, self._sdc_id_or_none())

    # -- operations ---------------------------------------------------------------------------
    def create(self, name: str, size_gb: int | None = None, pool_name: str | None = None,
               thin: bool | None = None) -> VolumeInfo:
        if self._volume(name) is not None:
            raise RexrayError(f"volume already exists: {name}")
        size = int(size_gb or self.cfg.default_size)
        kind = "ThinProvisioned" if (self.cfg.thin if thin is None else thin) else "ThickProvisioned"
        created = self._call("error creating volume", self.client.create_volume, self.pool_id(pool_name), size,
                             name, kind == "ThinProvisioned")
        return self.info(created, None)

    def attach(self, name: str, preempt: bool | None = None) -> tuple[dict, str]:
        """Map the volume to this host's SDC. Attached elsewhere: refused, or with preempt detached
        from every SDC first (libStorage's forced VolumeDetach: ``removeMappedSdc`` with
        ``allSdcs``), which works whether the other host is alive or dead."""
        vol = self._volume(name)
        if vol is None:
            raise RexrayError(f"volume not found: {name}")
        sdc_id = self.sdc_id()
        mapped = [m.get("sdcId") for m in (vol.get("mappedSdcInfo") or [])]
        others = [s for s in mapped if s != sdc_id]
        if others:
            if not (self.cfg.preempt if preempt is None else preempt):
                raise RexrayError(f"volume {name} is attached to another host (sdc {others[0]}); "
                                  "enable mount.preempt to take it over")
            self._call("error detaching volume from the other host", self.client.action, "Volume",
                       vol["id"], "removeMappedSdc", {"allSdcs": "TRUE", "ignoreScsiInitiators": "TRUE"})
            mapped = []
        if sdc_id not in mapped:
            self._call("error attaching volume", self.client.action, "Volume", vol["id"], "addMappedSdc",
                       {"sdcId": sdc_id, "allowMultipleMappings": "FALSE"})
        self.rescan()
        return vol, sdc_id

    def rescan(self) -> None:
        from dcos_scaleio.sandbox.scaleio.tools import drv_cfg
        drv_cfg.refresh_volumes(self.host)

    def mount(self, name: str, preempt: bool | None = None, fs_type: str | None = None) -> VolumeInfo:
        vol, sdc_id = self.attach(name, preempt)
        store = self.contents_dir(vol["id"])
        marker = store / ".fstype"
        if not marker.exists():  # first use: "format" the new device
            marker.write_text((fs_type or "ext4") + "\n")
        (store / self.cfg.root_path.strip("/")).mkdir(parents=True, exist_ok=True)
        mountpoint = self.mountpoint(name)
        if not self.is_mounted(name):
            mount_bind(self.host, store, mountpoint)
        return self.info(self._refresh(vol), sdc_id)

    def unmount(self, name: str) -> VolumeInfo:
        vol = self._volume(name)
        if vol is None:
            raise RexrayError(f"volume not found: {name}")
        if self.is_mounted(name):
            unmount_bind(self.host, self.mountpoint(name))
        sdc_id = self.sdc_id()
        if sdc_id in [m.get("sdcId") for m in (vol.get("mappedSdcInfo") or [])]:
            self._call("error detaching volume", self.client.action, "Volume", vol["id"], "removeMappedSdc",
                       {"sdcId": sdc_id})
        self.rescan()
        return self.info(self._refresh(vol), sdc_id)

    def remove(self, name: str) -> VolumeInfo:
        vol = self._volume(name)
        if vol is None:
            raise RexrayError(f"volume not found: {name}")
        if vol.get("mappedSdcInfo"):
            raise RexrayError(f"volume {name} is attached; unmount it first")
        info = self.info(vol, None)
        self._call("error removing volume", self.client.action, "Volume", vol["id"], "removeVolume",
                   {"removeMode": "ONLY_ME"})
        store = self.contents_dir(vol["id"], create=False)
        if store.exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(store)], check=False)
        return info

    # -- host paths ---------------------------------------------------------------------------
    def contents_dir(self, volume_id: str, create: bool = True) -> pathlib.Path:
        if not volume_id.isalnum():
            raise RexrayError(f"bad volume id {volume_id!r}")
        path = pathlib.Path(self.host.state_dir) / "hostside" / "volumes" / volume_id
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def mountpoint(self, name: str) -> str:
        if "/" in name or name in (".", ".."):
            raise RexrayError(f"bad volume name {name!r}")
        return f"{VOLUMES_ROOT}/{name}"

    def mount_path(self, name: str) -> str:
        return self.mountpoint(name) + "/" + self.cfg.root_path.strip("/")

    def is_mounted(self, name: str) -> bool:
        return is_mounted(self.host, self.mountpoint(name))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ------------------------------------------------------------------------------------------------
# mounting: a bind mount inside the agent's mount namespace, or a symlink with a relocated root
# ------------------------------------------------------------------------------------------------
def _relocated(host: hostside.Host) -> bool:
    return str(host.root) != "/"


def is_mounted(host: hostside.Host, mountpoint: str) -> bool:
    if _relocated(host):
        return host.path(mountpoint).is_symlink()
    with contextlib.suppress(FileNotFoundError):
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4 and fields[4].replace("\\040", " ") == mountpoint:
                    return True
    return False


def mount_bind(host: hostside.Host, source: pathlib.Path, mountpoint: str) -> None:
    target = host.path(mountpoint)
    if _relocated(host):
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink() if target.is_symlink() else target.rmdir()
        target.symlink_to(source)
        return
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "--bind", str(source), mountpoint], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RexrayError(f"error mounting volume at {mountpoint}: {proc.stderr.strip()}")


def unmount_bind(host: hostside.Host, mountpoint: str) -> None:
    if _relocated(host):
        with contextlib.suppress(FileNotFoundError):
            host.path(mountpoint).unlink()
        return
    proc = subprocess.run(["umount", mountpoint], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RexrayError(f"error unmounting {mountpoint}: {proc.stderr.strip()}")
