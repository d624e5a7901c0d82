"""Agent startup checks of ``--isolation`` and ``--modules``, as the Mesos containerizer makes them.

A real agent refuses to start (and systemd reports the unit failed) when ``--isolation`` names an
isolator that is neither built in nor provided by a loaded module, or when a module library in
``--modules`` cannot be loaded. Module libraries are built against one Mesos release: the EMC DVDI
isolator's file name carries it (``libmesos_dvdi_isolator-<X.Y.Z>.so``) and it only loads into an
agent of the same major.minor version.
"""
import json
import os
import re

BUILTIN_ISOLATORS = {
    "appc/runtime", "cgroups/all", "cgroups/blkio", "cgroups/cpu", "cgroups/cpuset", "cgroups/devices",
    "cgroups/hugetlb", "cgroups/mem", "cgroups/net_cls", "cgroups/perf_event", "cgroups/pids", "disk/du",
    "disk/xfs", "docker/runtime", "docker/volume", "environment_secret", "filesystem/linux", "filesystem/posix",
    "filesystem/shared", "filesystem/windows", "gpu/nvidia", "linux/capabilities", "linux/devices", "linux/nnp",
    "linux/seccomp", "namespaces/ipc", "namespaces/pid", "network/cni", "network/port_mapping", "network/ports",
    "posix/cpu", "posix/disk", "posix/mem", "posix/rlimits", "volume/csi", "volume/host_path", "volume/image",
    "volume/sandbox_path", "volume/secret", "windows/cpu", "windows/mem",
}
_VERSIONED_LIB = re.compile(r"libmesos_dvdi_isolator-(\d+)\.(\d+)\.\d+\.so$")


def agent_file(root, path):
    """Host path of ``path`` as the agent sees it."""
    pid = root.holder_pid
    return f"/proc/{pid}/root{path}" if pid else str(root.path(path))


def load_modules_config(root, flag):
    """The ``--modules`` JSON (inline, or ``file://`` inside the agent); raises ValueError."""
    text = flag or ""
    if text.startswith("file://"):
        path = text[len("file://"):]
        text = root.read_text(path)
        if text is None:
            raise ValueError(f"Error loading modules: cannot read '{path}'")
    if not text.strip():
        return {"libraries": []}
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"Error loading modules: invalid JSON: {exc}")
    if not isinstance(config, dict):
        raise ValueError("Error loading modules: expected a JSON object")
    return config


def loaded_modules(root, flag, version):
    """Names of the modules the agent loads; raises ValueError with the agent's error if one fails."""
    names = set()
    for lib in load_modules_config(root, flag).get("libraries", []):
        path = lib.get("file") or ""
        if not path.startswith("/") or not os.path.isfile(agent_file(root, path)):
            raise ValueError(f"Error loading modules: Error opening library: '{path}': "
                             f"cannot open shared object file: No such file or directory")
        m = _VERSIONED_LIB.search(path)
        if m and tuple(int(x) for x in m.groups()) != tuple(int(x) for x in version.split(".")[:2]):
            raise ValueError(f"Error loading modules: Error verifying module in '{path}': Mesos version "
                             f"{version} is not compatible with module version {m.group(1)}.{m.group(2)}")
        names |= {mod.get("name") for mod in lib.get("modules", []) if mod.get("name")}
    return names


def startup_error(root, config, version):
    """Why a real agent with these flags would refuse to start, or None."""
    try:
        modules = loaded_modules(root, config.modules, version)
    except ValueError as exc:
        return str(exc)
    for isolator in config.isolation:
        if isolator not in BUILTIN_ISOLATORS and isolator not in modules:
            return (f"Failed to create a containerizer: Could not create MesosContainerizer: "
                    f"Unknown or unsupported isolator '{isolator}'")
    return None
