"""Provision mode end to end on ONE world (``sandbox up`` with six agents, Ubuntu/RHEL alternating,
the real scheduler under supervision, the shipped executor artifact on every agent), in order:

(e) during the deploy the scheduler is SIGKILLed at a random point (the pid in ``pid_file``; the
    supervisor restarts it, as Marathon would): the plan still completes, the framework ID is
    unchanged, the executors it had launched survived (same executor IDs), and the ScaleIO world's
    event log shows no effect applied twice;
(a) the deployed world: a 3_node MDM cluster on three of the agents, an SDS with its discovered
    devices on all six, six SDCs connected, REX-Ray configured (0600) and running, and the volume
    isolator in every agent's running flags;
(c)+(f) a seventh agent joins while a gateway fault is armed for SDS registration: its sds-register
    step retries with backoff and ends in ERROR with the reason; with the fault cleared, restarting the
    step (operator API) completes the plan and the agent is onboarded (SDS, devices, SDC, isolator).
    It also runs a kernel the SDC has no ``scini`` module for, with a supported one installed: with
    ``agents.allow_reboot`` the sdc step asks for a reboot, the scheduler has the executor reboot the
    host, and the step completes on the rebooted host (running the supported kernel);
(d) a device is added through the operator API (POST /v1/nodes/<node>/devices): capacity grows.

One world for all of it keeps the suite's time down (one six-agent deploy). ``E2E_CHAOS_SEED``
replays a kill point (the seed is in every assertion message of (e)).
"""
import collections
import json
import os
import random
import signal

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(900)]

AGENTS = 6
REXRAY_CONFIG = "/etc/rexray/config.yml"
SEED = int(os.environ.get("E2E_CHAOS_SEED") or random.SystemRandom().randrange(1 << 30))
# sde is never discovered: the operator adds it explicitly in (d).
DENY = ["loop*", "dm-*", "scini*", "ram*", "sr*", "zram*", "md*", "fd*", "sde"]
JOINER_DISKS = ({"name": "sdb", "size_gb": 200, "fs": None}, {"name": "sdc", "size_gb": 100, "fs": None},
                {"name": "sde", "size_gb": 120, "fs": None})
SDS_FAULT = "gateway_5xx"
OLD_KERNEL, GOOD_KERNEL = "3.10.0-693.el7.x86_64", "3.10.0-1160.el7.x86_64"   # RHEL: only GOOD has scini


def _kill_mid_deploy(up, e2e, rng):
    """SIGKILL the scheduler after a random number of completed steps; what the test checks later."""
    plan = e2e.wait(lambda: (lambda p: p if p and len(p["phases"]) >= 2 + AGENTS else None)(e2e.plan(up)),
                    90, "the plan with every agent's phase")
    target = rng.randint(1, len(e2e.steps(plan)) - 2)

    def progressed():
        p = e2e.plan(up)
        done = sum(st["status"] == "COMPLETE" for st in e2e.steps(p)) if p else 0
        return p if done >= target or (p and p["status"] in ("COMPLETE", "ERROR")) else None
    at_kill = e2e.wait(progressed, 300, f"{target} completed steps (seed {SEED})", interval=0.1)
    before = e2e.scheduler_state(up)
    old_pid = int(open(up.info["pid_file"]).read())
    os.kill(old_pid, signal.SIGKILL)
    new_pid = up.supervisor.wait_for_new_pid(old_pid, timeout=60)
    return {"target": target, "plan": at_kill, "state": before, "old_pid": old_pid, "new_pid": new_pid}


@pytest.fixture(scope="module")
def deployed(e2e):
    up = e2e.start_up(AGENTS, mode="provision", os_choice="mixed",
                      options={"devices": {"discovery": {"deny": DENY}}, "agents": {"allow_reboot": True}})
    try:
        kill = _kill_mid_deploy(up, e2e, random.Random(SEED))
        plan = e2e.wait_plan(up)
        assert plan["status"] == "COMPLETE", (f"seed {SEED}", e2e.failures(plan))
        yield up, plan, kill
    finally:
        up.stop()


def _effect_key(e):
    """What one applied event did, as an identity: the same key twice = an effect applied twice."""
    a = e.args
    keyed = {"add_standby_mdm": ("ip",), "add_protection_domain": ("name",), "add_storage_pool": ("name",),
             "add_device": ("sds_id", "sds_name", "path"), "register_sdc": ("guid",)}
    if e.op == "add_sds":
        return e.op, tuple(sorted(str(ip[0] if isinstance(ip, list) else ip) for ip in a.get("ips") or ()))
    if e.op in keyed:
        return (e.op,) + tuple(str(a.get(k)) for k in keyed[e.op])
    return e.op, json.dumps(a, sort_keys=True)


def _applied_twice(system):
    counts = collections.Counter(_effect_key(e) for e in system.events(outcome="applied"))
    return {k: n for k, n in counts.items() if n > 1}


# ------------------------------------------------------------------ (e) the kill
def test_e_scheduler_killed_mid_deploy_resumed_with_same_framework_and_executors(deployed, e2e):
    up, _, kill = deployed
    assert kill["plan"]["status"] != "COMPLETE", f"the plan completed before the kill point (seed {SEED})"
    assert kill["new_pid"] != kill["old_pid"]
    assert int(open(up.info["pid_file"]).read()) == kill["new_pid"], "restarted again since"
    after = e2e.scheduler_state(up)
    assert after["framework_id"] and after["framework_id"] == kill["state"]["framework_id"], SEED
    survived = {h: e["executor_id"] for h, e in kill["state"]["executors"].items() if not e.get("stale")}
    assert survived, f"no executor had been launched at the kill point (seed {SEED})"
    assert {h: after["executors"][h]["executor_id"] for h in survived} == survived, SEED


def test_e_no_effect_applied_twice(deployed, e2e):
    up, _, _ = deployed
    s = e2e.system(up)
    assert _applied_twice(s) == {}, SEED
    assert s.integrity_problems() == []


# ------------------------------------------------------------------ (a) the deployed world
def test_a_plan_complete_on_every_agent(deployed, e2e):
    up, plan, _ = deployed
    assert e2e.http(up, "GET", "/v1/plans/deploy")[0] == 200
    status, health = e2e.http(up, "GET", "/v1/health")
    assert status == 200 and health["value"] == "RUNNING"
    hosts = {a["hostname"] for a in up.info["agents"]}
    assert {a["os"] for a in up.info["agents"]} == {"ubuntu", "rhel"}
    assert hosts <= {ph["name"] for ph in plan["phases"]}
    names = {st["name"] for st in e2e.steps(plan)}
    for host in hosts:
        assert {f"{host}:[deps]", f"{host}:[sds]", f"{host}:[sdc]", f"{host}:[rexray]", f"{host}:[dvdi]"} <= names
    assert {"primary:[cluster-create]", "gateway:[reachable]"} <= names
    # Every agent's host steps ran on its own executor (counters restart with the killed scheduler).
    executors = e2e.scheduler_state(up)["executors"]
    assert set(executors) == hosts and all(e["executor_id"] for e in executors.values())
    # The admin password never reaches the scheduler's logs.
    logs = "".join((up.state_dir / "scheduler" / f).read_text(errors="replace") for f in ("stdout", "stderr"))
    assert up.info["admin_password"] not in logs


def test_a_three_node_mdm_cluster_on_three_agents(deployed, e2e):
    up, _, _ = deployed
    cluster = e2e.system(up).cluster()
    assert cluster.created and cluster.mode == "3_node" and cluster.password_changed
    member_ips = [ip for m in cluster.members for ip in m.ips]
    assert len(cluster.members) == 3 and len(set(member_ips)) == 3
    assert set(member_ips) <= {a["ip"] for a in up.info["agents"]}


def test_a_six_sds_with_their_devices(deployed, e2e):
    up, _, _ = deployed
    s = e2e.system(up)
    sds = s.sds_list()
    assert len(sds) == AGENTS
    assert {ip for x in sds for ip in x.ip_list} == {a["ip"] for a in up.info["agents"]}
    for x in sds:
        assert s.sds_connected(x), x
        # The world's disks: sdb 200 GB and sdc 100 GB are unused; sdd (50 GB, xfs) is refused.
        assert sorted(d.path for d in s.devices(sds_id=x.id)) == ["/dev/sdb", "/dev/sdc"], x.name
    assert s.system_capacity().total_kb > 0


def test_a_six_sdcs_connected(deployed, e2e):
    up, _, _ = deployed
    sdcs = e2e.system(up).sdcs()
    assert sorted(c.ip for c in sdcs) == sorted(a["ip"] for a in up.info["agents"])
    assert all(c.connected for c in sdcs), sdcs


def test_a_rexray_configured_and_running_everywhere(deployed):
    up, _, _ = deployed
    for agent in up.world.mesos.agents.values():
        root = agent.root
        active = root.run(["systemctl", "is-active", "rexray"], timeout=30)
        assert active.stdout.strip() == "active", (agent.name, active.stdout, active.stderr)
        config = root.read_text(REXRAY_CONFIG)
        assert config and "scaleio" in config.lower(), (agent.name, config)
        mode = root.run(["stat", "-c", "%a", REXRAY_CONFIG], timeout=30).stdout.strip()
        assert mode == "600", (agent.name, mode)
        ls = root.run(["rexray", "volume", "ls"], timeout=60)
        assert ls.returncode == 0, (agent.name, ls.stderr)


def test_a_isolator_in_every_agents_running_flags(deployed, e2e):
    up, _, _ = deployed
    for agent in up.world.mesos.agents.values():
        assert "docker/volume" in e2e.agent_flags(agent)["isolation"].split(","), agent.name


# ------------------------------------------------------------------ (c)+(f) a new agent, a fault
def test_c_f_new_agent_with_a_gateway_fault_then_restart_onboards_it(deployed, e2e):
    from dcos_scaleio.sandbox.join import join_agent
    up, _, _ = deployed
    s = e2e.system(up)
    s.set_fault(SDS_FAULT, status=503, message="injected: SDS service unavailable", path="types/Sds/instances")
    try:
        new = join_agent(up, os_family="rhel", disks=JOINER_DISKS, kernel=OLD_KERNEL,
                         packages=[f"kernel-{GOOD_KERNEL}"])
        host = new["hostname"]
        step_name = f"{host}:[sds-register]"

        def step_failed():
            p = e2e.plan(up)
            st = next((x for x in e2e.steps(p) if x["name"] == step_name), None) if p else None
            return (p, st) if st and st["status"] == "ERROR" else None
        plan, step = e2e.wait(step_failed, 240, f"{step_name} to end in ERROR")
        assert plan["status"] == "ERROR"
        assert "503" in step["message"] or "unavailable" in step["message"], step
        assert "after 3 attempt" in step["message"], step          # retried with backoff first
        assert s.count_events(op="add_sds", outcome="applied") == AGENTS    # nothing registered meanwhile
    finally:
        s.clear_fault(SDS_FAULT)
    phase = next(ph for ph in plan["phases"] if ph["name"] == host)
    status, body = e2e.http(up, "POST", f"/v1/plans/deploy/restart?phase={phase['id']}&step={step['id']}")
    assert status == 200, body
    plan = e2e.assert_complete(up, timeout=240)
    assert {f"{host}:[sdc]", f"{host}:[dvdi]", f"{host}:[device:/dev/sdb]"} <= {x["name"] for x in e2e.steps(plan)}
    sds = s.sds(ip=new["ip"])
    assert sorted(d.path for d in s.devices(sds_id=sds.id)) == ["/dev/sdb", "/dev/sdc"]
    assert any(c.ip == new["ip"] and c.connected for c in s.sdcs())
    agent = up.world.mesos.agents[new["name"]]
    assert "docker/volume" in e2e.agent_flags(agent)["isolation"].split(",")
    assert _applied_twice(s) == {}
    # The reboot into the supported kernel happened, through the scheduler and the executor.
    assert agent.root.run(["uname", "-r"], timeout=30).stdout.strip() == GOOD_KERNEL
    sdc = next(x for x in e2e.steps(plan) if x["name"] == f"{host}:[sdc]")
    assert sdc["attempts"] == 2, sdc            # asked for the reboot, then ran on the rebooted host
    log = (up.state_dir / "scheduler" / "stderr").read_text(errors="replace")
    assert f"rebooting agent {host} for {host}/sdc" in log and f"agent {host} rebooted" in log


# ------------------------------------------------------------------ (d) a device, more capacity
def test_d_added_device_grows_capacity(deployed, e2e):
    up, _, _ = deployed
    s = e2e.system(up)
    new = up.info["agents"][-1]
    assert new["name"] == f"agent-{AGENTS + 1}", "runs after the join test"
    before = s.system_capacity().total_kb
    status, body = e2e.http(up, "POST", f"/v1/nodes/{new['hostname']}/devices", {"devices": ["/dev/sde"]})
    assert status == 202, body
    assert "/dev/sde" in json.dumps(body["devices"]) and body["steps"], body
    plan = e2e.assert_complete(up, timeout=180)
    assert f"{new['hostname']}:[device:/dev/sde]" in {x["name"] for x in e2e.steps(plan)}
    sds = s.sds(ip=new["ip"])
    assert "/dev/sde" in {d.path for d in s.devices(sds_id=sds.id)}
    assert s.system_capacity().total_kb > before
    assert _applied_twice(s) == {}
