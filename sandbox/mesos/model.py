"""The master's bookkeeping records: frameworks, tasks, offers and agents as the master sees them."""
import socket
import struct
import uuid

from . import resources as res
from .protocol import TERMINAL_STATES, idv, now


class Framework:
    def __init__(self, fid, info):
        self.id = fid
        self.info = dict(info, id=idv(fid))
        self.stream = None              # the current httpserver.Stream, or None when disconnected
        self.stream_id = None
        self.frozen = False             # fault hook: the subscription is half-open, nothing arrives
        self.call_connections = set()   # connections its calls arrived on (cut when the network "drops")
        self.heartbeat = None           # asyncio task
        self.failover_timer = None
        self.tasks = {}                 # task_id -> Task
        self.offers = set()             # offer ids
        self.filters = {}               # (agent_id, role) -> (deadline, refused bag)
        self.suppressed = set()         # roles
        self.registered_time = now()
        self.active = True

    @property
    def info(self):
        return self._info

    @info.setter
    def info(self, value):
        # FrameworkInfo is replaced (never edited in place) when capabilities or roles change, so the
        # derived sets are computed once per info: the allocator asks for them per agent per tick.
        self._info = value
        self._capabilities = frozenset(c.get("type") for c in value.get("capabilities", []) if isinstance(c, dict))
        if "MULTI_ROLE" in self._capabilities:
            self._roles = tuple(value.get("roles", [])) or ("*",)
        else:
            self._roles = (value.get("role", "*"),)

    @property
    def capabilities(self):
        return self._capabilities

    @property
    def partition_aware(self):
        return "PARTITION_AWARE" in self.capabilities

    @property
    def multi_role(self):
        return "MULTI_ROLE" in self.capabilities

    @property
    def roles(self):
        return list(self._roles)

    @property
    def checkpoint(self):
        return bool(self.info.get("checkpoint", False))

    @property
    def connected(self):
        return self.stream is not None and not self.stream.closed

    def send(self, event):
        """Queue an event on the subscription; events for a disconnected framework are dropped, and so
        are those for a frozen (silently half-open) subscription."""
        if self.connected and not self.frozen:
            self.stream.send(event)


class Task:
    def __init__(self, info, framework_id, agent_id, executor_id, bag, role):
        self.info = info
        self.id = info["task_id"]["value"]
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.executor_id = executor_id
        self.bag = bag
        self.role = role
        self.state = "TASK_STAGING"
        self.status = None              # latest TaskStatus dict
        self.status_update_state = None
        self.status_update_uuid = None
        self.statuses = []

    @property
    def terminal(self):
        return self.state in TERMINAL_STATES


class Offer:
    def __init__(self, oid, framework_id, agent_id, role, bag):
        self.id = oid
        self.framework_id = framework_id
        self.agent_id = agent_id
        self.role = role
        self.bag = bag


def ip_uint32(ip):
    """MasterInfo.ip: the address in network byte order read as a host-order uint32."""
    return struct.unpack("<I", socket.inet_aton(ip))[0]


class AgentRecord:
    """The master's view of one registered agent."""

    def __init__(self, agent_id, agent):
        self.id = agent_id
        self.agent = agent              # the emulated agent object (agent.Agent or sim.SimAgent)
        self.hostname = agent.hostname
        self.ip = agent.ip
        self.port = agent.port
        self.version = agent.version
        self.role = agent.role          # "*" or e.g. "slave_public": every resource is reserved to it
        self.attributes = agent.attributes_proto()
        self.total = res.norm(agent.total_resources)
        self.state = "active"           # active | disconnected | unreachable | gone
        self.unreachable_time = None
        self.registered_time = now()
        self.tasks = {}                 # (framework_id, task_id) -> Task
        self.executors = {}             # (framework_id, executor_id) -> ExecutorInfo dict
        self.offered = {}               # offer_id -> bag
        self._free_cache = None         # (key, bag): see free()

    def used(self):
        bag = {}
        for task in self.tasks.values():
            if not task.terminal:
                bag = res.add(bag, task.bag)
        for info in self.executors.values():
            bag = res.add(bag, res.from_proto(info.get("resources", [])))
        return bag

    def free(self):
        """Total minus live tasks, executors and outstanding offers. Memoised on what it depends on
        (each task's bag and each offer's bag never change; an executor entry may be replaced), because
        the allocator asks for it every tick on every agent."""
        key = (tuple(k for k, t in self.tasks.items() if not t.terminal),
               tuple((k, id(v)) for k, v in self.executors.items()), tuple(self.offered))
        if self._free_cache is not None and self._free_cache[0] == key:
            return dict(self._free_cache[1])
        bag = res.subtract(self.total, self.used())
        for offered in self.offered.values():
            bag = res.subtract(bag, offered)
        self._free_cache = (key, bag)
        return dict(bag)

    def url(self):
        return {"scheme": "http", "address": {"hostname": self.hostname, "ip": self.ip, "port": self.port},
                "path": "/slave(1)"}

    def agent_info(self):
        return {"hostname": self.hostname, "port": self.port, "id": idv(self.id),
                "resources": res.to_proto(self.total, self.role), "attributes": self.attributes}


def new_uuid():
    return str(uuid.uuid4())
