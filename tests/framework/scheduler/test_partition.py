"""A partitioned agent (PARTITION_AWARE): its running step goes back to PENDING without counting an
attempt; when the partition heals (which the operator stream does not announce) the agent is found
again, the task the engine gave up on is killed, and the step runs again to COMPLETE."""
import pytest

from dcos_scaleio.sandbox.scaleio.hostside_agents import prepare_host
from sched_support import HOLD, AgentSpec, base_options, framework_tasks, install_gate, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    sio = tmp_path_factory.mktemp("sio")
    c = make_cluster(tmp_path_factory, [AgentSpec("p1", hostname="part-1", shared_dirs=(str(sio),))],
                     agent_ping_timeout=2.0)
    c.start()
    try:
        root = c.agent("p1").root
        prepare_host(root, str(sio), os_family="rhel", disks=[{"name": "sdb", "size_gb": 100, "fs": None}])
        install_gate(root)
        yield c
    finally:
        c.stop()


def _deps(s):
    plan = s.get("/v1/plans/deploy").json()
    return next(st for ph in plan["phases"] if ph["name"] == "part-1" for st in ph["steps"] if st["name"] == "part-1:[deps]")


def test_partition_heals_the_old_task_is_killed_and_the_step_completes(cluster, schedulers, tmp_path):
    root = cluster.agent("p1").root
    root.write_text(HOLD, "hold\n")
    try:
        s = schedulers(tmp_path / "run", base_options(cluster.master_address, tmp_path / "state.sqlite"))
        first = wait_for(lambda: [t["id"] for t in framework_tasks(cluster) if t["state"] == "TASK_RUNNING"],
                         what="deps running (held)")[0]
        cluster.partition_agent("p1")
        step = wait_for(lambda: (lambda st: st if st["status"] == "PENDING" else None)(_deps(s)), what="TASK_UNREACHABLE")
        assert step["attempts"] == 1 and "unreachable" in step["message"]
        cluster.heal_agent("p1")
        wait_for(lambda: s.state()["counters"]["kills"] >= 1, what="the old task killed")
        wait_for(lambda: _deps(s)["attempts"] == 2, what="the step launched again")
    finally:
        root.remove(HOLD)
    step = wait_for(lambda: (lambda st: st if st["status"] in ("COMPLETE", "ERROR") else None)(_deps(s)),
                    timeout=60, what="deps to finish")
    assert step["status"] == "COMPLETE" and step["attempts"] == 2
    # The kill is asynchronous (the agent's kill grace): the old task leaves the master's active list soon after.
    wait_for(lambda: first not in [t["id"] for t in framework_tasks(cluster)], what="the old task gone from the master")
