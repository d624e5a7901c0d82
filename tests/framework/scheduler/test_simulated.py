"""The emulator's simulated-executor mode (what bench/deploy_scale.py uses) with the scheduler's
simulated cluster actions: a 10-agent provision deploy completes; declines stay batched."""
import json

import pytest

from sched_support import AgentSpec, base_options, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox]


def test_simulated_ten_agent_deploy_completes(tmp_path_factory, schedulers, tmp_path):
    c = make_cluster(tmp_path_factory, [AgentSpec(f"s{i}", hostname=f"sim-{i}") for i in range(10)],
                     simulated=True, sim_task_duration=0.2)
    c.start()
    try:
        s = schedulers(tmp_path / "run", base_options(c.master_address, tmp_path / "state.sqlite", mdm_elsewhere=False),
                       extra_env={"SCALEIO_DEV_SIMULATED_ACTIONS": json.dumps({"*": 0.1})})
        plan = wait_for(lambda: (lambda p: p if p["status"] in ("COMPLETE", "ERROR") else None)(
            s.get("/v1/plans/deploy").json()), timeout=60, interval=0.2, what="the simulated deploy")
        assert plan["status"] == "COMPLETE"
        assert sum(len(ph["steps"]) for ph in plan["phases"]) == 50
        counters = s.state()["counters"]
        assert counters["launched"] >= 10 * 4 + 7      # deps, sdc, rexray, dvdi per agent + the MDM phase
        assert counters["decline_calls"] < counters["declined"]
    finally:
        c.stop()
