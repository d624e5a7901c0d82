"""Agent flags as they live on a host, read afresh on every agent (re)start.

Plain Mesos (Mesosphere packages): one file per flag under ``/etc/mesos-slave/<flag>`` holding the
value (``/etc/mesos-slave/isolation`` -> ``cgroups/cpu,cgroups/mem``).
DC/OS: the environment files of the dcos-mesos-slave unit, ``MESOS_<FLAG>=value`` lines, in its order
(:data:`DCOS_ENV_FILES`): ``/opt/mesosphere/etc/mesos-slave-common`` (the installer's defaults, written
here), ``/var/lib/dcos/mesos-slave-common`` (the operator's overrides; attributes are written here), ...

The *agent info* part of the flags (hostname, resources, attributes, default role) is what real
Mesos checks against the checkpointed agent on recovery; see :func:`incompatible`.
"""
from . import resources as res
from .protocol import parse_duration, version_tuple

PLAIN_DIR = "/etc/mesos-slave"
DCOS_BASE = "/opt/mesosphere/etc/mesos-slave-common"
DCOS_OVERRIDE = "/var/lib/dcos/mesos-slave-common"
# The dcos-mesos-slave unit's EnvironmentFile= order (a later file overrides an earlier one).
DCOS_ENV_FILES = ("/opt/mesosphere/environment", DCOS_BASE, "/opt/mesosphere/etc/mesos-slave-common-extras",
                  DCOS_OVERRIDE, "/var/lib/dcos/mesos-resources", "/run/dcos/etc/mesos-slave")
DEFAULT_ISOLATION = "posix/cpu,posix/mem"
DCOS_ISOLATION = "cgroups/cpu,cgroups/mem,disk/du,filesystem/linux,docker/runtime,docker/volume,volume/sandbox_path"


def parse_attributes(text):
    """``rack:r1;zone:z2`` -> [("rack", "r1"), ...] (order kept)."""
    out = []
    for item in filter(None, (s.strip() for s in (text or "").split(";"))):
        name, _, value = item.partition(":")
        out.append((name.strip(), value.strip()))
    return out


def format_attributes(pairs):
    return ";".join(f"{k}:{v}" for k, v in pairs)


def attributes_proto(pairs):
    out = []
    for name, value in pairs:
        try:
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        except ValueError:
            out.append({"name": name, "type": "TEXT", "text": {"value": value}})
    return out


def _parse_env_file(text):
    out = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[7:].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key.startswith("MESOS_"):
            out[key[6:].lower()] = value
    return out


def read_flags(root, flavour):
    """The flag dict the agent would start with, read from inside ``root`` (an AgentRoot)."""
    if flavour == "dcos":
        flags = {}
        for path in DCOS_ENV_FILES:
            flags.update(_parse_env_file(root.read_text(path)))
        return flags
    flags = {}
    directory = root.path(PLAIN_DIR)     # the agent's own view while it runs (upper dir otherwise)
    names = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    for name in names:
        text = root.read_text(f"{PLAIN_DIR}/{name}")
        if text is None:
            continue
        if name.startswith("?"):
            # Mesosphere packaging: "?name" files are boolean flags (presence = true).
            flags[name[1:]] = "true"
        else:
            flags[name] = text.strip()
    return flags


def write_flags(root, flavour, flags):
    """Write the initial flag files into the agent's upper dir (before the agent first starts)."""
    if flavour == "dcos":
        base = {k: v for k, v in flags.items() if k not in ("attributes",)}
        override = {k: v for k, v in flags.items() if k in ("attributes",)}
        for path, values in ((DCOS_BASE, base), (DCOS_OVERRIDE, override)):
            root.write_text(path, "".join(f"MESOS_{k.upper()}={v}\n" for k, v in values.items()))
        return
    for name, value in flags.items():
        root.write_text(f"{PLAIN_DIR}/{name}", f"{value}\n")


def default_flags(*, ip, hostname, port, work_dir, resources, attributes, role, flavour, isolation=None,
                  executor_reregistration_timeout="15secs", extra=None):
    flags = {
        "ip": ip, "hostname": hostname, "port": str(port), "work_dir": work_dir,
        "resources": res.format_flag(resources), "containerizers": "mesos",
        "isolation": isolation or (DCOS_ISOLATION if flavour == "dcos" else DEFAULT_ISOLATION),
        "executor_registration_timeout": "1mins",
        "executor_reregistration_timeout": executor_reregistration_timeout,
        "executor_shutdown_grace_period": "5secs", "recover": "reconnect", "strict": "true",
    }
    if attributes:
        flags["attributes"] = format_attributes(attributes)
    if role and role != "*":
        flags["default_role"] = role
    flags.update(extra or {})
    return flags


class AgentConfig:
    """The typed view of a flag dict that the agent uses."""

    def __init__(self, flags, *, defaults):
        merged = dict(defaults)
        merged.update(flags)
        self.flags = merged
        self.hostname = merged.get("hostname")
        self.work_dir = merged["work_dir"]
        self.role = merged.get("default_role", "*") or "*"
        self.resources = res.parse_flag(merged.get("resources", ""))
        self.attributes = parse_attributes(merged.get("attributes", ""))
        self.isolation = [i.strip() for i in merged.get("isolation", "").split(",") if i.strip()]
        self.modules = merged.get("modules", "")
        self.reconfiguration_policy = merged.get("reconfiguration_policy", "equal")
        self.executor_registration_timeout = parse_duration(merged.get("executor_registration_timeout", "1mins"))
        self.executor_reregistration_timeout = parse_duration(
            merged.get("executor_reregistration_timeout", "2secs"))
        self.executor_shutdown_grace_period = parse_duration(merged.get("executor_shutdown_grace_period", "5secs"))

    def agent_info(self):
        """What is checkpointed as the agent's SlaveInfo and compared on recovery."""
        return {"hostname": self.hostname, "role": self.role, "resources": res.format_flag(self.resources),
                "attributes": format_attributes(self.attributes)}


def incompatible(old_info, new_info, version, policy="equal"):
    """Why a real agent of ``version`` would refuse to recover ``old_info`` with ``new_info``, or None.

    Before 1.5 (and with ``--reconfiguration_policy=equal``) any change is refused; ``additive``
    (1.5+) accepts new attributes and grown resources but no removals or other changes.
    """
    if old_info == new_info:
        return None
    additive = policy == "additive" and version_tuple(version) >= (1, 5, 0)
    if not additive:
        changed = sorted(k for k in new_info if old_info.get(k) != new_info.get(k))
        return (f"Incompatible agent info detected: {', '.join(changed)} changed. To remedy this do as follows: "
                f"Step 1: rm -f <work_dir>/meta/slaves/latest; Step 2: restart the agent.")
    if old_info["hostname"] != new_info["hostname"] or old_info["role"] != new_info["role"]:
        return "Incompatible agent info detected: hostname or role changed"
    old_attrs = dict(parse_attributes(old_info["attributes"]))
    new_attrs = dict(parse_attributes(new_info["attributes"]))
    if any(new_attrs.get(k) != v for k, v in old_attrs.items()):
        return "Incompatible agent info detected: attributes removed or changed"
    if not res.contains(res.parse_flag(new_info["resources"]), res.parse_flag(old_info["resources"])):
        return "Incompatible agent info detected: resources shrank"
    return None
