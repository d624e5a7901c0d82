"""Property tests: random event sequences against the engine, checking its invariants.

Invariants (checked after every event): no step is launched while its previous task or action is
still live; an agent runs one task at a time; a step is launched only when everything it requires
is COMPLETE; a COMPLETE step leaves COMPLETE only through an operator restart/stop/start; every
ERROR step carries a reason; internal indexes agree with a recomputation; snapshots round-trip.
"""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcos_scaleio.plan import (ACTIVE, HOST, AgentAdded, CancelAction, AgentInfo, AgentRemoved, ClusterActionResult,
                               DeviceRequested, Engine, KillTask, LaunchHostStep, OfferSeen, OperatorCommand,
                               RequestRejected, RestartAgent, RunClusterAction, Status, TaskStatusUpdate, Tick,
                               UnknownElement, plan_json)

HOSTS = [f"h{i}" for i in range(1, 6)]
TERMINAL_FAIL = ["TASK_FAILED", "TASK_LOST", "TASK_KILLED", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE",
                 "TASK_UNKNOWN", "TASK_UNREACHABLE"]
VERBS = ["start", "stop", "interrupt", "continue", "restart", "force_complete"]

op = st.one_of(
    st.tuples(st.just("offer"), st.integers(0, 4)),
    st.tuples(st.just("running"), st.integers(0, 9)),
    st.tuples(st.just("finish"), st.integers(0, 9), st.sampled_from([{}, {"restart": "agent"}, {"restart": "reboot"},
                                                                      {"disks": [{"path": "/dev/sdq", "size_gb": 99,
                                                                                  "unused": True}]}])),
    st.tuples(st.just("fail"), st.integers(0, 9), st.sampled_from(TERMINAL_FAIL), st.booleans()),
    st.tuples(st.just("action"), st.integers(0, 9), st.booleans(), st.booleans()),
    st.tuples(st.just("time"), st.sampled_from([0.5, 5, 20, 100, 2000])),
    st.tuples(st.just("remove"), st.integers(0, 4)),
    st.tuples(st.just("add"), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("command"), st.sampled_from(VERBS), st.integers(0, 50), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("device"), st.integers(0, 4), st.sampled_from(["/dev/sdx", "/dev/sdy", "/dev/bad;x"])),
    st.tuples(st.just("restarted"),),
    st.tuples(st.just("roundtrip"),),
)


class Checker:
    def __init__(self, opts, n_agents, engine=None):
        self.engine = engine or Engine(opts)
        self.now = 0.0
        self.agents = {h: AgentInfo(f"{h}-0", h, f"10.0.0.{i + 1}", {}, False, 4 - i % 3, 4096)
                       for i, h in enumerate(HOSTS[:n_agents])}
        self.present = set(self.agents)
        self.live = {}          # task_id -> LaunchHostStep (Mesos' view: running until terminal/killed)
        self.actions = {}       # action_id -> RunClusterAction
        self.restarts = []
        self.complete = set()
        self.offer_seq = 0
        self.absorb(self.engine.resume(0.0))

    # -- feeding and checking
    def feed(self, event, allow_uncomplete=False):
        try:
            out = self.engine.handle(event)
        except (UnknownElement, RequestRejected):
            out = []
        self.absorb(out)
        self.check(allow_uncomplete)

    def absorb(self, out):
        eng = self.engine
        for d in out:
            if isinstance(d, LaunchHostStep):
                assert all(t.step != d.step for t in self.live.values()), f"{d.step} launched twice"
                assert all(t.hostname != d.hostname for t in self.live.values()), f"{d.hostname} runs two tasks"
                self.live[d.task_id] = d
                self._check_ordering(d.step)
            elif isinstance(d, RunClusterAction):
                if d.action != "verify-agent":
                    others = [a for a in self.actions.values() if a.step == d.step and a.action_id != d.action_id]
                    assert not others, f"{d.step} has two actions in flight"
                    self._check_ordering(d.step)
                self.actions[d.action_id] = d
            elif isinstance(d, KillTask):
                self.live.pop(d.task_id, None)
            elif isinstance(d, CancelAction):
                self.actions.pop(d.action_id, None)
            elif isinstance(d, RestartAgent):
                self.restarts.append(d)
        # Actions the engine gave up on (timeout, restart) may still answer later; that is allowed.
        del eng

    def _check_ordering(self, key):
        step = self.engine.steps[key]
        assert all(r.state is Status.COMPLETE for r in step.requires), f"{key} launched before its requirements"

    def check(self, allow_uncomplete):
        eng = self.engine
        now_complete = {k for k, s in eng.steps.items() if s.state is Status.COMPLETE}
        if not allow_uncomplete:
            assert self.complete <= now_complete, f"left COMPLETE: {self.complete - now_complete}"
        self.complete = now_complete
        for s in eng.steps.values():
            if s.state is Status.ERROR:
                assert s.reason, f"{s.key} in ERROR without a reason"
        for ph in eng.plan.phases:
            counts = {}
            for s in ph.steps:
                counts[s.state] = counts.get(s.state, 0) + 1
            assert {k: v for k, v in ph.counts.items() if v} == counts
        expected_offer_nodes = {h for h, n in eng.nodes.items()
                                if n.present and n.running is None and not n.restarting and n.ready}
        assert eng.offer_nodes == expected_offer_nodes
        assert eng.running_hosts == sum(1 for n in eng.nodes.values() if n.running is not None)
        for n in eng.nodes.values():
            for s in n.ready:
                assert s.state is Status.PREPARED and not s.is_interrupted()
            if n.running is not None:
                assert n.running.state in ACTIVE
        for s in eng.steps.values():
            # Exception (E1, approved): in provision mode deps waits for the MDM placement on an
            # agent that may still become an MDM (its mdm parameter installs the MDM/gateway packages).
            pinned = eng.options.scaleio.provision.mdm_hosts
            awaits_placement = (s.action == "deps" and not eng.uninstall and eng.options.scaleio.provisioning
                                and not eng.mdm_slots and (not pinned or s.host in pinned))
            if s.state in (Status.PENDING,) and s.kind == HOST and s.unmet == 0 and s.host \
                    and eng.nodes[s.host].present and not awaits_placement:
                raise AssertionError(f"{s.key} is ready but PENDING")
            assert s.unmet == sum(1 for r in s.requires if r.state is not Status.COMPLETE)

    # -- operations
    def pick(self, mapping, i):
        keys = sorted(mapping)
        return keys[i % len(keys)] if keys else None

    def apply(self, o):
        kind = o[0]
        if kind == "offer":
            host = HOSTS[o[1] % len(self.agents)]
            if host in self.present:
                self.offer_seq += 1
                self.feed(OfferSeen(self.now, f"o{self.offer_seq}", self.agents[host].agent_id))
        elif kind in ("running", "finish", "fail"):
            tid = self.pick(self.live, o[1])
            if tid is None:
                return
            if kind == "running":
                self.feed(TaskStatusUpdate(self.now, tid, "TASK_RUNNING"))
                return
            self.live.pop(tid)
            if kind == "finish":
                self.feed(TaskStatusUpdate(self.now, tid, "TASK_FINISHED", "", {"os_family": "rhel", **o[2]}))
            else:
                self.feed(TaskStatusUpdate(self.now, tid, o[2], "boom", {"retryable": o[3]}))
        elif kind == "action":
            aid = self.pick(self.actions, o[1])
            if aid is not None:
                self.actions.pop(aid)
                self.feed(ClusterActionResult(self.now, aid, o[2], "" if o[2] else "gateway said no", retryable=o[3]))
        elif kind == "time":
            self.now += o[1]
            self.feed(Tick(self.now))
        elif kind == "remove":
            host = HOSTS[o[1] % len(self.agents)]
            if host in self.present:
                self.present.discard(host)
                for tid in [t for t, d in self.live.items() if d.hostname == host]:
                    del self.live[tid]     # Mesos: tasks on a removed agent are gone
                self.feed(AgentRemoved(self.now, self.agents[host].agent_id))
        elif kind == "add":
            host = HOSTS[o[1] % len(HOSTS)]
            old = self.agents.get(host)
            if old is not None and o[2]:
                n = int(old.agent_id.rsplit("-", 1)[1]) + 1
                for tid in [t for t, d in self.live.items() if d.hostname == host]:
                    del self.live[tid]     # a new agent ID: the old agent's tasks are gone
                info = AgentInfo(f"{host}-{n}", host, old.ip, {}, False, old.cpus, old.mem)
            else:
                info = old or AgentInfo(f"{host}-0", host, f"10.0.1.{o[1]}", {}, False, 2, 2048)
            self.agents[host] = info
            self.present.add(host)
            self.feed(AgentAdded(self.now, info))
        elif kind == "command":
            _, verb, pi, si, depth = o
            phases = self.engine.plan.phases
            phase = phases[pi % len(phases)] if depth and phases else None
            step = phase.steps[si % len(phase.steps)] if depth == 2 and phase and phase.steps else None
            cmd = OperatorCommand(self.now, verb, "deploy", phase.name if phase else None,
                                  step.name if step else None)
            self.feed(cmd, allow_uncomplete=verb in ("restart", "stop", "start"))
        elif kind == "device":
            host = HOSTS[o[1] % len(self.agents)]
            self.feed(DeviceRequested(self.now, host, o[2]))
        elif kind == "restarted":
            while self.restarts:
                r = self.restarts.pop(0)
                old = self.agents[r.hostname]
                self.feed(AgentRemoved(self.now, old.agent_id, "restart"))
                n = int(old.agent_id.rsplit("-", 1)[1]) + 1
                new = AgentInfo(f"{r.hostname}-{n}", r.hostname, old.ip, {}, False, old.cpus, old.mem)
                self.agents[r.hostname] = new
                self.present.add(r.hostname)
                self.feed(AgentAdded(self.now, new))
        elif kind == "roundtrip":
            self.roundtrip()

    def roundtrip(self):
        snap = json.loads(json.dumps(self.engine.snapshot()))
        restored = Engine.restore(self.engine.options, snap, uninstall=self.engine.uninstall)
        assert restored.snapshot() == self.engine.snapshot()
        assert plan_json(restored) == plan_json(self.engine)
        self.engine = restored
        out = restored.resume(self.now)
        for d in out:
            if isinstance(d, RunClusterAction):
                self.actions[d.action_id] = d  # re-issued with the same ID
        self.absorb([d for d in out if not isinstance(d, RunClusterAction)])
        self.check(False)


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(ops=st.lists(op, max_size=60), n=st.integers(1, 5))
def test_random_events_keep_invariants_existing_mode(kit, ops, n):
    opts = kit.existing(agents={"allow_restart": True, "allow_reboot": True},
                        devices={"host_devices": {"h1": ["/dev/sdb"], "h2": ["/dev/sdb", "/dev/sdc"]},
                                 "discovery": {"enabled": True, "min_size_gb": 1}},
                        service={"retry": {"max_attempts": 3, "backoff_initial_s": 1, "backoff_max_s": 4},
                                 "step_timeout_s": 300, "deploy_parallelism": 2})
    c = Checker(opts, n)
    c.feed(AgentAdded(0.0, c.agents["h1"]))
    for h in list(c.agents)[1:]:
        c.feed(AgentAdded(0.0, c.agents[h]))
    for o in ops:
        c.apply(o)
    c.roundtrip()


@SETTINGS
@given(ops=st.lists(op, max_size=60))
def test_random_events_keep_invariants_provision_mode(kit, ops):
    opts = kit.options(agents={"allow_restart": True},
                       devices={"host_devices": {h: ["/dev/sdb"] for h in HOSTS}},
                       service={"retry": {"max_attempts": 2, "backoff_initial_s": 1}, "step_timeout_s": 1000})
    c = Checker(opts, 4)
    for h in c.agents:
        c.feed(AgentAdded(0.0, c.agents[h]))
    for o in ops:
        c.apply(o)
    c.roundtrip()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(failures=st.lists(st.integers(0, 2), min_size=4, max_size=4))
def test_a_fair_world_always_completes(kit, failures):
    """With retries enough to absorb the failures, a deploy always completes."""
    w = kit.World(kit.options(service={"retry": {"max_attempts": 4, "backoff_initial_s": 1, "backoff_max_s": 2}},
                              devices={"host_devices": {"h1": ["/dev/sdb"]}}),
                  [kit.agent(i) for i in range(1, 5)])
    for i, count in enumerate(failures):
        w.outcomes[f"h{i + 1}/deps"] = [("fail", "transient")] * count
    w.outcomes["cluster/gateway"] = [("fail", "not yet")] * failures[0]
    assert w.run(rounds=200) is Status.COMPLETE


@SETTINGS
@given(ops=st.lists(op, max_size=50), level=st.sampled_from(["software", "data"]))
def test_random_events_keep_invariants_uninstall_mode(kit, ops, level):
    devices = {"host_devices": {h: ["/dev/sdb"] for h in HOSTS[:3]}}
    w = kit.World(kit.options(devices=devices), [kit.agent(i) for i in range(1, 5)])
    assert w.run() is Status.COMPLETE
    opts = kit.options(devices=devices, agents={"allow_restart": True},
                       uninstall={"level": level, "confirm": "yes-really-destroy-data" if level == "data" else ""},
                       service={"retry": {"max_attempts": 2, "backoff_initial_s": 1}})
    engine = Engine.restore(opts, json.loads(json.dumps(w.engine.snapshot())), uninstall=True)
    c = Checker(opts, 4, engine)
    c.agents = {h: w.agents[h] for h in HOSTS[:4]}
    c.present = set(c.agents)
    for h in c.agents:
        c.feed(AgentAdded(0.0, c.agents[h]))
    for o in ops:
        c.apply(o)
    c.roundtrip()
