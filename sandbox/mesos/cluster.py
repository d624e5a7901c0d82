"""MesosCluster: masters + agents + control API on one asyncio loop in a background thread.

Typical use (tests, ``sandbox up``)::

    cluster = MesosCluster(state_dir, agents=[AgentSpec("a1"), AgentSpec("p1", role="slave_public")],
                           heartbeat_interval=1, allocation_interval=0.2, update_retry=(0.5, 4))
    cluster.start()
    cluster.master_address          # "127.0.0.1:PORT" of the leading master (for pymesos)
    cluster.restart_agent("a1")     # control hooks, see the methods below
    cluster.stop()                  # stops every process it started and unmounts everything

All public methods are thread-safe (they run on the loop and wait for the result).
"""
import asyncio
import ipaddress
import logging
import os
import random
import socket
import threading

from .agent import Agent
from .clock import Clock
from .control import ControlApi
from .httpserver import HttpServer
from .master import Master, MasterEndpoint
from .operator_api import OperatorApi
from .protocol import DEFAULT_VERSION
from .sim import SimAgent, compile_durations
from .spec import AgentSpec
from .zk_leader import ZkPublisher

HOST_JSON = "/etc/sandbox/host.json"     # written by sandbox.hosts.provision: the root has an init

log = logging.getLogger(__name__)


def _free_ip_prefix():
    """A 127.X prefix whose first agent address is free on port 5051 (clusters may run side by side).

    X is in 2..99: the ScaleIO world's tests take their addresses from 127.100-249 (see
    tests/sandbox/scaleio/conftest.py), so agents of a cluster in another test process never
    land on an address one of those tests' daemons listens on."""
    for _ in range(50):
        second = random.randint(2, 99)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((f"127.{second}.0.1", 5051))
                return f"127.{second}"
            except OSError:
                continue
    raise RuntimeError("no free 127.x prefix for agents")


class MesosCluster:
    def __init__(self, state_dir, agents=(), *, masters=1, master_host="127.0.0.1", port=0, control_port=0,
                 heartbeat_interval=15.0, allocation_interval=1.0, version=DEFAULT_VERSION,
                 update_retry=(10.0, 600.0), agent_ping_timeout=75.0, offer_timeout=None, time_scale=1.0,
                 simulated=False, sim_task_duration=5.0, sim_task_durations=(), ip_prefix=None, master_restart_delay=0.5, zk=None,
                 credentials=None):
        """Options (durations are emulated seconds, see ``time_scale``):

        - ``agents``: AgentSpec (or dicts of its fields); ``masters``: endpoints (>= 2 for leader
          changes; standbys listen on the next addresses after ``master_host``); ``port``: the leader's
          port (0: any free one; standbys use the same port when it is fixed);
        - ``heartbeat_interval`` (SUBSCRIBED/HEARTBEAT), ``allocation_interval`` (offer tick),
          ``update_retry`` (agent status update resend: first interval, cap), ``agent_ping_timeout``
          (a stopped agent becomes unreachable), ``offer_timeout`` (rescind held offers; None: never);
        - ``simulated``: benchmark agents without processes or roots, tasks end after
          ``sim_task_duration``, or per task name after the first matching ``sim_task_durations``
          entry (``{regex: seconds}``, see :mod:`.sim`); ``ip_prefix``: ``"127.X"`` for agent addresses (default: a free one);
        - ``zk``: ``host:port/path`` to publish master znodes; ``credentials``: {principal: secret}
          enables HTTP Basic framework authentication; ``version``: the masters' Mesos version.
        """
        self.state_dir = os.path.abspath(state_dir)
        self.specs = [a if isinstance(a, AgentSpec) else AgentSpec.from_dict(a) for a in agents]
        self.masters = max(1, int(masters))
        self.master_host = master_host
        self.port = port
        self.control_port = control_port
        self.clock = Clock(time_scale)
        self.update_retry = update_retry
        self.simulated = simulated
        self.sim_task_duration = sim_task_duration
        self.sim_task_durations = compile_durations(sim_task_durations)
        self.ip_prefix = ip_prefix
        self.master_restart_delay = master_restart_delay
        self.zk = ZkPublisher(zk) if zk else None      # publish MasterInfo znodes for zk:// detection
        self.master = Master(self.clock, heartbeat_interval=heartbeat_interval,
                             allocation_interval=allocation_interval, version=version,
                             agent_ping_timeout=agent_ping_timeout, offer_timeout=offer_timeout,
                             credentials=credentials)
        self.master.operator = OperatorApi(self.master)
        self.agents = {}                # name -> Agent | SimAgent
        self.control = None
        self.loop = None
        self._thread = None
        self._ip_seq = 0
        self._started = False

    # ------------------------------------------------------------------ loop plumbing
    def call(self, coro, timeout=120):
        """Run a coroutine on the cluster loop from any other thread and return its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("MesosCluster.call() from the loop thread would deadlock; await the coroutine")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, timeout=120):
        os.makedirs(self.state_dir, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mesos-emulator", daemon=True)
        self._thread.start()
        self._started = True
        try:
            self.call(self._start(), timeout)
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self):
        for i in range(self.masters):
            host = self.master_host if i == 0 else str(ipaddress.ip_address(self.master_host) + i)
            port = self.port if (i == 0 or self.port) else 0
            ep = MasterEndpoint(host, port)
            ep.server = HttpServer(host, port, lambda req, ep=ep: self.master.handle(ep, req), name=f"master{i}")
            await ep.server.start()
            ep.port = ep.server.port
            self.master.endpoints.append(ep)
        self.master.leader = 0
        if self.zk is not None:
            await asyncio.to_thread(self.zk.start)
            for i, ep in enumerate(self.master.endpoints):
                await asyncio.to_thread(self.zk.contend, i, self.master.master_info(ep))
        self.master.allocator.start()
        self.control = ControlApi(self, self.master_host, self.control_port)
        await self.control.start()
        if self.ip_prefix is None and not self.simulated:
            self.ip_prefix = await asyncio.to_thread(_free_ip_prefix)
        elif self.ip_prefix is None:
            self.ip_prefix = "127.200"
        await asyncio.gather(*(self._add_agent(spec) for spec in self.specs))

    def stop(self, timeout=120):
        """Stop every agent (killing every process in every root and unmounting), then the masters."""
        if not self._started:
            return
        self._started = False
        try:
            self.call(self._stop(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    async def _stop(self):
        self.master.allocator.stop()
        results = await asyncio.gather(*(a.shutdown() for a in self.agents.values()), return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                log.error("agent shutdown failed: %s", r)
        for ep in self.master.endpoints:
            if ep.server is not None:
                await ep.server.stop()
        if self.control is not None:
            await self.control.stop()
        if self.zk is not None:
            await asyncio.to_thread(self.zk.stop)
        for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
            task.cancel()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ agents
    def _next_ip(self):
        n = self._ip_seq
        self._ip_seq += 1
        return f"{self.ip_prefix}.{n // 250}.{n % 250 + 1}"

    async def _add_agent(self, spec):
        if spec.name in self.agents:
            raise ValueError(f"agent {spec.name} exists")
        if spec.ip is None:
            spec.ip = self._next_ip()
        if spec.hostname is None:
            spec.hostname = spec.ip
        if self.simulated:
            agent = SimAgent(spec, master=self.master, clock=self.clock, task_duration=self.sim_task_duration,
                             update_retry=self.update_retry, task_durations=self.sim_task_durations)
        else:
            agent = Agent(spec, master=self.master, clock=self.clock, state_dir=self.state_dir,
                          control_url=self.control.url, update_retry=self.update_retry)
        self.agents[spec.name] = agent
        if not await agent.start():
            raise RuntimeError(f"agent {spec.name} failed to start: {agent.failure}")
        return self.agent_info(agent)

    def add_agent(self, spec):
        """Add (and boot) an agent at runtime; returns its info dict. Announced as AGENT_ADDED."""
        return self.call(self._add_agent(spec if isinstance(spec, AgentSpec) else AgentSpec.from_dict(spec)))

    def agent(self, name):
        return self.agents[name]

    def agent_info(self, agent):
        root = getattr(agent, "root", None)
        return {"name": agent.name, "id": agent.agent_id, "hostname": agent.hostname, "ip": agent.ip,
                "port": agent.port, "role": agent.role, "version": agent.version,
                "attributes": dict(agent.spec.attributes), "flavour": agent.spec.flavour,
                "state": agent.state, "failure": agent.failure,
                "root": str(root.upper) if root is not None else None,
                "work_dir": getattr(agent, "work_dir", None)}

    def info(self):
        """What ``sandbox mesos`` prints once ready."""
        return {"master": self.master_address, "master_url": self.master_url,
                "masters": [ep.address for ep in self.master.endpoints],
                "control_url": self.control.url, "state_dir": self.state_dir,
                "agents": [self.agent_info(a) for a in self.agents.values()]}

    async def _info(self):
        return self.info()

    def snapshot(self):
        return self.call(self._info())

    @property
    def master_url(self):
        """What a framework should be given: ``zk://.../mesos`` when ZooKeeper is used, else host:port."""
        return self.zk.url if self.zk is not None else self.master_address

    @property
    def master_address(self):
        ep = self.master.leader_endpoint or self.master.endpoints[0]
        return ep.address

    # ------------------------------------------------------------------ control hooks
    async def _restart_agent(self, name, down_seconds=0.0, wait=True):
        agent = self.agents[name]
        await agent.stop_process()
        if not wait:
            asyncio.ensure_future(self._boot_later(agent, down_seconds))
            return self.agent_info(agent)
        if down_seconds:
            await self.clock.sleep(down_seconds)
        await agent.boot()
        return self.agent_info(agent)

    async def _boot_later(self, agent, down_seconds):
        if down_seconds:
            await self.clock.sleep(down_seconds)
        await agent.boot()

    def restart_agent(self, name, down_seconds=0.0, wait=True):
        """Kill the agent process and start it again: flags are reread from its root, checkpointed
        executors get ``executor_reregistration_timeout`` to come back. Returns the agent info
        (``state`` is ``failed`` with ``failure`` set if recovery was refused)."""
        return self.call(self._restart_agent(name, down_seconds, wait))

    async def _reboot_agent(self, name, start=True, timeout=60.0):
        agent = self.agents[name]
        provisioned = getattr(agent, "root", None) is not None and \
            agent.root.read_text(HOST_JSON) is not None
        if not (start and provisioned):
            await agent.reboot(start)
            return self.agent_info(agent)
        # A host with the sandbox's init: booting it starts its enabled units, and the Mesos agent unit
        # starts the agent through the control API (a disabled unit leaves it down, as on a real host).
        from ..hosts import boot as boot_host
        await agent.reboot(start=False)
        failed = await asyncio.to_thread(boot_host, agent.root)
        if failed:
            log.warning("agent %s: units failed at boot: %s", name, failed)
        await asyncio.sleep(0.05)                 # let a boot requested by the unit begin
        deadline = self.clock.now() + timeout
        while agent.booting and self.clock.now() < deadline:
            await asyncio.sleep(0.05)
        return self.agent_info(agent)

    def reboot_agent(self, name, start=True):
        """Reboot the agent's host (AgentRoot.reboot): every process in it dies, executors are not
        recovered. With ``start``: a host provisioned by ``sandbox.hosts`` boots its enabled units
        (its Mesos agent unit starts the agent); an unprovisioned one gets its agent started directly.
        Without ``start`` the agent stays down until start_agent (or ``hosts.boot``) is called."""
        return self.call(self._reboot_agent(name, start))

    async def _stop_agent(self, name):
        await self.agents[name].stop_process()
        return self.agent_info(self.agents[name])

    def stop_agent(self, name):
        """The agent process dies (``kill``/``systemctl stop``); executors keep running."""
        return self.call(self._stop_agent(name))

    kill_agent = stop_agent

    async def _start_agent(self, name, wait=True):
        agent = self.agents[name]
        if agent.state in ("running", "recovering"):
            return self.agent_info(agent)
        if wait:
            await agent.boot()
        else:
            asyncio.ensure_future(agent.boot())
        return self.agent_info(agent)

    def start_agent(self, name, wait=True):
        return self.call(self._start_agent(name, wait))

    async def _remove_agent(self, name):
        agent = self.agents.pop(name)
        if agent.agent_id is not None:
            self.master.remove_agent(agent.agent_id)
        await agent.shutdown()
        return True

    def remove_agent(self, name):
        """Decommission: the master marks the agent gone (TASK_GONE_BY_OPERATOR / TASK_LOST, FAILURE,
        RESCIND, AGENT_REMOVED) and everything on it is destroyed."""
        return self.call(self._remove_agent(name))

    async def _partition(self, name, heal):
        agent = self.agents[name]
        agent.heal() if heal else agent.partition()
        return self.agent_info(agent)

    def partition_agent(self, name):
        """Cut the agent off the master: TASK_UNREACHABLE (PARTITION_AWARE) or TASK_LOST, FAILURE, RESCIND."""
        return self.call(self._partition(name, False))

    def heal_agent(self, name):
        """End a partition: the agent reregisters and its tasks are known again."""
        return self.call(self._partition(name, True))

    async def _drop(self, fid):
        if fid is None:
            return [f for f in list(self.master.frameworks) if self.master.disconnect_framework(f)]
        return [fid] if self.master.disconnect_framework(fid) else []

    def drop_framework_stream(self, framework_id=None):
        """Close scheduler subscription streams (all when ``framework_id`` is None): the failover timer runs."""
        return self.call(self._drop(framework_id))

    async def _publish_leader(self):
        if self.zk is not None:
            infos = {i: self.master.master_info(ep) for i, ep in enumerate(self.master.endpoints)}
            await asyncio.to_thread(self.zk.elect, self.master.leader, infos)

    async def _freeze(self, fid):
        if fid is None:
            return [f for f in list(self.master.frameworks) if self.master.freeze_framework(f)]
        return [fid] if self.master.freeze_framework(fid) else []

    def freeze_framework_stream(self, framework_id=None):
        """Make subscriptions silently half-open (all when ``framework_id`` is None): no events and no
        heartbeats arrive, the connection stays open. For testing a scheduler's heartbeat watchdog."""
        return self.call(self._freeze(framework_id))

    async def _leader(self, to):
        # A real master that loses leadership exits and is restarted as a standby by its supervisor:
        # every connection to it breaks (calls in flight fail with a socket error, which pymesos treats
        # as a stream failure), and once back it answers 307 to the new leader.
        old = self.master.leader_endpoint
        self.master.change_leader(to)
        await self._publish_leader()
        if old is not None and old is not self.master.leader_endpoint:
            await old.server.stop()
            asyncio.ensure_future(self._restart_endpoint(old))
        return self.master_address

    async def _restart_master(self, down_seconds):
        ep = self.master.leader_endpoint
        self.master.change_leader(self.master.leader)   # same endpoint, new master ID, no failover timers
        await ep.server.stop()
        await self._publish_leader()
        await self._restart_endpoint(ep, down_seconds)
        return self.master_address

    def restart_master(self, down_seconds=0.5):
        """The leading master process dies and comes back at the same address with a new master ID:
        every socket is cut, offers are gone, frameworks must resubscribe (their tasks are kept, as
        a real master relearns them from reregistering agents)."""
        return self.call(self._restart_master(down_seconds))

    async def _restart_endpoint(self, ep, delay=None):
        await self.clock.sleep(self.master_restart_delay if delay is None else delay)
        for _ in range(50):
            try:
                await ep.server.start()
                return
            except OSError:
                await asyncio.sleep(0.1)
        log.error("master endpoint %s could not be restarted", ep.address)

    def change_leader(self, to=None):
        """Make another master endpoint the leader (the old one answers 307). Returns its address."""
        if self.masters < 2:
            raise ValueError("leader change needs a cluster with masters >= 2")
        return self.call(self._leader(to))

    async def _set(self, attr, value):
        if attr == "recovering":
            self.master.recovering = bool(value)
        elif attr == "time_scale":
            self.clock.set_scale(float(value))
        elif attr == "paused":
            self.master.allocator.paused = bool(value)
        return True

    def set_recovering(self, value=True):
        return self.call(self._set("recovering", value))

    def set_time_scale(self, scale):
        return self.call(self._set("time_scale", scale))

    def pause_allocation(self, value=True):
        return self.call(self._set("paused", value))

    async def _rescind(self, offer_id):
        if offer_id is None:
            for oid in list(self.master.offers):
                self.master.discard_offer(oid, rescind=True)
        else:
            self.master.discard_offer(offer_id, rescind=True)
        self.master.allocator.wake()
        return True

    def rescind_offers(self, offer_id=None):
        return self.call(self._rescind(offer_id))

    async def _state(self):
        return self.master.state(self.master.leader_endpoint or self.master.endpoints[0])

    def master_state(self):
        return self.call(self._state())
