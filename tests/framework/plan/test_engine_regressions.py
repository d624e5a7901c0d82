"""Engine regression: deps waits for the MDM placement (pure engine, no processes)."""
from dcos_scaleio.options import validate
from dcos_scaleio.plan import AgentAdded, AgentInfo, Engine, LaunchHostStep, OfferSeen, TaskStatusUpdate

PASSWORD = "Regr-Passw0rd"
ARTIFACTS = {fam: {comp: {"url": f"https://mirror.test/{fam}/{comp}.pkg", "sha256": "e" * 64}
                   for comp in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")}
             for fam in ("rhel", "ubuntu")}


def _engine(devices=None, **scaleio):
    result = validate({"scaleio": {"admin_password": PASSWORD, **scaleio}, "artifacts": ARTIFACTS,
                       "agents": {"flavour": "mesos"}, **({"devices": devices} if devices else {})})
    assert result.ok, result.errors
    engine = Engine(result.options)
    engine.resume(0.0)
    return engine


def _agent(i):
    return AgentInfo(f"id-{i}", f"h{i}", f"10.0.0.{i}", cpus=4, mem=8192)


def _offer(engine, i, seq):
    return [d for d in engine.handle(OfferSeen(0.0, f"o{seq}", f"id-{i}")) if isinstance(d, LaunchHostStep)]


def test_deps_waits_for_the_mdm_placement_of_agents_arriving_one_by_one():
    # Agents announced one at a time (offers before the operator stream's list): deps on the first
    # two must not run with mdm=false (and a data-sized executor) while either may become an MDM.
    engine = _engine()
    engine.handle(AgentAdded(0.0, _agent(1)))
    engine.handle(AgentAdded(0.0, _agent(2)))
    assert _offer(engine, 1, 1) == [] and _offer(engine, 2, 2) == []
    assert engine.steps["h1/deps"].state.value == "PENDING"
    engine.handle(AgentAdded(0.0, _agent(3)))          # the placement is decided now
    launched = _offer(engine, 1, 3) + _offer(engine, 2, 4) + _offer(engine, 3, 5)
    assert {d.hostname: (d.params["mdm"], d.persona) for d in launched if d.action == "deps"} == {
        "h1": (True, "mdm"), "h2": (True, "mdm"), "h3": (True, "mdm")}
    # A fourth agent after placement is a data agent: its deps run at once, without MDM packages.
    engine.handle(AgentAdded(0.0, _agent(4)))
    (late,) = _offer(engine, 4, 6)
    assert late.action == "deps" and late.params["mdm"] is False and late.persona == "data"


def test_agents_outside_pinned_mdm_hosts_do_not_wait_for_the_placement():
    engine = _engine(provision={"mdm_hosts": ["h7", "h8", "h9"]})
    engine.handle(AgentAdded(0.0, _agent(1)))
    (d,) = _offer(engine, 1, 1)
    assert d.action == "deps" and d.params["mdm"] is False
    engine.handle(TaskStatusUpdate(0.0, d.task_id, "TASK_FINISHED", "", {"os_family": "rhel"}))
    assert engine.steps["h1/deps"].state.value == "COMPLETE"


def test_a_reconciliation_finished_without_data_waits_for_the_executors_update():
    # Regression (chaos e2e: scheduler killed while deps ran): the restarted scheduler's explicit
    # reconciliation answered TASK_FINISHED without data first; completing deps on it left the OS
    # family unknown, and the sds step then launched without packages (a non-retryable ERROR).
    engine = _engine(provision={"mdm_hosts": ["h7", "h8", "h9"]},
                     devices={"host_devices": [{"host": "h1", "paths": ["/dev/sdb"]}]})
    engine.handle(AgentAdded(0.0, _agent(1)))
    (d,) = _offer(engine, 1, 1)
    engine.handle(TaskStatusUpdate(0.0, d.task_id, "TASK_FINISHED", "Reconciliation: Latest task state", {},
                                   "REASON_RECONCILIATION"))
    assert engine.steps["h1/deps"].state.value == "STARTING"
    engine.handle(TaskStatusUpdate(0.0, d.task_id, "TASK_FINISHED", "", {"os_family": "ubuntu"}))
    assert engine.steps["h1/deps"].state.value == "COMPLETE" and engine.nodes["h1"].os_family == "ubuntu"
    (sds,) = _offer(engine, 1, 2)
    assert sds.action == "sds" and set(sds.params["packages"]) == {"sds"}
