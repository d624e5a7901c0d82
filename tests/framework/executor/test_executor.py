"""The executor for real: pymesos MesosExecutorDriver in a Mesos emulator agent provisioned as an
Ubuntu host, step tasks launched by a pymesos test scheduler, host steps doing their real work
inside the agent. The tests share one agent and one executor and run in file order.
"""
import json

import pytest

from .conftest import AGENT, PASSWORD, alive, wait_until

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


def test_a_failing_step_is_task_failed_with_its_reason(world, executor):
    wrong_family, unknown = world.launch(world.task(executor, "deps", dict(UBUNTU, os_family="rhel")),
                                         world.task(executor, "no-such-step"))
    world.sched.wait_states({wrong_family: "TASK_FAILED", unknown: "TASK_FAILED"}, timeout=60)
    result = world.sched.result(wrong_family, "TASK_FAILED")
    assert result["status"] == "ERROR" and result["retryable"] is False
    assert "expected OS family 'rhel' but this host is 'ubuntu'" in result["reason"]
    failed = world.sched.of("status", task_id=wrong_family, state="TASK_FAILED")[-1]
    assert failed["message"] == result["reason"][:200]
    bad = world.sched.result(unknown, "TASK_FAILED")
    assert bad["status"] == "ERROR" and "unknown step 'no-such-step'" in bad["reason"]
    assert "TASK_RUNNING" not in states(world, unknown)     # refused before it could run


def test_kill_mid_step_terminates_its_commands(world, executor):
    world.hold()
    try:
        [tid] = world.launch(world.task(executor, "deps", UBUNTU))
        world.sched.wait_states({tid: "TASK_RUNNING"}, timeout=60)
        [pid] = wait_until(world.held_pids, 30, what="the step to reach its held command")
        assert alive(pid)
        world.sched.send("kill", task_id=tid)
        world.sched.wait_states({tid: "TASK_KILLED"}, timeout=30)
    finally:
        world.release()
    wait_until(lambda: not alive(pid), 10, what="the held command to be gone")
    world.clear_held()
    result = world.sched.result(tid, "TASK_KILLED")
    assert result["status"] == "ERROR" and "cancelled" in result["reason"]
    assert states(world, tid) == ["TASK_RUNNING", "TASK_KILLED"]


def test_a_step_waiting_for_the_host_step_lock_can_be_killed(world, executor):
    """Another runner on the host (e.g. an operator's ``python -m ...host.run``) holds the step lock."""
    import subprocess
    import sys
    from dcos_scaleio.framework.host.run import LOCK
    eid = executor["executor_id"]["value"]
    holder = world.agent.root.popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
         "print('locked', flush=True); time.sleep(120)", LOCK], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        [tid] = world.launch(world.task(executor, "deps", UBUNTU))
        world.sched.wait_states({tid: "TASK_RUNNING"}, timeout=60)
        wait_until(lambda: f"task {tid}: waiting for another step" in world.executor_stderr(eid), 30,
                   what="the step to wait for the host lock")
        world.sched.send("kill", task_id=tid)
        world.sched.wait_states({tid: "TASK_KILLED"}, timeout=30)
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
    assert world.sched.result(tid, "TASK_KILLED")["commands"] == []      # it never ran


def test_tasks_run_one_at_a_time_and_a_queued_one_can_be_killed(world, executor):
    world.hold()
    try:
        first, second, third = world.launch(*(world.task(executor, "deps", UBUNTU) for _ in range(3)))
        world.sched.wait_states({first: "TASK_RUNNING"}, timeout=60)
        wait_until(world.held_pids, 30, what="the first step to be held")
        world.sched.send("kill", task_id=third)
        world.sched.wait_states({third: "TASK_KILLED"}, timeout=30)
        # While the first step is held, the second has not started.
        assert states(world, second) == [] and len(world.held_pids()) == 1
    finally:
        world.release()
    world.sched.wait_states({first: "TASK_FINISHED", second: "TASK_FINISHED"}, timeout=60)
    world.clear_held()
    assert index_of(world, first, "TASK_FINISHED") < index_of(world, second, "TASK_RUNNING")
    assert states(world, third) == ["TASK_KILLED"]
    assert "before it ran" in world.sched.result(third, "TASK_KILLED")["reason"]


def rexray_params(world):
    name = world.catalog["rexray"]
    return dict(UBUNTU, gateway_endpoint="https://127.0.0.1:8443/api", system_name="exectest",
                protection_domain="pd1", storage_pool="sp1",
                packages={"rexray": {"url": world.mirror.url_for(name), "sha256": world.mirror.sha256(name)}})


def assert_no_secret_anywhere(world, executor_id):
    """Not in any status (message or data), scheduler output, executor sandbox file, master state."""
    assert PASSWORD not in json.dumps(world.sched.events) + "\n".join(world.sched.stderr)
    for path in world.sandbox_files(executor_id):
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in json.dumps(world.mesos.master_state())


def test_a_step_gets_the_secret_from_the_scheduler(world, executor):
    eid = executor["executor_id"]["value"]
    [tid] = world.launch(world.task(executor, "rexray", rexray_params(world), secrets=["admin_password"]))
    world.sched.wait_states({tid: "TASK_FAILED"}, timeout=60)
    result = world.sched.result(tid, "TASK_FAILED")
    # The step got past rendering its config (which needs the password) and stopped at scini.
    assert "scini" in result["reason"], result["reason"]
    config = world.agent.root.read_text("/etc/rexray/config.yml")
    assert f"password: {PASSWORD}" in config or PASSWORD in config
    assert oct(world.agent.root.path("/etc/rexray/config.yml").stat().st_mode & 0o777) == "0o600"
    assert (eid, 200) in world.secrets.requests
    assert_no_secret_anywhere(world, eid)


def test_a_refused_token_fails_the_step_clearly(world, executor):
    eid = executor["executor_id"]["value"]
    good = world.secrets.tokens[eid]
    world.secrets.mint(eid)                 # the scheduler rotated/revoked it: this executor's is wrong now
    try:
        [tid] = world.launch(world.task(executor, "rexray", rexray_params(world), secrets=["admin_password"]))
        world.sched.wait_states({tid: "TASK_FAILED"}, timeout=60)
    finally:
        world.secrets.tokens[eid] = good
    result = world.sched.result(tid, "TASK_FAILED")
    assert result["retryable"] is False and result["commands"] == []
    assert "refused this executor's token (401)" in result["reason"]
    failed = world.sched.of("status", task_id=tid, state="TASK_FAILED")[-1]
    assert "401" in failed["message"]
    assert (eid, 401) in world.secrets.requests
    assert_no_secret_anywhere(world, eid)
    assert good not in world.executor_stderr(eid)


def test_after_an_agent_restart_the_executor_reregisters_and_resends(world, executor):
    eid = executor["executor_id"]["value"]
    world.hold()
    try:
        [tid] = world.launch(world.task(executor, "deps", UBUNTU))
        world.sched.wait_states({tid: "TASK_RUNNING"}, timeout=60)
        wait_until(world.held_pids, 30, what="the step to be held")
        world.mesos.stop_agent(AGENT)
        wait_until(lambda: "disconnected from the agent" in world.executor_stderr(eid), 30,
                   what="the executor to notice the agent is gone")
    finally:
        world.release()
    # The step ends while the agent is down: its TASK_FINISHED cannot be delivered now.
    wait_until(lambda: f"TASK_FINISHED for task {tid} held until" in world.executor_stderr(eid)
               or f"TASK_FINISHED for task {tid} not delivered" in world.executor_stderr(eid), 30,
               what="the finished update to be queued")
    assert states(world, tid) == ["TASK_RUNNING"]
    world.mesos.start_agent(AGENT)
    world.sched.wait_states({tid: "TASK_FINISHED"}, timeout=60)
    world.clear_held()
    log = world.executor_stderr(eid)
    assert "re-registered with agent" in log and log.count(f"executor {eid} starting") == 1
    assert world.sched.result(tid, "TASK_FINISHED")["status"] == "COMPLETE"
    # The executor is still serving: a new task runs to the end.
    [again] = world.launch(world.task(executor, "deps", UBUNTU))
    world.sched.wait_states({again: "TASK_FINISHED"}, timeout=60)


def test_executors_give_up_on_a_lost_agent_as_mesos_says(world, executor):
    """MESOS_RECOVERY_TIMEOUT (ignored by pymesos) bounds how long an executor waits for its agent, and
    without checkpointing (MESOS_CHECKPOINT=0, which pymesos reads as "on") it exits at once."""
    short_id, plain_id = "scaleio-executor__exa__short", "scaleio-executor__exa__nocheckpoint"
    short = world.executor_info(short_id, world.secrets.mint(short_id), MESOS_RECOVERY_TIMEOUT="2secs")
    plain = world.executor_info(plain_id, world.secrets.mint(plain_id), MESOS_CHECKPOINT="0")
    tids = world.launch(world.task(short, "deps", UBUNTU), world.task(plain, "deps", UBUNTU))
    world.sched.wait_states({tid: "TASK_FINISHED" for tid in tids}, timeout=60)
    pids = {eid: world.executor_pid(eid) for eid in (short_id, plain_id, executor["executor_id"]["value"])}
    world.mesos.stop_agent(AGENT)
    try:
        wait_until(lambda: not alive(pids[short_id]) and not alive(pids[plain_id]), 30,
                   what="both executors to exit")
        assert alive(pids[executor["executor_id"]["value"]])     # 15 minutes of patience: still waiting
    finally:
        world.mesos.start_agent(AGENT)
    assert "MESOS_RECOVERY_TIMEOUT" in world.executor_stderr(short_id)
    assert "does not checkpoint" in world.executor_stderr(plain_id)
    [again] = world.launch(world.task(executor, "deps", UBUNTU))
    world.sched.wait_states({again: "TASK_FINISHED"}, timeout=60)


def test_shutdown_kills_the_running_step_and_exits(world, executor):
    """Last test: tearing the framework down makes the agent send SHUTDOWN to the executor."""
    eid = executor["executor_id"]["value"]
    pid = world.executor_pid(eid)
    world.hold()
    try:
        [tid] = world.launch(world.task(executor, "deps", UBUNTU))
        world.sched.wait_states({tid: "TASK_RUNNING"}, timeout=60)
        [held] = wait_until(world.held_pids, 30, what="the step to be held")
        world.sched.stop(failover=False)            # TEARDOWN -> SHUTDOWN to every executor
        wait_until(lambda: not alive(pid), 30, what="the executor to exit")
    finally:
        world.release()
    assert not alive(held)
    log = world.executor_stderr(eid)
    assert "shutdown requested" in log and f"executor {eid} exiting" in log
    assert "Traceback" not in log
