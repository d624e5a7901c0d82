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

Checkpointing (``docker/volume`` volumes, as the Mesos isolator does): before mounting, the container's
volumes are written to ``<--docker_volume_checkpoint_dir>/<container id>/volumes`` inside the agent
(default ``/var/run/mesos/isolators/docker/volume``: tmpfs, lost on reboot) as
``{"volumes": [{"driver", "name"}]}``; the directory is removed once they are unmounted. When an agent
starts, every checkpointed container it does not know is an *unknown orphan*: its volumes are unmounted
(unless a live container uses them) and its directory removed; if ``dvdcli unmount`` fails the
directory stays for the next start. So with a persistent checkpoint dir a host that died with a volume
mounted releases it when it comes back; with the default one it never does (REX-Ray's ``preempt``
is then the only way for another host to take the volume).
"""
import json
import logging
import os
import re

from .modules import agent_file

log = logging.getLogger(__name__)

DVDI_MODULE = "com_emccode_mesos_DockerVolumeDriverIsolator"
DVDCLI_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
               "/opt/mesosphere/bin")
DEFAULT_CHECKPOINT_DIR = "/var/run/mesos/isolators/docker/volume"
_NAME = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")
_CONTAINER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
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


def checkpoint_dir(config) -> str:
    path = (config.flags.get("docker_volume_checkpoint_dir") or DEFAULT_CHECKPOINT_DIR).rstrip("/")
    return path if path.startswith("/") else DEFAULT_CHECKPOINT_DIR


def _dvdcli_unmount(root, driver, name):
    """Run ``dvdcli unmount``; returns None or the error text."""
    result = root.run(["dvdcli", "unmount", f"--volumedriver={driver}", f"--volumename={name}"], timeout=120)
    return None if result.returncode == 0 else (result.stderr.strip() or f"exit status {result.returncode}")


class VolumeManager:
    """Per-agent mount reference counts and the docker/volume checkpoint. Blocking (runs dvdcli):
    call from a worker thread."""

    def __init__(self):
        self.refs = {}                  # (driver, name) -> [mount_point, users]

    # -- checkpoint -----------------------------------------------------------------------------
    @staticmethod
    def checkpoint(root, config, container_id, vols):
        """Record a container's docker/volume volumes before they are mounted."""
        mine = [{"driver": v["driver"], "name": v["name"]} for v in vols if v["kind"] == "docker/volume"]
        if mine:
            root.write_text(f"{checkpoint_dir(config)}/{container_id}/volumes", json.dumps({"volumes": mine}))

    @staticmethod
    def forget(root, config, container_id):
        """The container's volumes are released: drop its checkpoint."""
        if root.running:
            root.remove(f"{checkpoint_dir(config)}/{container_id}")

    def cleanup_orphans(self, root, config, known_container_ids):
        """Unmount the volumes of checkpointed containers this agent does not know (it rebooted or
        lost its state); returns ``[(container_id, driver, name, error or None)]``."""
        base = checkpoint_dir(config)
        try:
            entries = sorted(os.listdir(root.path(base)))
        except (FileNotFoundError, NotADirectoryError):
            return []
        done = []
        for cid in entries:
            if cid in known_container_ids or not _CONTAINER_ID.match(cid):
                continue
            try:
                vols = json.loads(root.read_text(f"{base}/{cid}/volumes") or '{"volumes": []}')["volumes"]
            except (ValueError, KeyError, TypeError):
                log.warning("docker volume checkpoint of %s is unreadable; removing it", cid)
                vols = []
            failed = False
            for vol in vols:
                driver, name = vol.get("driver", ""), vol.get("name", "")
                if (driver, name) in self.refs or not (_NAME.match(driver) and _NAME.match(name)):
                    continue            # still used by a live container (or not ours to touch)
                error = _dvdcli_unmount(root, driver, name)
                failed = failed or error is not None
                done.append((cid, driver, name, error))
                if error:
                    log.warning("cleanup of orphan container %s: dvdcli unmount %s failed: %s", cid, name, error)
            if not failed:
                root.remove(f"{base}/{cid}")
        return done

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
        """Release one user of the volume; the last one unmounts it. False if ``dvdcli unmount`` failed."""
        key = (vol["driver"], vol["name"])
        entry = self.refs.get(key)
        if entry is None:
            return True
        entry[1] -= 1
        if entry[1] > 0:
            return True
        del self.refs[key]
        if not root.running:
            return False
        error = _dvdcli_unmount(root, vol["driver"], vol["name"])
        if error:
            log.warning("dvdcli unmount %s failed: %s", vol["name"], error)
        return error is None

    def release(self, root, config, container_id, vols):
        """A container is gone: unmount its volumes (refcounted), then drop its checkpoint unless an
        unmount failed (the next agent start retries it, as the isolator does)."""
        ok = True
        for vol in vols:
            ok = self.unmount(root, vol) and ok
        if ok and "docker/volume" in config.isolation:
            self.forget(root, config, container_id)

    def unmount_all(self, root):
        for (driver, name) in list(self.refs):
            self.refs[(driver, name)][1] = 1
            self.unmount(root, {"driver": driver, "name": name})
