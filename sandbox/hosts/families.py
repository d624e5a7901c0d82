"""Facts per emulated OS family (Debian/Ubuntu vs RHEL/CentOS) and the sandbox's files inside an agent.

Files the sandbox keeps inside every provisioned agent (all in the agent's own root):
- ``/etc/os-release``                 the family and release, as the real file
- ``/etc/sandbox/host.json``          ``{"os_family", "kernel", "boot_kernel", "flavour"}`` (provision)
- ``/etc/sandbox/agent.json``         written by whoever creates the agent (Mesos emulator): name, ip, control_url
- ``/run/sandbox/kernel``             the running kernel (set by hosts.boot(); lost on reboot)
- ``/var/lib/sandbox/disks.json``     the disk table lsblk/blkid read (see hosts.disks)
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os

HOST_JSON = "/etc/sandbox/host.json"
AGENT_JSON = "/etc/sandbox/agent.json"
RUNNING_KERNEL = "/run/sandbox/kernel"
DEFAULT_KERNEL = "4.15.0-20-generic"

FAMILIES = ("ubuntu", "rhel")

OS_RELEASE = {
    "ubuntu": (
        'NAME="Ubuntu"\nVERSION="16.04.7 LTS (Xenial Xerus)"\nID=ubuntu\nID_LIKE=debian\n'
        'PRETTY_NAME="Ubuntu 16.04.7 LTS"\nVERSION_ID="16.04"\nHOME_URL="http://www.ubuntu.com/"\n'
        'SUPPORT_URL="http://help.ubuntu.com/"\nBUG_REPORT_URL="http://bugs.launchpad.net/ubuntu/"\n'
        'VERSION_CODENAME=xenial\nUBUNTU_CODENAME=xenial\n'),
    "rhel": (
        'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
        'PRETTY_NAME="CentOS Linux 7 (Core)"\nANSI_COLOR="0;31"\nCPE_NAME="cpe:/o:centos:centos:7"\n'
        'HOME_URL="https://www.centos.org/"\nBUG_REPORT_URL="https://bugs.centos.org/"\n'),
}

# Where each family keeps its package database (the fake dpkg/rpm own these, shadowing the machine's).
PKG_DB_DIR = {"ubuntu": "/var/lib/dpkg", "rhel": "/var/lib/rpm"}
PKG_EXT = {"ubuntu": "deb", "rhel": "rpm"}
ARCH = {"ubuntu": "amd64", "rhel": "x86_64"}
# Where packages put their unit files.
UNIT_DIR = {"ubuntu": "/lib/systemd/system", "rhel": "/usr/lib/systemd/system"}
# Base packages a fresh install of the family reports as installed.
BASE_PACKAGES = {
    "ubuntu": [("base-files", "9.4ubuntu4.14"), ("bash", "4.3-14ubuntu1.4"), ("coreutils", "8.25-2ubuntu3~16.04"),
               ("dpkg", "1.18.4ubuntu1.7"), ("apt", "1.2.35"), ("libc6", "2.23-0ubuntu11.3"),
               ("systemd", "229-4ubuntu21.31"), ("util-linux", "2.27.1-6ubuntu3.10"),
               ("python3", "3.5.1-3"), ("tar", "1.28-2.1ubuntu0.2"), ("gzip", "1.6-4ubuntu1")],
    "rhel": [("centos-release", "7-9.2009.1.el7.centos"), ("bash", "4.2.46-34.el7"),
             ("coreutils", "8.22-24.el7_9.2"), ("rpm", "4.11.3-45.el7"), ("yum", "3.4.3-168.el7.centos"),
             ("glibc", "2.17-326.el7_9"), ("systemd", "219-78.el7_9.7"), ("util-linux", "2.23.2-65.el7_9.1"),
             ("python", "2.7.5-90.el7"), ("tar", "1.26-35.el7"), ("gzip", "1.5-11.el7_9")],
}
# The generic tools per family: (tool module, in-agent paths). Debian's merged /usr is honoured by
# AgentRoot.resolve(), so /bin/x and /usr/bin/x may be one file.
COMMON_TOOLS = [
    ("systemctl", ["/usr/bin/systemctl", "/bin/systemctl"]),
    ("uname", ["/bin/uname", "/usr/bin/uname"]),
    ("lsblk", ["/bin/lsblk", "/usr/bin/lsblk"]),
    ("blkid", ["/sbin/blkid", "/usr/sbin/blkid"]),
    ("service", ["/usr/sbin/service"]),
    ("kmod_tools", ["/sbin/lsmod", "/sbin/modprobe", "/sbin/insmod", "/sbin/rmmod"]),
]
FAMILY_TOOLS = {
    "ubuntu": [("apt_get", ["/usr/bin/apt-get"]), ("dpkg", ["/usr/bin/dpkg"]),
               ("dpkg_query", ["/usr/bin/dpkg-query"])],
    "rhel": [("yum", ["/usr/bin/yum"]), ("rpm", ["/usr/bin/rpm", "/bin/rpm"])],
}
# The other family's tools are hidden in the agent (the machine may have them).
FOREIGN_PATHS = {
    "ubuntu": ["/usr/bin/yum", "/usr/bin/rpm"],
    "rhel": ["/usr/bin/apt-get", "/usr/bin/apt", "/usr/bin/dpkg", "/usr/bin/dpkg-query", "/usr/bin/dpkg-deb",
             "/var/lib/dpkg", "/etc/apt", "/etc/debian_version"],
}
MESOS_UNITS = {"mesos": "mesos-slave", "dcos": "dcos-mesos-slave"}


def load_json(path: str, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return default


def write_json_atomic(path: str, data, mode: int = 0o644) -> None:
    """Write JSON so readers never see a half-written file (tmp + rename)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(path: str):
    """Hold an exclusive flock on ``<path>.lock`` (read-modify-write of a JSON state file by several
    tool processes inside one agent)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def host_config() -> dict:
    """This agent's /etc/sandbox/host.json (inside the agent), with defaults for a bare agent."""
    cfg = load_json(HOST_JSON, {}) or {}
    if "os_family" not in cfg:
        cfg["os_family"] = detect_family()
    cfg.setdefault("kernel", DEFAULT_KERNEL)
    cfg.setdefault("boot_kernel", cfg["kernel"])
    cfg.setdefault("flavour", "mesos")
    return cfg


def detect_family() -> str:
    """The family named by /etc/os-release (ID / ID_LIKE), as the framework would detect it."""
    try:
        text = open("/etc/os-release").read()
    except FileNotFoundError:
        return "ubuntu"
    ids = ""
    for line in text.splitlines():
        if line.startswith(("ID=", "ID_LIKE=")):
            ids += " " + line.split("=", 1)[1].strip('"')
    return "rhel" if any(w in ids.split() for w in ("rhel", "centos", "fedora")) else "ubuntu"


def running_kernel() -> str:
    try:
        kernel = open(RUNNING_KERNEL).read().strip()
        if kernel:
            return kernel
    except FileNotFoundError:
        pass
    return host_config()["boot_kernel"]


def hostname() -> str:
    import socket
    return socket.gethostname()


def ensure_hosts_entry() -> None:
    """Inside the agent: map its hostname to its address in /etc/hosts (as cloud-init/DHCP set-ups do),
    from /etc/sandbox/agent.json, so the agent can resolve its own name. No-op without agent.json."""
    agent = load_json(AGENT_JSON, {}) or {}
    ip, names = agent.get("ip"), [n for n in (agent.get("hostname"), hostname()) if n]
    if not ip or not names:
        return
    try:
        lines = open("/etc/hosts").read().splitlines()
    except FileNotFoundError:
        lines = ["127.0.0.1\tlocalhost"]
    entry = f"{ip}\t" + " ".join(dict.fromkeys(names))
    kept = [line for line in lines if not line.endswith("# sandbox agent")]
    text = "\n".join(kept + [entry + "\t# sandbox agent"]) + "\n"
    tmp = "/etc/hosts.sandbox-new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, "/etc/hosts")
