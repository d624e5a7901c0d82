"""Fixtures for the pure-core tests: a scripted world that answers the engine's decisions.

``World`` is the test's own driver, not a stand-in for product code: the engine is pure, so the
tests talk to it exactly as the scheduler adapter does (events in, decisions out) and play the
part of Mesos and the gateway by answering each decision with the events they would produce.
"""
import pytest

from dcos_scaleio.options import validate
from dcos_scaleio.plan import (AgentAdded, AgentInfo, AgentRemoved, AgentsListed, ClusterActionResult,
                               DeclineOffer, Engine, KillTask, LaunchHostStep, OfferSeen, RestartAgent, Revive,
                               RunClusterAction, ScheduleWakeup, Status, Suppress, TaskStatusUpdate, Tick,
                               plan_status)

PASSWORD = "Sc4leIO-pass"
CREATES = {"sds-register": "sds", "storage-pool": "storage_pool", "protection-domain": "protection_domain",
           "device": "device"}
# Every package for both OS families, so steps are not refused for a missing artifact.
ARTIFACTS = {fam: {comp: {"url": f"https://mirror.test/{fam}/{comp}.pkg", "sha256": "e" * 64}
                   for comp in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")}
             for fam in ("rhel", "ubuntu")}


def options(**sections):
    """Valid options: a password, all artifacts, plus the given sections (deep-merged by validate)."""
    user = {"scaleio": {"admin_password": PASSWORD}, "artifacts": ARTIFACTS}
    for key, value in sections.items():
        user[key] = {**user.get(key, {}), **value}
    hd = user.get("devices", {}).get("host_devices")
    if isinstance(hd, dict):   # tests write {host: [paths]}; the schema wants [{host, paths}]
        user["devices"]["host_devices"] = [{"host": h, "paths": p} for h, p in hd.items()]
    result = validate(user)
    assert result.ok, result.errors
    return result.options


def existing(**sections):
    sio = {"mode": "existing", "existing": {"mdm_ips": ["10.9.0.1", "10.9.0.2"],
                                            "gateway_endpoint": "https://10.9.0.1:443"}}
    sio.update(sections.pop("scaleio", {}))
    return options(scaleio=sio, **sections)


def agent(i, **kw):
    return AgentInfo(kw.pop("agent_id", f"id-{i}"), f"h{i}", f"10.0.0.{i}", **kw)


class World:
    """Answers decisions like Mesos and the gateway would. ``outcomes`` scripts failures:
    step key -> list of ("fail", message) / ("finish", result) / ("hang",) per attempt."""

    def __init__(self, opts, agents=(), now=0.0, os_family="rhel"):
        self.engine = Engine(opts)
        self.now = now
        self.agents = {a.hostname: a for a in agents}
        self.present = set(self.agents)
        self.live = {}        # task_id -> LaunchHostStep
        self.actions = {}     # action_id -> RunClusterAction
        self.restarts = []
        self.wakeup = None
        self.offers_wanted = None
        self.outcomes = {}
        self.os_family = os_family
        self.log = []
        self._offer_seq = 0
        self.started = False

    # -- plumbing
    def feed(self, event):
        decisions = self.engine.handle(event)
        self._absorb(decisions)
        return decisions

    def _absorb(self, decisions):
        for d in decisions:
            self.log.append(d)
            if isinstance(d, LaunchHostStep):
                self.live[d.task_id] = d
            elif isinstance(d, RunClusterAction):
                self.actions[d.action_id] = d
            elif isinstance(d, KillTask):
                self.live.pop(d.task_id, None)
            elif isinstance(d, ScheduleWakeup):
                self.wakeup = d.at
            elif isinstance(d, RestartAgent):
                self.restarts.append(d)
            elif isinstance(d, Revive):
                self.offers_wanted = True
            elif isinstance(d, Suppress):
                self.offers_wanted = False

    def start(self):
        self.started = True
        self._absorb(self.engine.resume(self.now))
        if self.agents:
            self.feed(AgentsListed(self.now, tuple(self.agents.values())))

    def add_agent(self, info):
        self.agents[info.hostname] = info
        self.present.add(info.hostname)
        return self.feed(AgentAdded(self.now, info))

    def remove_agent(self, hostname):
        self.present.discard(hostname)
        info = self.agents[hostname]
        for tid, launch in list(self.live.items()):
            if launch.hostname == hostname:
                del self.live[tid]
        return self.feed(AgentRemoved(self.now, info.agent_id, "test removed it"))

    def offer(self, hostname):
        self._offer_seq += 1
        return self.feed(OfferSeen(self.now, f"offer-{self._offer_seq}", self.agents[hostname].agent_id))

    def status(self, task_id, state, message="", result=None):
        return self.feed(TaskStatusUpdate(self.now, task_id, state, message, result or {}))

    def _outcome(self, key):
        script = self.outcomes.get(key)
        if script and script[0] == ("hang",):
            return script[0]          # hangs stay hung
        return script.pop(0) if script else ("finish", {})

    def answer_tasks(self):
        for tid, launch in list(self.live.items()):
            outcome = self._outcome(launch.step)
            if outcome[0] == "hang":
                continue
            del self.live[tid]
            self.status(tid, "TASK_RUNNING")
            if outcome[0] == "fail":
                self.status(tid, "TASK_FAILED", outcome[1], outcome[2] if len(outcome) > 2 else None)
            else:
                result = {"os_family": self.os_family, **outcome[1]}
                self.status(tid, "TASK_FINISHED", "done", result)

    def answer_actions(self):
        for aid, action in list(self.actions.items()):
            outcome = self._outcome(action.step)
            if outcome[0] == "hang":
                continue
            del self.actions[aid]
            ok = outcome[0] != "fail"
            result = {}
            kind = CREATES.get(action.action)
            if ok and kind:
                # Like framework.cluster: creating actions report the object's ID and that we made it.
                result = {"details": {f"{kind}_id": f"{abs(hash(action.step)) % 16**12:012x}", "created": True}}
            self.feed(ClusterActionResult(self.now, aid, ok, outcome[1] if not ok else "ok", result,
                                          retryable=outcome[2] if len(outcome) > 2 else True))

    def answer_restarts(self):
        while self.restarts:
            r = self.restarts.pop(0)
            info = self.agents[r.hostname]
            self.feed(AgentRemoved(self.now, info.agent_id, "restarting"))
            new = AgentInfo(info.agent_id + "-r", info.hostname, info.ip, info.attributes, info.public,
                            info.cpus, info.mem, info.mesos_version)
            self.agents[r.hostname] = new
            self.feed(AgentAdded(self.now, new))

    def advance(self, seconds):
        self.now += seconds
        if self.wakeup is not None and self.wakeup <= self.now:
            self.wakeup = None
            self.feed(Tick(self.now))

    def round(self):
        for host in sorted(self.present):
            self.offer(host)
        self.answer_tasks()
        self.answer_actions()
        self.answer_restarts()

    def run(self, rounds=60, dt=1.0):
        if not self.started:
            self.start()
        for _ in range(rounds):
            if self.status_of_plan() in (Status.COMPLETE, Status.ERROR):
                break
            self.round()
            self.advance(dt)
        return self.status_of_plan()

    def status_of_plan(self):
        return plan_status(self.engine)

    def step(self, key):
        return self.engine.steps[key]

    def launches(self, key=None):
        return [d for d in self.log if isinstance(d, LaunchHostStep) and (key is None or d.step == key)]

    def declines(self):
        return [d for d in self.log if isinstance(d, DeclineOffer)]


@pytest.fixture
def world_cls():
    return World


@pytest.fixture
def kit():
    """Helpers as one namespace (conftest modules cannot be imported under importlib mode)."""
    class Kit:
        pass
    k = Kit()
    k.World, k.options, k.existing, k.agent, k.PASSWORD = World, options, existing, agent, PASSWORD
    return k
