"""The executor for real: pymesos MesosExecutorDriver in a Mesos emulator agent provisioned as an
Ubuntu host, step tasks launched by a pymesos test scheduler, host steps doing their real work
inside the agent. The tests share one agent and one executor and run in file order.
"""
import json
import os

import pytest

from .conftest import AGENT, PASSWORD, wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

UBUNTU = {"os_family": "ubuntu", "hostname": AGENT}


def states(world, task_id):
    return world.sched.statuses(task_id)


def index_of(world, task_id, state):
    for i, e in enumerate(world.sched.events):
        if e.get("ev") == "status" and e.get("task_id") == task_id and e.get("state") == state:
            return i
    return None


def test_deps_runs_and_reports_its_result(world, executor):
    [tid] = world.launch(world.task(executor, "deps", dict(UBUNTU, discover_disks=True)))
    world.sched.wait_states({tid: "TASK_FINISHED"}, timeout=60)
    assert states(world, tid) == ["TASK_RUNNING", "TASK_FINISHED"]
    result = world.sched.result(tid, "TASK_FINISHED")
    assert result["step"] == "deps" and result["status"] == "COMPLETE" and result["os_family"] == "ubuntu"
    assert result["facts"]["kernel"] and any(d["path"] == "/dev/sdb" and d["unused"] for d in result["disks"])
    # The step really ran on the agent: the packages it installed are there.
    q = world.agent.root.run(["dpkg-query", "-W", "-f", "${Status}", "libaio1"], timeout=30)
    assert "installed" in q.stdout, q
    assert "registered with agent" in world.executor_stderr(executor["executor_id"]["value"])
