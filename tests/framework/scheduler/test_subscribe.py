"""The scheduler against the real Mesos emulator, without a working executor: subscription,
framework ID persistence and reuse, batched declines, suppress/revive, launches of the executor."""
import pytest

from sched_support import AgentSpec, base_options, framework_tasks, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    specs = [AgentSpec("x1", hostname="excluded-1"), AgentSpec("x2", hostname="excluded-2"),
             AgentSpec("x3", hostname="excluded-3")]
    c = make_cluster(tmp_path_factory, specs)
    c.start()
    yield c
    c.stop()


def _framework(cluster, fid):
    state = cluster.master_state()
    return next((f for f in state.get("frameworks", []) if f["id"] == fid), None)


def test_subscribes_suppresses_without_work_and_keeps_its_framework_id(cluster, schedulers, tmp_path):
    store = tmp_path / "state.sqlite"
    opts = base_options(cluster.master_address, store,
                        **{"agents.exclude_hostnames": ["excluded-1", "excluded-2", "excluded-3"]})
    s = schedulers(tmp_path / "run1", opts)
    st = wait_for(lambda: (lambda x: x if x["subscribed"] else None)(s.state()), what="subscription")
    fid = st["framework_id"]
    fw = _framework(cluster, fid)
    assert fw["name"] == "scaleio" and fw["role"] == "scaleio-role" and fw["checkpoint"] is True
    assert fw["failover_timeout"] == 14 * 24 * 3600
    assert "PARTITION_AWARE" in fw["capabilities"]
    # Only excluded agents: nothing to do, so offers are suppressed; none were launched on.
    wait_for(lambda: s.state()["counters"]["suppress"] >= 1, what="suppress")
    assert framework_tasks(cluster) == []
    plan = s.get("/v1/plans/deploy")
    assert plan.status_code == 202 and plan.json()["errors"] == []

    # Restarted (SIGKILL, as Marathon would after a crash): the same framework ID, re-registered.
    s.kill()
    s2 = schedulers(tmp_path / "run2", opts)
    st2 = wait_for(lambda: (lambda x: x if x["subscribed"] else None)(s2.state()), what="re-subscription")
    assert st2["framework_id"] == fid
    assert _framework(cluster, fid)["active"] is True
    assert len([f for f in cluster.master_state()["frameworks"] if f["name"] == "scaleio"]) == 1


def test_bad_options_plan_error_nothing_launched_still_serving(cluster, schedulers, tmp_path):
    opts = base_options(cluster.master_address, tmp_path / "state.sqlite",
                        **{"scaleio.admin_password": "weak", "service.deploy_parallelism": -1})
    s = schedulers(tmp_path / "bad", opts)
    plan = s.get("/v1/plans/deploy")
    assert plan.status_code == 417
    body = plan.json()
    assert body["status"] == "ERROR"
    fields = " ".join(body["errors"])
    assert "scaleio.admin_password" in fields and "service.deploy_parallelism" in fields
    assert "weak" not in plan.text
    health = s.get("/v1/health")
    assert health.status_code == 500 and health.json()["value"] == "ERROR_CREATING_SERVICE"
    # It never subscribes and never launches, but keeps answering.
    assert not [f for f in cluster.master_state()["frameworks"] if f["name"] == "scaleio" and f["active"]]
    assert s.proc.poll() is None
    assert s.get("/v1/plans/deploy").status_code == 417
    assert s.get("/v1/executor/secrets", params={"executor_id": "x"}).status_code == 401


def test_new_agent_revives_offers_declines_are_batched_and_the_executor_is_launched(cluster, schedulers, tmp_path):
    opts = base_options(cluster.master_address, tmp_path / "state.sqlite",
                        **{"agents.exclude_hostnames": ["excluded-1", "excluded-2", "excluded-3"]})
    s = schedulers(tmp_path / "run", opts)
    wait_for(lambda: s.state()["subscribed"] and s.state()["counters"]["suppress"] >= 1, what="suppressed")
    before = s.state()["counters"]
    # A matching agent joins while offers are suppressed: the operator stream announces it, the
    # scheduler revives, and the deps step's task goes to a new executor on that agent.
    cluster.add_agent(AgentSpec("a1", hostname="node-1"))
    wait_for(lambda: s.state()["counters"]["revive"] >= 1, what="revive")
    tasks = wait_for(lambda: framework_tasks(cluster), what="a launched task")
    assert tasks[0]["name"] == "deps:node-1"
    assert tasks[0]["executor_id"].startswith("scaleio-executor__node-1__")
    c = s.state()["counters"]
    # Offers from the three excluded agents came with a1's and were declined together.
    assert c["declined"] - before["declined"] >= 3
    assert c["decline_calls"] - before["decline_calls"] < c["declined"] - before["declined"]
    plan = s.get("/v1/plans/deploy").json()
    deps = next(st for ph in plan["phases"] if ph["name"] == "node-1" for st in ph["steps"] if st["name"] == "node-1:[deps]")
    assert deps["attempts"] >= 1
    # The agent is removed: the operator stream says so; its executor is not reused.
    agents_before = s.state()["agents"]
    assert cluster.remove_agent("a1") is True
    wait_for(lambda: s.state()["executors"]["node-1"]["stale"], what="the executor marked gone")
    assert s.state()["agents"] == agents_before - 1
