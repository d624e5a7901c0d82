"""One provision-mode world (three agents, Ubuntu/RHEL) through a deploy and its life after it, in order:

(e) the scheduler is SIGKILLed at a random point of the deploy (the pid in ``pid_file``; the
    supervisor restarts it, as Marathon would): the plan still completes, the framework ID is
    unchanged, the executors it had launched survived (same executor IDs), and the ScaleIO world's
    event log shows no effect applied twice;
(c)+(f) a new agent joins while a gateway fault is armed for SDS registration: its sds-register step
    retries with backoff and ends in ERROR with the reason; with the fault cleared, restarting the
    step (operator API) completes the plan, and the agent is onboarded (SDS, devices, SDC, isolator);
(d) a device is added through the operator API (POST /v1/nodes/<node>/devices) and the pool's
    capacity grows.

``E2E_CHAOS_SEED`` replays a kill point (the seed is printed on failure).
"""
import collections
import json
import os
import random
import signal

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(600)]

AGENTS = 3
EXTRA_DISK = {"name": "sde", "size_gb": 120, "fs": None}
# sde is never discovered: the operator adds it explicitly in (d).
DENY = ["loop*", "dm-*", "scini*", "ram*", "sr*", "zram*", "md*", "fd*", "sde"]
SDS_FAULT = "gateway_5xx"
SEED = int(os.environ.get("E2E_CHAOS_SEED") or random.SystemRandom().randrange(1 << 30))


@pytest.fixture(scope="module")
def world(e2e):
    up = e2e.start_up(AGENTS, mode="provision", os_choice="mixed",
                      options={"devices": {"discovery": {"deny": DENY}}})
    try:
        yield up
    finally:
        up.stop()


def _effect_key(e):
    """What one applied event did, as an identity: the same key twice = an effect applied twice."""
    a = e.args
    keyed = {"add_standby_mdm": ("ip",), "add_protection_domain": ("name",), "add_storage_pool": ("name",),
             "add_device": ("sds_id", "sds_name", "path"), "register_sdc": ("guid",)}
    if e.op == "add_sds":
        return e.op, tuple(sorted(str(i) for i in json.loads(json.dumps(a.get("ips")))))
    if e.op in keyed:
        return (e.op,) + tuple(str(a.get(k)) for k in keyed[e.op])
    return e.op, json.dumps(a, sort_keys=True)


def _applied_twice(system):
    counts = collections.Counter(_effect_key(e) for e in system.events(outcome="applied")
                                 if e.op not in ("map_volume", "unmap_volume"))
    return {k: n for k, n in counts.items() if n > 1}


def test_e_scheduler_sigkilled_mid_deploy_resumes(world, e2e):
    up = world
    rng = random.Random(SEED)
    # The plan is known once the agents are: kill after a random number of completed steps.
    plan = e2e.wait(lambda: (lambda p: p if p and len(p["phases"]) >= 2 + AGENTS else None)(e2e.plan(up)),
                    60, "the plan with every agent's phase")
    total = len(e2e.steps(plan))
    target = rng.randint(1, total - 2)

    def progressed():
        p = e2e.plan(up)
        done = sum(st["status"] == "COMPLETE" for st in e2e.steps(p)) if p else 0
        return p if done >= target or (p and p["status"] in ("COMPLETE", "ERROR")) else None
    at_kill = e2e.wait(progressed, 240, f"{target} completed steps (seed {SEED})", interval=0.1)
    assert at_kill["status"] != "COMPLETE", f"the plan completed before the kill point (seed {SEED})"
    before = e2e.scheduler_state(up)
    old_pid = int(open(up.info["pid_file"]).read())
    os.kill(old_pid, signal.SIGKILL)
    new_pid = up.supervisor.wait_for_new_pid(old_pid, timeout=60)
    assert new_pid != old_pid

    plan = e2e.wait_plan(up)
    assert plan["status"] == "COMPLETE", (SEED, e2e.failures(plan))
    after = e2e.scheduler_state(up)
    assert after["framework_id"] == before["framework_id"] and after["framework_id"]
    survived = {h: e["executor_id"] for h, e in before["executors"].items() if not e.get("stale")}
    assert survived, f"no executor had been launched at the kill point (seed {SEED})"
    assert {h: after["executors"][h]["executor_id"] for h in survived} == survived, SEED
    assert int(open(up.info["pid_file"]).read()) == new_pid          # not restarted again since
    s = e2e.system(up)
    assert _applied_twice(s) == {}, SEED
    assert s.cluster().mode == "3_node" and len(s.sds_list()) == AGENTS
    assert s.integrity_problems() == []


def test_c_f_new_agent_with_a_gateway_fault_then_restart_onboards_it(world, e2e):
    from dcos_scaleio.sandbox.join import join_agent
    up = world
    s = e2e.system(up)
    s.set_fault(SDS_FAULT, status=503, message="injected: SDS service unavailable", path="types/Sds/instances")
    try:
        new = join_agent(up, os_family="rhel", disks=({"name": "sdb", "size_gb": 200, "fs": None},
                                                      {"name": "sdc", "size_gb": 100, "fs": None}, EXTRA_DISK))
        host = new["hostname"]
        step_name = f"{host}:[sds-register]"

        def step_failed():
            p = e2e.plan(up)
            st = next((x for x in e2e.steps(p) if x["name"] == step_name), None) if p else None
            return (p, st) if st and st["status"] == "ERROR" else None
        plan, step = e2e.wait(step_failed, 180, f"{step_name} to end in ERROR")
        assert plan["status"] == "ERROR"
        assert "503" in step["message"] or "unavailable" in step["message"], step
        assert "after 3 attempt" in step["message"], step          # retried with backoff first
        refused = s.count_events(op="add_sds", outcome="applied")
        assert refused == AGENTS                                 # nothing registered for it meanwhile
    finally:
        s.clear_fault(SDS_FAULT)
    phase = next(ph for ph in plan["phases"] if ph["name"] == host)
    status, body = e2e.http(up, "POST", f"/v1/plans/deploy/restart?phase={phase['id']}&step={step['id']}")
    assert status == 200, body
    plan = e2e.assert_complete(up, timeout=180)
    assert {f"{host}:[sdc]", f"{host}:[dvdi]", f"{host}:[device:/dev/sdb]"} <= {x["name"] for x in e2e.steps(plan)}
    sds = s.sds(ip=new["ip"])
    assert sorted(d.path for d in s.devices(sds_id=sds.id)) == ["/dev/sdb", "/dev/sdc"]
    assert any(c.ip == new["ip"] and c.connected for c in s.sdcs())
    agent = up.world.mesos.agents[new["name"]]
    assert "docker/volume" in e2e.agent_flags(agent)["isolation"].split(",")
    assert _applied_twice(s) == {}


def test_d_added_device_grows_capacity(world, e2e):
    up = world
    s = e2e.system(up)
    new = up.info["agents"][-1]
    assert new["name"] == f"agent-{AGENTS + 1}", "runs after the join test"
    before = s.system_capacity().total_kb
    status, body = e2e.http(up, "POST", f"/v1/nodes/{new['hostname']}/devices", {"devices": ["/dev/sde"]})
    assert status == 202, body
    assert body["devices"] == ["/dev/sde"] or "/dev/sde" in json.dumps(body["devices"])
    plan = e2e.assert_complete(up, timeout=120)
    assert f"{new['hostname']}:[device:/dev/sde]" in {x["name"] for x in e2e.steps(plan)}
    sds = s.sds(ip=new["ip"])
    assert "/dev/sde" in {d.path for d in s.devices(sds_id=sds.id)}
    assert s.system_capacity().total_kb > before
    assert _applied_twice(s) == {}
