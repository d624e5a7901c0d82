"""Fault hooks seen through unmodified pymesos drivers: agent restart with checkpoint recovery, agent
restart with changed flags, agent removal, partitions, and a master leader change with redirect."""
import http.client
import json
import os
import time

import pytest

from mesos_testfw.clusters import AgentSpec, make_cluster
from mesos_testfw.harness import executor_info
from mesos_testfw.raw_streams import OperatorStream

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    specs = [AgentSpec(name, attributes={"rack": "r1"}) for name in ("restart", "flags", "removed", "parted")]
    specs.append(AgentSpec("dcos", flavour="dcos", attributes={"rack": "r2"}))
    c = make_cluster(tmp_path_factory, specs, masters=2)
    c.start()
    yield c
    c.stop()


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def run_on(cluster, schedulers, agent_name, prefix, count=1, **kw):
    s = schedulers(cluster.master_address, name=prefix, **kw)
    s.wait_ev("registered")
    host = cluster.agent(agent_name).hostname
    s.send("launch", tasks=[{"task_id": f"{prefix}-{i}", "agent": host, "executor": executor_info(f"{prefix}-ex")}
                            for i in range(count)])
    s.wait_states({f"{prefix}-{i}": "TASK_RUNNING" for i in range(count)}, timeout=30)
    return s


def test_agent_restart_recovers_checkpointed_executors(cluster, schedulers):
    s = run_on(cluster, schedulers, "restart", "rs")
    agent = cluster.agent("restart")
    old_id = agent.agent_id
    ex = agent.executors[(s.framework_id, "rs-ex")]
    pid = ex.proc.pid
    info = cluster.restart_agent("restart")
    assert info["state"] == "running" and info["id"] == old_id
    # The pymesos executor resubscribed within executor_reregistration_timeout: same process, task alive.
    assert agent.executors[(s.framework_id, "rs-ex")] is ex and ex.proc.pid == pid and ex.proc.poll() is None
    mark = s.mark()
    s.send("reconcile", task_ids=["rs-0"])
    assert s.wait_ev("status", since=mark, task_id="rs-0")["state"] == "TASK_RUNNING"
    # The executor still works end to end after recovery.
    s.send("kill", task_id="rs-0")
    assert s.wait_ev("status", since=mark, task_id="rs-0", state="TASK_KILLED")["has_uuid"]
    s.stop(failover=False)


def test_agent_restart_loses_non_checkpointing_executors(cluster, schedulers):
    s = run_on(cluster, schedulers, "restart", "nc", checkpoint=False)
    agent = cluster.agent("restart")
    pid = agent.executors[(s.framework_id, "nc-ex")].proc.pid
    mark = s.mark()
    info = cluster.restart_agent("restart")
    assert info["state"] == "running"
    lost = s.wait_ev("status", since=mark, task_id="nc-0")
    assert (lost["state"], lost["reason"]) == ("TASK_LOST", "REASON_AGENT_DISCONNECTED")
    assert wait_until(lambda: not _alive(pid))
    assert (s.framework_id, "nc-ex") not in agent.executors
    s.stop(failover=False)


def test_agent_restart_with_changed_flags(cluster, schedulers):
    s = run_on(cluster, schedulers, "flags", "fl")
    agent = cluster.agent("flags")
    old_id = agent.agent_id
    pid = agent.executors[(s.framework_id, "fl-ex")].proc.pid
    # A change outside the agent info (isolation) recovers fine under the same ID.
    agent.root.write_text("/etc/mesos-slave/isolation", "posix/cpu,posix/mem,docker/volume\n")
    info = cluster.restart_agent("flags")
    assert info["state"] == "running" and info["id"] == old_id
    flags = json.loads(_get(agent.ip, 5051, "/flags"))["flags"]
    assert flags["isolation"] == "posix/cpu,posix/mem,docker/volume"
    # Changed attributes: real Mesos refuses to recover the old agent.
    agent.root.write_text("/etc/mesos-slave/attributes", "rack:r1;scaleio:yes\n")
    info = cluster.restart_agent("flags")
    assert info["state"] == "failed" and "Incompatible agent info" in info["failure"]
    assert _connect_refused(agent.ip, 5051)
    # After `rm -f <work_dir>/meta/slaves/latest` it comes back as a new agent; its old tasks are gone.
    mark = s.mark()
    os.unlink(os.path.join(agent.work_dir, "meta", "slaves", "latest"))
    info = cluster.start_agent("flags")
    assert info["state"] == "running" and info["id"] != old_id
    lost = s.wait_ev("status", since=mark, task_id="fl-0")
    assert lost["state"] == "TASK_LOST" and not lost["has_uuid"]
    s.wait_ev("agent_lost", since=mark, agent_id=old_id)
    assert wait_until(lambda: not _alive(pid))
    offer = s.wait_for(lambda e: e.get("ev") == "offers" and any(o["agent_id"] == info["id"] for o in e["offers"]),
                       since=mark, what="offer from the new agent ID")
    new = next(o for o in offer["offers"] if o["agent_id"] == info["id"])
    assert new["attributes"] == {"rack": "r1", "scaleio": "yes"} and new["executor_ids"] == []
    s.stop(failover=False)


def test_dcos_agent_flags_come_from_var_lib_dcos(cluster):
    agent = cluster.agent("dcos")
    old_id = agent.agent_id
    override = "/var/lib/dcos/mesos-slave-common"
    assert "MESOS_ATTRIBUTES=rack:r2" in agent.root.read_text(override)
    agent.root.write_text(override, "MESOS_ATTRIBUTES=rack:r2;scaleio:sds\n")
    info = cluster.restart_agent("dcos")
    assert info["state"] == "failed" and "attributes" in info["failure"]
    os.unlink(os.path.join(agent.work_dir, "meta", "slaves", "latest"))
    info = cluster.start_agent("dcos")
    assert info["state"] == "running" and info["id"] != old_id
    flags = json.loads(_get(agent.ip, 5051, "/flags"))["flags"]
    assert flags["attributes"] == "rack:r2;scaleio:sds" and "docker/volume" in flags["isolation"]


def test_agent_removal(cluster, schedulers):
    plain = run_on(cluster, schedulers, "removed", "rmp")
    aware = run_on(cluster, schedulers, "removed", "rma", capabilities=["PARTITION_AWARE"])
    agent = cluster.agent("removed")
    aid = agent.agent_id
    pids = [ex.proc.pid for ex in agent.executors.values()]
    marks = plain.mark(), aware.mark()
    ops = OperatorStream(cluster.master_address)
    try:
        ops.wait_for(lambda e: e["type"] == "SUBSCRIBED")
        cluster.remove_agent("removed")
        removed = ops.wait_for(lambda e: e["type"] == "AGENT_REMOVED")
        assert removed["agent_removed"]["agent_id"] == {"value": aid}
    finally:
        ops.close()
    assert plain.wait_ev("status", since=marks[0], task_id="rmp-0")["state"] == "TASK_LOST"
    assert aware.wait_ev("status", since=marks[1], task_id="rma-0")["state"] == "TASK_GONE_BY_OPERATOR"
    plain.wait_ev("agent_lost", since=marks[0], agent_id=aid)
    aware.wait_ev("agent_lost", since=marks[1], agent_id=aid)
    assert all(not _alive(p) for p in pids)
    assert aid not in [a["id"] for a in cluster.master_state()["slaves"]]
    for s in (plain, aware):
        s.stop(failover=False)


def test_partition_unreachable_vs_lost_then_heal(cluster, schedulers):
    plain = run_on(cluster, schedulers, "parted", "ptp")
    aware = run_on(cluster, schedulers, "parted", "pta", capabilities=["PARTITION_AWARE"])
    aid = cluster.agent("parted").agent_id
    marks = plain.mark(), aware.mark()
    cluster.partition_agent("parted")
    assert plain.wait_ev("status", since=marks[0], task_id="ptp-0")["state"] == "TASK_LOST"
    assert aware.wait_ev("status", since=marks[1], task_id="pta-0")["state"] == "TASK_UNREACHABLE"
    plain.wait_ev("agent_lost", since=marks[0], agent_id=aid)
    mark = aware.mark()
    aware.send("reconcile", task_ids=["pta-0"])
    assert aware.wait_ev("status", since=mark, task_id="pta-0")["state"] == "TASK_UNREACHABLE"
    cluster.heal_agent("parted")
    # The tasks were never killed: after the agent reregisters both frameworks see them running again.
    for s, tid in ((plain, "ptp-0"), (aware, "pta-0")):
        mark = s.mark()
        s.send("reconcile", task_ids=[tid])
        assert s.wait_ev("status", since=mark, task_id=tid)["state"] == "TASK_RUNNING"
    for s in (plain, aware):
        s.stop(failover=False)


def test_control_api_restart_as_called_by_the_agent_service_unit(cluster, schedulers):
    import urllib.request
    s = run_on(cluster, schedulers, "restart", "ctl")
    agent = cluster.agent("restart")
    old_id = agent.agent_id
    control_url = json.loads(agent.root.read_text("/etc/sandbox/agent.json"))["control_url"]
    req = urllib.request.Request(f"{control_url}/agents/restart/restart", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert wait_until(lambda: agent.state == "running")
    assert agent.agent_id == old_id
    mark = s.mark()
    s.send("kill", task_id="ctl-0")
    s.wait_ev("status", since=mark, task_id="ctl-0", state="TASK_KILLED")
    s.stop(failover=False)


def test_stopped_agent_becomes_unreachable_after_ping_timeout(cluster, schedulers):
    s = run_on(cluster, schedulers, "parted", "ping", capabilities=["PARTITION_AWARE"])
    aid = cluster.agent("parted").agent_id
    mark = s.mark()
    cluster.set_time_scale(50)          # 75 s of agent_ping_timeout pass in 1.5 s (timers started from now)
    try:
        cluster.stop_agent("parted")
        ev = s.wait_ev("status", since=mark, task_id="ping-0")
        assert (ev["state"], ev["reason"]) == ("TASK_UNREACHABLE", "REASON_AGENT_REMOVED")
        s.wait_ev("agent_lost", since=mark, agent_id=aid)
    finally:
        cluster.set_time_scale(1)
    # The checkpointed executor survived; after the agent comes back the task is running again.
    assert cluster.start_agent("parted")["id"] == aid
    mark = s.mark()
    s.send("reconcile", task_ids=["ping-0"])
    assert s.wait_ev("status", since=mark, task_id="ping-0")["state"] == "TASK_RUNNING"
    s.stop(failover=False)


def test_master_leader_change_redirects(cluster, schedulers):
    old = cluster.master_address
    s = run_on(cluster, schedulers, "restart", "ldr")
    mark = s.mark()
    new = cluster.change_leader()
    assert new != old
    # pymesos follows the 307 from the old master and resubscribes at the new leader.
    ev = s.wait_ev("reregistered", since=mark)
    assert f"{ev['master']['hostname']}:{ev['master']['port']}" == new
    host, port = old.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/api/v1/scheduler", json.dumps({"type": "SUBSCRIBE"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 307 and resp.getheader("Location") == f"//{new}/api/v1/scheduler"
    conn.request("GET", "/master/redirect")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 307 and resp.getheader("Location") == f"//{new}"
    conn.close()
    mark = s.mark()
    s.send("reconcile", task_ids=["ldr-0"])
    assert s.wait_ev("status", since=mark, task_id="ldr-0")["state"] == "TASK_RUNNING"
    s.stop(failover=False)


def _get(host, port, path):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def _connect_refused(host, port):
    try:
        _get(host, port, "/health")
    except ConnectionRefusedError:
        return True
    return False


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_master_restart(cluster, schedulers):
    s = run_on(cluster, schedulers, "parted", "mr")
    mark = s.mark()
    assert cluster.restart_master(0.5) == cluster.master_address
    s.wait_ev("reregistered", since=mark, timeout=30)
    s.send("reconcile", task_ids=["mr-0"])
    assert s.wait_ev("status", since=mark, task_id="mr-0")["state"] == "TASK_RUNNING"
    s.stop(failover=False)


def test_zookeeper_master_detection_follows_leader_change(tmp_path_factory, schedulers):
    from support.zookeeper import ZooKeeperServer
    with ZooKeeperServer() as zk:
        c = make_cluster(tmp_path_factory, [AgentSpec("zk0")], masters=2, zk=f"127.0.0.1:{zk.port}/mesos")
        c.start()
        try:
            assert c.master_url == f"zk://127.0.0.1:{zk.port}/mesos"
            s = schedulers(c.master_url, name="zk")
            first = s.wait_ev("registered")["master"]
            assert f"{first['hostname']}:{first['port']}" == c.master_address
            s.send("launch", tasks=[{"task_id": "zk-0", "executor": executor_info("zk-ex")}])
            s.wait_ev("status", task_id="zk-0", state="TASK_RUNNING", timeout=30)
            mark = s.mark()
            new = c.change_leader()
            ev = s.wait_ev("reregistered", since=mark, timeout=30)
            assert f"{ev['master']['hostname']}:{ev['master']['port']}" == new
            s.stop(failover=False)
        finally:
            c.stop()


def test_control_api_endpoints(cluster):
    import urllib.error
    import urllib.request
    base = cluster.control.url

    def post(path, body=None):
        req = urllib.request.Request(f"{base}/{path}", data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    status, added = post("agents", {"name": "via-control", "attributes": {"rack": "r9"}})
    assert status == 200 and added["state"] == "running" and added["attributes"] == {"rack": "r9"}
    assert post("agents", {"name": "bad", "colour": "red"})[0] == 400
    assert post("agents/nope/restart")[0] == 404
    assert post("agents/via-control/stop")[1]["state"] == "stopped"
    assert _connect_refused(added["ip"], 5051)
    assert post("agents/via-control/start", {"wait": True})[1]["state"] == "running"
    assert post("agents/via-control/partition")[0] == 200
    assert next(a for a in cluster.master_state()["slaves"] if a["id"] == added["id"])["state"] == "unreachable"
    assert post("agents/via-control/heal")[0] == 200
    assert post("frameworks/drop", {"framework_id": None})[0] == 200
    assert post("time_scale", {"scale": 2})[0] == 200 and cluster.clock.scale == 2
    assert post("time_scale", {"scale": 1})[0] == 200
    assert post("master/recovering", {"value": False})[0] == 200
    old_ping = cluster.master.agent_ping_timeout
    assert post("master/agent_ping_timeout", {"seconds": 0})[0] == 400
    assert post("master/agent_ping_timeout", {"seconds": 2.5}) == (200, {"agent_ping_timeout": 2.5})
    assert cluster.master.agent_ping_timeout == 2.5
    assert post("master/agent_ping_timeout", {"seconds": old_ping})[0] == 200
    assert post("agents/via-control/remove")[1] == {"removed": True}
    assert "via-control" not in cluster.agents
    with urllib.request.urlopen(f"{base}/state", timeout=10) as resp:
        assert json.loads(resp.read())["master"] == cluster.master_address
