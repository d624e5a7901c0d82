"""Launch, acknowledge, reconcile, kill and message through unmodified pymesos drivers and real
custom executor processes inside the agents' isolated roots."""
import json
import os
import time

import pytest

from mesos_testfw.harness import executor_info

from mesos_testfw.clusters import AgentSpec, make_cluster

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    specs = [AgentSpec(f"a{i}", attributes={"rack": f"r{i % 2}"}) for i in range(5)]
    c = make_cluster(tmp_path_factory, specs)
    c.start()
    yield c
    c.stop()


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def start_running(cluster, schedulers, prefix, count=1, agent_index=0, **kw):
    """A scheduler with ``count`` TASK_RUNNING tasks on agent ``a<agent_index>`` (one executor)."""
    host = cluster.agent(f"a{agent_index}").hostname
    s = schedulers(cluster.master_address, name=prefix, **kw)
    s.wait_ev("registered")
    ex = executor_info(f"{prefix}-ex")
    s.send("launch", tasks=[{"task_id": f"{prefix}-{i}", "agent": host, "executor": ex} for i in range(count)])
    s.wait_states({f"{prefix}-{i}": "TASK_RUNNING" for i in range(count)}, timeout=30)
    return s


def test_launch_ten_tasks_on_five_agents(cluster, schedulers):
    info = cluster.snapshot()
    hosts = [a["hostname"] for a in info["agents"]]
    s = schedulers(cluster.master_address, name="launch10")
    s.wait_ev("registered")
    tasks = []
    for i in range(10):
        agent = i % 5
        tasks.append({"task_id": f"t{i}", "agent": hosts[agent], "executor": executor_info(f"ex-a{agent}"),
                      "data": {"run": "forever"}})
    s.send("launch", tasks=tasks)
    events = s.wait_states({f"t{i}": "TASK_RUNNING" for i in range(10)}, timeout=40)
    for i, ev in events.items():
        assert ev["has_uuid"] and ev["source"] == "SOURCE_EXECUTOR"
    # Every update was acknowledged: the agents have no pending (unacknowledged) updates left.
    assert wait_until(lambda: all(not st.pending for a in cluster.agents.values() for st in a.sum.streams.values()))
    state = cluster.master_state()
    fw = next(f for f in state["frameworks"] if f["id"] == s.framework_id)
    assert sorted(t["state"] for t in fw["tasks"]) == ["TASK_RUNNING"] * 10
    assert {t["slave_id"] for t in fw["tasks"]} == {a["id"] for a in info["agents"]}
    # The executors really run inside the agents' roots with the exact Mesos environment.
    agent = cluster.agent("a0")
    ex = agent.executors[(s.framework_id, "ex-a0")]
    with open(os.path.join(ex.directory, "executor.json")) as f:
        recorded = json.load(f)
    env = recorded["env"]
    assert env["MESOS_CHECKPOINT"] == "1"
    assert env["MESOS_AGENT_ENDPOINT"] == f"{agent.ip}:5051"
    assert env["MESOS_FRAMEWORK_ID"] == s.framework_id
    assert env["MESOS_EXECUTOR_ID"] == "ex-a0"
    assert env["MESOS_DIRECTORY"] == ex.directory == recorded["cwd"]
    assert env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "5secs"
    assert env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] == "15secs"
    assert env["MESOS_RECOVERY_TIMEOUT"] == "15mins"
    assert env["MESOS_SANDBOX"] == ex.directory and env["MESOS_SLAVE_ID"] == agent.agent_id
    assert env["MESOS_SLAVE_PID"] == f"slave(1)@{agent.ip}:5051" and env["LIBPROCESS_IP"] == agent.ip
    assert env["MESOS_HTTP_COMMAND_EXECUTOR"] == "0" and env["LIBPROCESS_PORT"] == "0"
    assert recorded["hostname"] == agent.hostname
    assert recorded["pid"] in agent.root.pids()
    s.stop(failover=False)


def test_explicit_and_implicit_reconciliation(cluster, schedulers):
    s = start_running(cluster, schedulers, "rec", count=2, agent_index=1)
    mark = s.mark()
    s.send("reconcile", task_ids=["rec-0", "no-such-task"])
    known = s.wait_ev("status", since=mark, task_id="rec-0", reason="REASON_RECONCILIATION")
    assert known["state"] == "TASK_RUNNING" and known["source"] == "SOURCE_MASTER" and not known["has_uuid"]
    unknown = s.wait_ev("status", since=mark, task_id="no-such-task")
    # pymesos drops agent_id, so the master answers "unknown" -> TASK_LOST for a non-partition-aware framework.
    assert unknown["state"] == "TASK_LOST" and unknown["reason"] == "REASON_RECONCILIATION"
    mark = s.mark()
    s.send("reconcile", task_ids=[])
    for tid in ("rec-0", "rec-1"):
        ev = s.wait_ev("status", since=mark, task_id=tid, reason="REASON_RECONCILIATION")
        assert ev["state"] == "TASK_RUNNING"
    s.stop(failover=False)


def test_partition_aware_reconciliation_of_unknown_task(cluster, schedulers):
    s = schedulers(cluster.master_address, name="pa", capabilities=["PARTITION_AWARE"])
    s.wait_ev("registered")
    s.send("reconcile", task_ids=["ghost"])
    assert s.wait_ev("status", task_id="ghost")["state"] == "TASK_UNKNOWN"
    s.stop(failover=False)


def test_kill_and_framework_message(cluster, schedulers):
    s = start_running(cluster, schedulers, "kil", count=2, agent_index=2)
    agent_id = cluster.agent("a2").agent_id
    mark = s.mark()
    s.send("message", executor_id="kil-ex", agent_id=agent_id, data="hello")
    assert s.wait_ev("message", since=mark)["data"] == "echo:hello"
    s.send("kill", task_id="kil-0")
    killed = s.wait_ev("status", since=mark, task_id="kil-0", state="TASK_KILLED")
    assert killed["has_uuid"] and killed["source"] == "SOURCE_EXECUTOR"
    assert s.statuses("kil-1") == ["TASK_RUNNING"]
    # Once the terminal update is acknowledged the master forgets the task.
    assert wait_until(lambda: "kil-0" not in [t["id"] for f in cluster.master_state()["frameworks"]
                                              for t in f["tasks"]])
    s.stop(failover=False)


def test_executor_crash_fails_tasks_then_reports_failure(cluster, schedulers):
    s = start_running(cluster, schedulers, "crash", count=2, agent_index=3)
    agent = cluster.agent("a3")
    mark = s.mark()
    s.send("message", executor_id="crash-ex", agent_id=agent.agent_id, data="crash")
    for tid in ("crash-0", "crash-1"):
        ev = s.wait_ev("status", since=mark, task_id=tid, state="TASK_FAILED")
        assert ev["reason"] == "REASON_EXECUTOR_TERMINATED" and ev["source"] == "SOURCE_AGENT" and ev["has_uuid"]
    lost = s.wait_ev("executor_lost", since=mark, executor_id="crash-ex")
    assert lost["agent_id"] == agent.agent_id and lost["status"] == 3 << 8
    failed_at = [i for i, e in enumerate(s.events) if e.get("ev") == "status" and e.get("state") == "TASK_FAILED"]
    lost_at = s.events.index(lost)
    assert max(failed_at) < lost_at
    s.stop(failover=False)


def test_framework_failover_keeps_executors(cluster, schedulers):
    s1 = start_running(cluster, schedulers, "fo", count=1, agent_index=4, failover_timeout=30)
    fid = s1.framework_id
    agent = cluster.agent("a4")
    pid = agent.executors[(fid, "fo-ex")].proc.pid
    # A second instance with the same ID takes over: the first hears "Framework failed over".
    s2 = schedulers(cluster.master_address, name="fo", framework_id=fid, failover_timeout=30)
    s1.wait_ev("error", message="Framework failed over")
    s2.wait_ev("reregistered")
    s1.kill()
    mark = s2.mark()
    s2.send("reconcile", task_ids=["fo-0"])
    assert s2.wait_ev("status", since=mark, task_id="fo-0")["state"] == "TASK_RUNNING"
    # The scheduler process dies without TEARDOWN; a new one within failover_timeout keeps everything.
    s2.kill()
    assert wait_until(lambda: not next(f for f in cluster.master_state()["frameworks"] if f["id"] == fid)["connected"])
    s3 = schedulers(cluster.master_address, name="fo", framework_id=fid, failover_timeout=30, mode="hold")
    s3.wait_ev("reregistered")
    offer = s3.wait_for(lambda e: e.get("ev") == "offers" and any(o["agent_id"] == agent.agent_id
                                                                  for o in e["offers"]), what="offer from a4")
    assert [o for o in offer["offers"] if o["agent_id"] == agent.agent_id][0]["executor_ids"] == ["fo-ex"]
    assert agent.executors[(fid, "fo-ex")].proc.pid == pid and agent.executors[(fid, "fo-ex")].proc.poll() is None
    s3.stop(failover=False)
    # TEARDOWN (stop without failover) removes the framework and its executors.
    assert wait_until(lambda: (fid, "fo-ex") not in agent.executors, timeout=15)


def test_dropped_stream_resubscribes(cluster, schedulers):
    s = start_running(cluster, schedulers, "drop", count=1, agent_index=0)
    mark = s.mark()
    assert cluster.drop_framework_stream(s.framework_id) == [s.framework_id]
    s.wait_ev("disconnected", since=mark)
    s.wait_ev("reregistered", since=mark)
    s.send("reconcile", task_ids=["drop-0"])
    assert s.wait_ev("status", since=mark, task_id="drop-0")["state"] == "TASK_RUNNING"
    s.stop(failover=False)


def test_failover_timeout_expiry_removes_framework(cluster, schedulers):
    # 30 s of failover timeout at a 20x time scale: the whole cluster's clock runs fast.
    s = start_running(cluster, schedulers, "fto", count=1, agent_index=0, failover_timeout=30)
    fid = s.framework_id
    agent = cluster.agent("a0")
    cluster.set_time_scale(20)
    try:
        s.kill()
        assert wait_until(lambda: (fid, "fto-ex") not in agent.executors, timeout=15)
    finally:
        cluster.set_time_scale(1)
    assert fid in [f["id"] for f in cluster.master_state()["completed_frameworks"]]
    again = schedulers(cluster.master_address, name="fto", framework_id=fid)
    assert again.wait_ev("error")["message"] == "Framework has been removed"


def test_executor_writes_stay_inside_the_agent(cluster, schedulers):
    marker = f"/etc/mesos-emulator-guard-{os.getpid()}"
    host = cluster.agent("a1").hostname
    s = schedulers(cluster.master_address, name="guard")
    s.wait_ev("registered")
    s.send("launch", tasks=[{"task_id": "g0", "agent": host, "executor": executor_info("g-ex"),
                             "data": {"write": marker, "text": "inside"}}])
    s.wait_ev("status", task_id="g0", state="TASK_RUNNING", timeout=30)
    assert cluster.agent("a1").root.read_text(marker) == "inside"
    assert not os.path.exists(marker)
    s.stop(failover=False)


def test_command_task_with_http_fetch(cluster, schedulers, tmp_path):
    import http.server
    import io
    import tarfile
    import threading
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"payload\n"
        member = tarfile.TarInfo("bundle/hello.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = schedulers(cluster.master_address, name="cmd")
        s.wait_ev("registered")
        url = f"http://127.0.0.1:{server.server_address[1]}/bundle.tar.gz"
        s.send("launch", tasks=[
            {"task_id": "ok", "command": {"value": "grep -q payload bundle/hello.txt", "uris": [{"value": url}]}},
            {"task_id": "bad", "command": {"value": "exit 7"}}])
        ok = s.wait_states({"ok": "TASK_FINISHED"}, timeout=30)["ok"]
        assert s.statuses("ok")[:2] == ["TASK_STARTING", "TASK_RUNNING"] and ok["has_uuid"]
        bad = s.wait_ev("status", task_id="bad", state="TASK_FAILED", timeout=30)
        assert bad["message"] == "Command exited with status 7"
        s.stop(failover=False)
    finally:
        server.shutdown()
        server.server_close()


def test_launch_group_custom_and_default_executors(cluster, schedulers):
    host = cluster.agent("a2").hostname
    s = schedulers(cluster.master_address, name="groups")
    s.wait_ev("registered")
    s.send("launch_group", agent=host, executor=executor_info("grp-custom"),
           tasks=[{"task_id": "gc-0"}, {"task_id": "gc-1"}])
    s.wait_states({"gc-0": "TASK_RUNNING", "gc-1": "TASK_RUNNING"}, timeout=30)
    default = {"executor_id": {"value": "grp-default"}, "type": "DEFAULT",
               "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]}
    s.send("launch_group", agent=host, executor=default,
           tasks=[{"task_id": "gd-0", "command": {"value": "true"}}, {"task_id": "gd-1", "command": {"value": "true"}}])
    s.wait_states({"gd-0": "TASK_FINISHED", "gd-1": "TASK_FINISHED"}, timeout=30)
    s.stop(failover=False)


def test_agent_reboot_loses_executors_but_keeps_agent_id(cluster, schedulers):
    s = start_running(cluster, schedulers, "rb", count=1, agent_index=4)
    agent = cluster.agent("a4")
    old_id = agent.agent_id
    pid = agent.executors[(s.framework_id, "rb-ex")].proc.pid
    mark = s.mark()
    info = cluster.reboot_agent("a4")
    assert info["state"] == "running" and info["id"] == old_id
    lost = s.wait_ev("status", since=mark, task_id="rb-0")
    assert lost["state"] == "TASK_LOST" and not lost["has_uuid"]
    assert not os.path.exists(f"/proc/{pid}")
    s.stop(failover=False)


def test_executor_registration_timeout(cluster, schedulers):
    info = cluster.add_agent(AgentSpec("regto", flags={"executor_registration_timeout": "1secs"}))
    s = schedulers(cluster.master_address, name="regto")
    s.wait_ev("registered")
    silent = {"executor_id": {"value": "silent"}, "command": {"value": "exec sleep 60"}}
    s.send("launch", tasks=[{"task_id": "never", "agent": info["hostname"], "executor": silent}])
    ev = s.wait_ev("status", task_id="never", state="TASK_FAILED", timeout=30)
    assert ev["reason"] == "REASON_EXECUTOR_REGISTRATION_TIMEOUT" and ev["source"] == "SOURCE_AGENT"
    lost = s.wait_ev("executor_lost", executor_id="silent")
    assert lost["status"] == 9        # SIGKILLed by the agent
    s.stop(failover=False)


def test_non_checkpointing_framework_environment(cluster, schedulers):
    s = start_running(cluster, schedulers, "nock", count=1, agent_index=3, checkpoint=False)
    ex = cluster.agent("a3").executors[(s.framework_id, "nock-ex")]
    with open(os.path.join(ex.directory, "executor.json")) as f:
        env = json.load(f)["env"]
    assert env["MESOS_CHECKPOINT"] == "0"
    assert "MESOS_RECOVERY_TIMEOUT" not in env and "MESOS_SUBSCRIPTION_BACKOFF_MAX" not in env
    s.stop(failover=False)


def test_kill_before_delivery(cluster, schedulers):
    host = cluster.agent("a1").hostname
    s = schedulers(cluster.master_address, name="early")
    s.wait_ev("registered")
    slow = executor_info("slow-ex")
    slow["command"]["value"] = "sleep 3; " + slow["command"]["value"]     # subscribes only after 3 s
    s.send("launch", tasks=[{"task_id": "early-0", "agent": host, "executor": slow}])
    s.wait_ev("launched")
    s.send("kill", task_id="early-0")
    ev = s.wait_ev("status", task_id="early-0", state="TASK_KILLED")
    assert ev["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH" and ev["source"] == "SOURCE_AGENT"
    # With nothing left to run, the agent shuts the executor down.
    s.wait_ev("executor_lost", executor_id="slow-ex", timeout=20)
    assert s.statuses("early-0") == ["TASK_KILLED"]
    # Nothing of that executor survives in the agent (not even a process started late).
    agent = cluster.agent("a1")
    assert wait_until(lambda: not any("slow-ex" in _environ(p) for p in agent.root.pids()))
    s.stop(failover=False)


def _environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_docker_containers_are_not_available(cluster, schedulers):
    s = schedulers(cluster.master_address, name="docker")
    s.wait_ev("registered")
    s.send("launch", tasks=[{"task_id": "dk", "command": {"value": "true"},
                             "container": {"type": "DOCKER", "docker": {"image": "busybox"}}}])
    ev = s.wait_ev("status", task_id="dk", state="TASK_FAILED", timeout=30)
    assert ev["reason"] == "REASON_CONTAINER_LAUNCH_FAILED" and "DOCKER" in ev["message"]
    s.stop(failover=False)


def test_frozen_stream_stops_heartbeats_until_resubscription(cluster, schedulers):
    s = schedulers(cluster.master_address, name="frozen", failover_timeout=60)
    fid = s.wait_ev("registered")["framework_id"]
    s.wait_ev("heartbeat")
    assert cluster.freeze_framework_stream(fid) == [fid]
    time.sleep(0.5)                                 # a heartbeat already on its way may still arrive
    mark = s.mark()
    time.sleep(2.5)                                 # more than two heartbeat intervals
    assert s.of("heartbeat")[-1:] and not [e for e in s.events[mark:] if e.get("ev") == "heartbeat"]
    # What a watchdog would do: subscribe again with the same ID; the new stream is alive.
    again = schedulers(cluster.master_address, name="frozen", framework_id=fid, failover_timeout=60)
    again.wait_ev("reregistered")
    again.wait_ev("heartbeat")
    again.stop(failover=False)
    s.kill()
