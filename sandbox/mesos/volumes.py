"""Docker volumes through ``dvdcli``, as the ``docker/volume`` isolator (or the EMC DVDI module) does.

A container asks for volumes either with ``ContainerInfo.volumes[].source.type == DOCKER_VOLUME``
(docker/volume isolator) or, for the DVDI module, with ``DVDI_VOLUME_NAME[n]``/``DVDI_VOLUME_DRIVER[n]``/
``DVDI_VOLUME_OPTS[n]``/``DVDI_VOLUME_CONTAINERPATH[n]`` environment variables. Before launch each
volume is mounted with ``dvdcli mount --volumedriver=D --volumename=N [--volumeopts=K=V]...`` run
inside the agent root (stdout: the host mount point); after the container is gone it is released
with ``dvdcli unmount``. A volume shared by several containers is mounted once and unmounted when
its last user goes (the isolator's reference counting).

Support check (:func:`volume_support`): ``docker/volume`` or the DVDI module
``com_emccode_mesos_DockerVolumeDriverIsolator`` in ``--isolation`` (an agent whose module does not
load never starts, see :mod:`.modules`), plus ``dvdcli`` on the agent's PATH.
"""
import logging
import os
import re

from .modules import agent_file

log = logging.getLogger(__name__)

DVDI_MODULE = "com_emccode_mesos_DockerVolumeDriverIsolator"
DVDCLI_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
               "/opt/mesosphere/bin")
_NAME = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
_OPT = re.compile(r"^[A-Za-z0-9_.-]+=[^\x00\n]*$")


class VolumeError(Exception):
    pass


def requested_volumes(executor_info, tasks):
    """Every docker volume the container needs: list of dicts {driver, name, options, container_path}."""
    found = []
    infos = [executor_info] if executor_info else []
    infos += list(tasks)
    for info in infos:
        for vol in (info.get("container") or {}).get("volumes", []):
            source = vol.get("source") or {}
            if source.get("type") == "DOCKER_VOLUME":
                dv = source.get("docker_volume") or {}
                opts = [f"{p['key']}={p['value']}" for p in
                        (dv.get("driver_options") or {}).get("parameter", [])]
                found.append({"driver": dv.get("driver", "local"), "name": dv.get("name", ""),
                              "options": opts, "container_path": vol.get("container_path", ""),
                              "kind": "docker/volume"})
        env = {v.get("name"): v.get("value", "") for v in
               ((info.get("command") or {}).get("environment") or {}).get("variables", [])}
        for suffix in [""] + [str(i) for i in range(1, 10)]:
            name = env.get(f"DVDI_VOLUME_NAME{suffix}")
            if name:
                opts = [o for o in env.get(f"DVDI_VOLUME_OPTS{suffix}", "").split(",") if o]
                found.append({"driver": env.get(f"DVDI_VOLUME_DRIVER{suffix}", "rexray"), "name": name,
                              "options": opts, "kind": "dvdi",
                              "container_path": env.get(f"DVDI_VOLUME_CONTAINERPATH{suffix}", "")})
    for vol in found:
        if not _NAME.match(vol["name"]) or not _NAME.match(vol["driver"]):
            raise VolumeError(f"invalid docker volume name or driver: {vol['driver']}/{vol['name']}")
        for opt in vol["options"]:
            if not _OPT.match(opt):
                raise VolumeError(f"invalid docker volume option {opt!r}")
    return found


def find_dvdcli(root):
    for d in DVDCLI_DIRS:
        candidate = agent_file(root, f"{d}/dvdcli")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return f"{d}/dvdcli"
    return None


def volume_support(root, config, kind):
    """None if volumes of ``kind`` can be provided, else the error a real agent reports. A running agent
    has passed :func:`.modules.startup_error`, so a DVDI module named in ``--isolation`` is loaded."""
    dvdi = DVDI_MODULE in config.isolation
    if kind == "docker/volume" and "docker/volume" not in config.isolation and not dvdi:
        return "docker volumes need the 'docker/volume' isolator, which is not enabled"
    if kind == "dvdi" and not dvdi:
        return None                     # without the module the DVDI_* variables are plain environment
    if find_dvdcli(root) is None:
        return "Failed to prepare docker volume: 'dvdcli' was not found on the agent"
    return None


class VolumeManager:
    """Per-agent mount reference counts. Blocking (runs dvdcli): call from a worker thread."""

    def __init__(self):
        self.refs = {}                  # (driver, name) -> [mount_point, users]

    def mount(self, root, vol):
        key = (vol["driver"], vol["name"])
        if key in self.refs:
            self.refs[key][1] += 1
            return self.refs[key][0]
        argv = ["dvdcli", "mount", f"--volumedriver={vol['driver']}", f"--volumename={vol['name']}"]
        argv += [f"--volumeopts={o}" for o in vol["options"]]
        result = root.run(argv, timeout=120)
        if result.returncode != 0:
            raise VolumeError(f"Failed to mount docker volume '{vol['name']}': {result.stderr.strip()[-500:]}")
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        point = lines[-1].strip() if lines else ""
        self.refs[key] = [point, 1]
        return point

    def unmount(self, root, vol):
        key = (vol["driver"], vol["name"])
        entry = self.refs.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del self.refs[key]
        if not root.running:
            return
        result = root.run(["dvdcli", "unmount", f"--volumedriver={vol['driver']}",
                           f"--volumename={vol['name']}"], timeout=120)
        if result.returncode != 0:
            log.warning("dvdcli unmount %s failed: %s", vol["name"], result.stderr.strip())

    def unmount_all(self, root):
        for (driver, name) in list(self.refs):
            self.refs[(driver, name)][1] = 1
            self.unmount(root, {"driver": driver, "name": name})
