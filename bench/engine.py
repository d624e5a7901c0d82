"""Benchmark of the pure plan engine: CPU per event, decisions/s, memory per agent.

Usage: python bench/engine.py [--agents 1000 10000] [--mode existing|provision]

Drives a whole deploy through ``Engine.handle`` the way the scheduler adapter would (offers, task
status updates, cluster action results, ticks), then new agents joining, operator commands and
add-device requests, timing only the engine calls. Memory per agent is measured with tracemalloc
on a separate engine. Targets (issue 4): <= 20 us per event, <= 10 KB per agent.
"""
import argparse
import gc
import json
import time
import tracemalloc

from dcos_scaleio.options import validate
from dcos_scaleio.plan import (AgentAdded, AgentInfo, AgentsListed, ClusterActionResult, DeviceRequested, Engine,
                               LaunchHostStep, OfferSeen, OperatorCommand, RunClusterAction, Status,
                               TaskStatusUpdate, Tick, plan_json, plan_status)

ARTIFACTS = {fam: {c: {"url": f"https://mirror.test/{fam}/{c}", "sha256": "e" * 64}
                   for c in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")} for fam in ("rhel", "ubuntu")}


CREATES = {"sds-register": "sds", "storage-pool": "storage_pool", "protection-domain": "protection_domain",
           "device": "device"}


def make_options(mode):
    user = {"scaleio": {"admin_password": "Sc4leIO-pass", "mode": mode}, "artifacts": ARTIFACTS}
    if mode == "existing":
        user["scaleio"]["existing"] = {"mdm_ips": ["10.9.0.1", "10.9.0.2"], "gateway_endpoint": "https://10.9.0.1"}
    result = validate(user)
    assert result.ok, result.errors
    return result.options


def agent(i):
    attrs = {"scaleio-sds-domains": "pd1", "scaleio-sds-pd1": "sp1", "scaleio-sds-sp1": "/dev/sdb,/dev/sdc"}
    return AgentInfo(f"agent-{i:05d}-S0", f"node-{i:05d}.example.com", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                     attrs, False, 8.0, 16384.0, "1.11.0")


def deploy(eng, timer, now, pending):
    """Answer every decision like Mesos and the gateway would, until the plan is COMPLETE."""
    offer_seq = rounds = changes_ns = 0
    while plan_status(eng) not in (Status.COMPLETE, Status.ERROR):
        rounds += 1
        now += 1.0
        for host in list(eng.offer_nodes):
            offer_seq += 1
            pending += timer.call("offer", eng.handle, OfferSeen(now, f"o{offer_seq}", eng.nodes[host].info.agent_id))
        while pending:
            answers, pending = pending, []
            for d in answers:
                if isinstance(d, LaunchHostStep):
                    pending += timer.call("task status", eng.handle, TaskStatusUpdate(now, d.task_id, "TASK_RUNNING"))
                    pending += timer.call("task status", eng.handle, TaskStatusUpdate(
                        now, d.task_id, "TASK_FINISHED", "ok", {"os_family": "rhel"}))
                elif isinstance(d, RunClusterAction):
                    # Creating actions report the object's ID, as framework.cluster does.
                    kind = CREATES.get(d.action)
                    result = {"details": {f"{kind}_id": f"{len(d.step):04x}{hash(d.step) % 16**12:012x}",
                                          "created": True}} if kind else {}
                    pending += timer.call("action result", eng.handle,
                                          ClusterActionResult(now, d.action_id, True, "ok", result))
        pending += timer.call("tick", eng.handle, Tick(now))
        t0 = time.process_time_ns()
        eng.drain_changes()
        changes_ns += time.process_time_ns() - t0
        if rounds > 200:
            raise RuntimeError("deploy did not converge")
    return now, pending, rounds, changes_ns


class Timer:
    """Per-category counts and CPU nanoseconds (process CPU clock) of engine calls. CPU time, not
    wall time, so other processes on the machine do not inflate the numbers."""

    def __init__(self):
        self.ns, self.count, self.decisions = {}, {}, 0

    def call(self, category, fn, *args):
        t0 = time.process_time_ns()
        out = fn(*args)
        dt = time.process_time_ns() - t0
        self.ns[category] = self.ns.get(category, 0) + dt
        self.count[category] = self.count.get(category, 0) + 1
        if isinstance(out, list):
            self.decisions += len(out)
        return out

    def us(self, category):
        return self.ns[category] / self.count[category] / 1000


def drive(n, mode):
    opts = make_options(mode)
    eng = Engine(opts)
    timer = Timer()
    now = 0.0
    pending = []          # decisions to answer
    pending += eng.resume(now)
    agents = [agent(i) for i in range(n)]
    pending += timer.call("agents listed (one event, all agents)", eng.handle, AgentsListed(now, tuple(agents)))
    cpu0 = time.process_time()
    now, pending, rounds, changes_ns = deploy(eng, timer, now, pending)
    deploy_cpu = time.process_time() - cpu0
    assert plan_status(eng) is Status.COMPLETE

    # Growth and operator work after the deploy.
    extra = max(10, n // 10)
    for i in range(n, n + extra):
        pending += timer.call("agent added", eng.handle, AgentAdded(now, agent(i)))
    hosts = list(eng.nodes)[: max(10, n // 10)]
    for h in hosts:
        pending += timer.call("add-device", eng.handle, DeviceRequested(now, h, "/dev/sdz"))
    for h in hosts:
        node = eng.nodes[h]
        pending += timer.call("command (step)", eng.handle, OperatorCommand(now, "restart", "deploy", h, f"{h}:[sdc]"))
        pending += timer.call("command (phase)", eng.handle, OperatorCommand(now, "interrupt", "deploy", h))
        pending += timer.call("command (phase)", eng.handle, OperatorCommand(now, "continue", "deploy", h))
        del node
    pending += timer.call("command (whole plan)", eng.handle, OperatorCommand(now, "interrupt", "deploy"))
    pending += timer.call("command (whole plan)", eng.handle, OperatorCommand(now, "continue", "deploy"))
    t0 = time.process_time_ns()
    snap = eng.snapshot()
    snapshot_ms = (time.process_time_ns() - t0) / 1e6
    t0 = time.process_time_ns()
    plan_json(eng)
    plan_json_ms = (time.process_time_ns() - t0) / 1e6
    t0 = time.process_time_ns()
    Engine.restore(opts, snap).resume(now)
    restore_ms = (time.process_time_ns() - t0) / 1e6
    per_event = [c for c in timer.count if "one event" not in c and "whole plan" not in c]
    events = sum(timer.count[c] for c in per_event)
    ns = sum(timer.ns[c] for c in per_event)
    return {
        "agents": n, "mode": mode, "steps": len(eng.steps), "rounds": rounds, "events": events,
        "us_per_event": ns / events / 1000, "decisions_per_s": timer.decisions / (sum(timer.ns.values()) / 1e9),
        "deploy_cpu_s": deploy_cpu, "by_category_us": {c: round(timer.us(c), 2) for c in timer.count},
        "drain_changes_us_per_round": changes_ns / rounds / 1000,
        "snapshot_ms": snapshot_ms, "snapshot_json_mb": len(json.dumps(snap)) / 1e6, "plan_json_ms": plan_json_ms,
        "restore_ms": restore_ms,
    }


def memory_per_agent(n, mode, deployed):
    """tracemalloc bytes per agent of an engine with n agents (built, or deployed to COMPLETE)."""
    opts = make_options(mode)
    agents = tuple(agent(i) for i in range(n))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    eng = Engine(opts)
    pending = eng.resume(0) + eng.handle(AgentsListed(0, agents))
    if deployed:
        deploy(eng, Timer(), 0.0, pending)
        eng.drain_changes()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del eng
    return used / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--mode", choices=["existing", "provision"], default="provision")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size; the median us/event is reported")
    args = ap.parse_args()
    for n in args.agents:
        runs = [drive(n, args.mode) for _ in range(args.repeat)]
        runs.sort(key=lambda r: r["us_per_event"])
        r = runs[len(runs) // 2]
        r["us_per_event_runs"] = [round(x["us_per_event"], 2) for x in runs]
        r["bytes_per_agent_built"] = round(memory_per_agent(n, args.mode, deployed=False))
        r["bytes_per_agent_deployed"] = round(memory_per_agent(n, args.mode, deployed=True))
        print(json.dumps(r, indent=1, default=lambda x: round(x, 2)))
        del runs
        gc.collect()


if __name__ == "__main__":
    main()
