"""Simulated-executor mode (benchmarks only): many agents in one process, tasks finish by themselves,
no executor processes and no agent roots. The scheduler is still unmodified pymesos on the wire."""
import os

import pytest

from mesos_testfw.clusters import AgentSpec, make_cluster

pytestmark = [pytest.mark.sandbox]


def test_simulated_cluster_runs_tasks_without_processes(tmp_path_factory, schedulers):
    specs = [AgentSpec(f"s{i}") for i in range(300)]
    cluster = make_cluster(tmp_path_factory, specs, simulated=True, sim_task_duration=0.2)
    cluster.start()
    try:
        s = schedulers(cluster.master_address, name="sim")
        s.wait_ev("registered")
        s.send("launch", tasks=[{"task_id": f"t{i}", "command": {"value": "true"}} for i in range(20)])
        s.wait_states({f"t{i}": "TASK_FINISHED" for i in range(20)}, timeout=30)
        assert s.statuses("t0") == ["TASK_RUNNING", "TASK_FINISHED"]
        assert len(cluster.master_state()["slaves"]) == 300
        assert not os.path.exists(os.path.join(cluster.state_dir, "roots"))
        s.stop(failover=False)
    finally:
        cluster.stop()
