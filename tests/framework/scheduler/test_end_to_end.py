"""End to end on one agent provisioned as an Ubuntu host: the scheduler launches the REAL executor
(dev mode: this venv's Python runs ``-m dcos_scaleio.framework.executor`` inside the agent's root),
the ``deps`` step runs on the host and completes; the executor's secrets endpoint answers only
the current executor's token; a restarted scheduler keeps the executor and the plan."""
import pytest

from dcos_scaleio.framework.store import open_store
from dcos_scaleio.sandbox.scaleio.hostside_agents import prepare_host
from sched_support import HOLD, PASSWORD, AgentSpec, base_options, framework_tasks, install_gate, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    sio = tmp_path_factory.mktemp("sio")
    c = make_cluster(tmp_path_factory, [AgentSpec("h1", hostname="host-1", shared_dirs=(str(sio),))])
    c.start()
    try:
        root = c.agent("h1").root
        prepare_host(root, str(sio), os_family="ubuntu", disks=[{"name": "sdb", "size_gb": 100, "fs": None}])
        install_gate(root)
        yield c
    finally:
        c.stop()


def _step(sched, phase, name):
    plan = sched.get("/v1/plans/deploy").json()
    return next(s for ph in plan["phases"] if ph["name"] == phase for s in ph["steps"] if s["name"] == name)


def test_deps_runs_through_the_real_executor_and_survives_a_scheduler_restart(cluster, schedulers, tmp_path):
    store_path = tmp_path / "state.sqlite"
    opts = base_options(cluster.master_address, store_path)
    s = schedulers(tmp_path / "run1", opts)
    deps = wait_for(lambda: (lambda st: st if st["status"] in ("COMPLETE", "ERROR") else None)(
        _step(s, "host-1", "host-1:[deps]")), timeout=60, what="deps to finish")
    assert deps["status"] == "COMPLETE", (deps, s.log()[-3000:])
    eid = s.state()["executors"]["host-1"]["executor_id"]
    assert eid == "scaleio-executor__host-1__1"

    # Secrets: only the current executor's token opens them.
    with open_store(f"sqlite://{store_path}") as store:
        rec = store.get_json("executors/host-1")
        fid = store.get_json("framework_id")["value"]
    token = rec["token"]
    url = "/v1/executor/secrets"
    assert s.get(url, params={"executor_id": eid}).status_code == 401
    assert s.get(url, params={"executor_id": eid}, headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = s.get(url, params={"executor_id": eid}, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == {"admin_password": PASSWORD}
    assert ok.headers["Cache-Control"] == "no-store"
    assert PASSWORD not in s.log()

    # SIGKILL and restart: same framework ID, the step stays COMPLETE, the executor is still there.
    s.kill()
    s2 = schedulers(tmp_path / "run2", opts)
    wait_for(lambda: s2.state()["subscribed"], what="re-subscription")
    assert s2.state()["framework_id"] == fid
    assert _step(s2, "host-1", "host-1:[deps]")["status"] == "COMPLETE"
    executors = [e for f in cluster.master_state()["frameworks"] if f["id"] == fid for e in f.get("executors", [])]
    assert [e["executor_id"] for e in executors] == [eid]
    assert all(t["state"] == "TASK_FINISHED" for t in framework_tasks(cluster)) or not framework_tasks(cluster)


def test_scheduler_killed_mid_step_reconciles_and_resumes_without_relaunching(cluster, schedulers, tmp_path):
    root = cluster.agent("h1").root
    root.write_text(HOLD, "hold\n")
    try:
        opts = base_options(cluster.master_address, tmp_path / "state.sqlite")
        s = schedulers(tmp_path / "run1", opts)
        fid = wait_for(lambda: s.state()["framework_id"], what="registration")
        running = wait_for(lambda: [t for t in framework_tasks(cluster) if t["state"] == "TASK_RUNNING"
                                    and t["framework_id"] == fid], what="deps running (held)")
        task_id = running[0]["id"]
        wait_for(lambda: _step(s, "host-1", "host-1:[deps]")["status"] == "STARTED", what="STARTED in the plan")
        s.kill()
        s2 = schedulers(tmp_path / "run2", opts)
        wait_for(lambda: s2.state()["subscribed"], what="re-subscription")
        # The restored engine's running task is reconciled explicitly (and answered: no give-up).
        wait_for(lambda: s2.state()["counters"]["reconcile_calls"] >= 1, what="explicit reconciliation")
        assert _step(s2, "host-1", "host-1:[deps]")["status"] == "STARTED"
    finally:
        root.remove(HOLD)
    step = wait_for(lambda: (lambda st: st if st["status"] == "COMPLETE" else None)(_step(s2, "host-1", "host-1:[deps]")),
                    timeout=60, what="deps COMPLETE after the restart")
    assert step["attempts"] == 1
    c = s2.state()["counters"]
    assert c["launched"] == 0 and c["reconcile_lost"] == 0
    assert [t["id"] for t in framework_tasks(cluster) if t["framework_id"] == fid and t["id"] != task_id] == []


def test_lost_executor_is_replaced_by_a_new_executor_id(cluster, schedulers, tmp_path):
    import os
    import signal
    root = cluster.agent("h1").root
    root.write_text(HOLD, "hold\n")
    try:
        s = schedulers(tmp_path / "run", base_options(cluster.master_address, tmp_path / "state.sqlite"))
        fid = wait_for(lambda: s.state()["framework_id"], what="registration")
        wait_for(lambda: [t for t in framework_tasks(cluster) if t["framework_id"] == fid and t["state"] == "TASK_RUNNING"],
                 what="deps running (held)")
        first = s.state()["executors"]["host-1"]["executor_id"]
        with open_store(f"sqlite://{tmp_path / 'state.sqlite'}") as store:
            token = store.get_json("executors/host-1")["token"]
        agent = cluster.agent("h1")
        proc = agent.executors[(fid, first)].proc     # the executor our scheduler had launched
        os.kill(proc.pid, signal.SIGKILL)
        # The step's task fails with the executor; the retry goes to a NEW executor ID.
        second = wait_for(lambda: (lambda e: e if e != first else None)(
            s.state()["executors"]["host-1"]["executor_id"]), timeout=30, what="a new executor")
        assert second == "scaleio-executor__host-1__2"
        # The old executor's token now only gets "no longer current".
        r = s.get("/v1/executor/secrets", params={"executor_id": first}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403
    finally:
        root.remove(HOLD)
    step = wait_for(lambda: (lambda st: st if st["status"] in ("COMPLETE", "ERROR") else None)(
        _step(s, "host-1", "host-1:[deps]")), timeout=60, what="deps to finish")
    assert step["status"] == "COMPLETE" and step["attempts"] == 2


def test_a_task_the_master_never_saw_is_reconciled_as_unknown_and_retried(cluster, tmp_path, schedulers):
    import time

    from dcos_scaleio.framework.scheduler.persist import SchedulerState
    from dcos_scaleio.options import validate
    from dcos_scaleio.plan import AgentInfo, AgentsListed, Engine, LaunchHostStep, OfferSeen
    # A stored state in which deps was launched, but the launch never reached the master (the
    # scheduler died right after persisting it).
    opts = base_options(cluster.master_address, tmp_path / "state.sqlite")
    agent = cluster.agent("h1")
    engine = Engine(validate(opts).options)
    now = time.time()
    engine.resume(now)
    engine.handle(AgentsListed(now, (AgentInfo(agent.agent_id, "host-1", agent.ip),)))
    launched = [d for d in engine.handle(OfferSeen(now, "offer-never-used", agent.agent_id))
                if isinstance(d, LaunchHostStep)]
    assert [d.task_id for d in launched] == [tid for tid, _ in engine.active_tasks()]
    with open_store(f"sqlite://{tmp_path / 'state.sqlite'}") as store:
        store.acquire_lock(timeout=5)
        SchedulerState(store).save(engine.snapshot())
    s = schedulers(tmp_path / "run", opts)
    step = wait_for(lambda: (lambda st: st if st["status"] in ("COMPLETE", "ERROR") else None)(
        _step(s, "host-1", "host-1:[deps]")), timeout=60, what="deps to finish")
    assert step["status"] == "COMPLETE" and step["attempts"] == 2, step
    assert s.state()["counters"]["reconcile_calls"] >= 1
