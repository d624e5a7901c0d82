"""Engine state to records and back: snapshots, incremental changes, and resuming after a crash."""
import json

from dcos_scaleio.plan import (ClusterActionResult, Engine, OperatorCommand, RunClusterAction, Status, plan_json)


def roundtrip(engine):
    records = json.loads(json.dumps(engine.snapshot()))
    return Engine.restore(engine.options, records)


def mid_deploy(kit):
    w = kit.World(kit.options(agents={"allow_restart": True},
                              devices={"host_devices": {f"h{i}": ["/dev/sdb"] for i in range(1, 5)}},
                              service={"retry": {"backoff_initial_s": 30}}),
                  [kit.agent(i) for i in range(1, 5)])
    w.outcomes["h4/deps"] = [("fail", "apt-get exit 100")]
    w.outcomes["h2/dvdi"] = [("finish", {"restart": "agent"})]
    w.start()
    for _ in range(9):
        w.round()
        w.advance(1)
    w.feed(OperatorCommand(w.now, "interrupt", "deploy", "h3"))
    w.offer("h1")
    return w


def test_snapshot_roundtrip_is_exact(kit):
    w = mid_deploy(kit)
    states = {s.state for s in w.engine.steps.values()}
    assert {Status.COMPLETE, Status.PENDING, Status.DELAYED} <= states
    restored = roundtrip(w.engine)
    assert restored.snapshot() == w.engine.snapshot()
    assert plan_json(restored) == plan_json(w.engine)
    assert restored.offer_nodes == w.engine.offer_nodes
    assert restored.running_hosts == w.engine.running_hosts
    assert set(restored.tasks) == set(w.engine.tasks)


def test_drained_changes_rebuild_the_same_state(kit):
    w = kit.World(kit.options(devices={"discovery": {"enabled": True, "min_size_gb": 1}}),
                  [kit.agent(i) for i in range(1, 4)])
    w.outcomes["h2/deps"] = [("finish", {"disks": [{"path": "/dev/sdb", "size_gb": 10, "unused": True}]})]
    store = {}

    def persist():
        for key, rec in w.engine.drain_changes().items():
            if rec is None:
                store.pop(key, None)
            else:
                store[key] = json.loads(json.dumps(rec))

    w.start()
    persist()
    for _ in range(30):
        w.round()
        w.advance(1)
        persist()
        assert store == w.engine.snapshot()
    assert w.status_of_plan() is Status.COMPLETE
    assert plan_json(Engine.restore(w.engine.options, store)) == plan_json(w.engine)


def test_resume_after_crash_reissues_inflight_actions_and_accepts_old_tasks(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    inflight = [d for d in w.log if isinstance(d, RunClusterAction)][0]
    launch = w.offer("h1")[0]
    restored = roundtrip(w.engine)
    out = restored.resume(w.now)
    again = [d for d in out if isinstance(d, RunClusterAction)]
    assert [a.action_id for a in again] == [inflight.action_id]
    w.engine = restored
    w.status(launch.task_id, "TASK_FINISHED", result={"os_family": "rhel"})   # the old executor's answer
    assert restored.steps["h1/deps"].state is Status.COMPLETE
    w.feed(ClusterActionResult(w.now, inflight.action_id, True))
    assert w.run() is Status.COMPLETE


def test_restore_rejects_unknown_versions(kit):
    import pytest
    w = kit.World(kit.existing(), [])
    snap = w.engine.snapshot()
    snap["meta"]["version"] = 99
    with pytest.raises(ValueError):
        Engine.restore(w.engine.options, snap)


def test_active_tasks_for_reconciliation_survive_a_restore(kit):
    w = kit.World(kit.existing(), [kit.agent(1), kit.agent(2)])
    w.start()
    a, b = w.offer("h1")[0], w.offer("h2")[0]
    assert sorted(w.engine.active_tasks()) == [(a.task_id, "id-1"), (b.task_id, "id-2")]
    assert sorted(roundtrip(w.engine).active_tasks()) == sorted(w.engine.active_tasks())


def test_public_api_names_exist():
    import dcos_scaleio.options as options
    import dcos_scaleio.plan as plan
    for mod in (plan, options):
        assert all(hasattr(mod, name) for name in mod.__all__)


def test_updated_options_apply_after_restore(kit):
    """An options update (new scheduler, same records): new devices and re-enabled REX-Ray join."""
    w = kit.World(kit.existing(rexray={"enabled": False}), [kit.agent(1)])
    assert w.run() is Status.COMPLETE
    assert "h1/rexray" not in w.engine.steps
    new_opts = kit.existing(devices={"host_devices": {"h1": ["/dev/sdc"]}})
    w.engine = Engine.restore(new_opts, json.loads(json.dumps(w.engine.snapshot())))
    w.started = False
    assert w.run() is Status.COMPLETE
    assert {"h1/rexray", "h1/dvdi", "h1/device:/dev/sdc"} <= set(w.engine.steps)
    assert w.engine.steps["h1/deps"].attempts == 1           # what was done stays done
