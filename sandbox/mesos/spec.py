"""AgentSpec: what one emulated agent looks like before it boots (its flags are written from this)."""
import dataclasses

from . import flags as flagmod
from . import resources as res

DEFAULT_RESOURCES = {"cpus": 4.0, "mem": 8192.0, "disk": 65536.0, "ports": [(31000, 32000)]}


@dataclasses.dataclass
class AgentSpec:
    """One agent. ``role`` is ``"*"`` (private) or a role every resource is statically reserved to
    (``"slave_public"`` for DC/OS public agents). ``attributes`` is a list of (name, value) pairs (or a
    dict). ``ip`` defaults to a free 127.x address; ``hostname`` defaults to the ip, as on DC/OS.
    ``flavour`` is ``"mesos"`` (flags in /etc/mesos-slave/*) or ``"dcos"`` (env files). ``flags`` are extra
    agent flags; ``files`` maps in-agent paths to text (or ``[text, mode]``) written into the agent root
    before its first boot (e.g. a preinstalled ``/usr/bin/dvdcli`` or module library)."""
    name: str
    role: str = "*"
    attributes: object = ()
    resources: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_RESOURCES))
    version: str = "1.11.0"
    flavour: str = "mesos"
    ip: str = None
    port: int = 5051
    hostname: str = None
    isolation: str = None
    executor_reregistration_timeout: str = "15secs"
    flags: dict = dataclasses.field(default_factory=dict)
    files: dict = dataclasses.field(default_factory=dict)
    shared_dirs: tuple = ()

    def __post_init__(self):
        if isinstance(self.attributes, dict):
            self.attributes = list(self.attributes.items())
        self.attributes = [(str(k), str(v)) for k, v in self.attributes]
        if isinstance(self.resources, str):
            self.resources = res.parse_flag(self.resources)
        self.resources = {k: ([tuple(r) for r in v] if isinstance(v, list) else float(v))
                          for k, v in self.resources.items()}
        for path, content in self.files.items():
            if not str(path).startswith("/"):
                raise ValueError(f"agent file paths must be absolute: {path!r}")
            if not isinstance(content, (str, list, tuple)):
                raise ValueError(f"agent file {path}: text or [text, mode] expected")
        if self.flavour not in ("mesos", "dcos"):
            raise ValueError(f"unknown agent flavour {self.flavour!r}")
        if not self.name or "/" in self.name:
            raise ValueError(f"bad agent name {self.name!r}")
        tuple(int(p) for p in self.version.split("."))  # must be numeric X.Y.Z

    @property
    def root_hostname(self):
        return self.hostname

    def initial_flags(self, work_dir):
        return flagmod.default_flags(
            ip=self.ip, hostname=self.hostname, port=self.port, work_dir=work_dir, resources=self.resources,
            attributes=self.attributes, role=self.role, flavour=self.flavour, isolation=self.isolation,
            executor_reregistration_timeout=self.executor_reregistration_timeout, extra=self.flags)

    @classmethod
    def from_dict(cls, data):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown agent spec fields: {sorted(unknown)}")
        return cls(**data)
