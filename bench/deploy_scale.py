"""Deploy makespan of the real scheduler at scale, against the Mesos emulator's simulated agents.

Usage: python bench/deploy_scale.py [--agents 10 100 1000] [--scale 100] [--json out.json]

For each size N it starts the emulator (``MesosCluster(simulated=True)``: agents without processes,
tasks finish by themselves) with every emulator duration and interval -- allocation tick, heartbeats,
status update retries, refuse filters -- divided by ``--scale``, and the REAL scheduler process
(``python -m dcos_scaleio.framework.scheduler``) against it, provision mode, no parallelism limit
(``service.deploy_parallelism`` 0), one device per agent. Step durations (emulated seconds, the
issue's numbers, see ``STEP_SECONDS``) reach the two places that simulate work:

- host steps: the emulator's ``sim_task_durations``, matched on the TaskInfo name (``<action>:<host>``);
- cluster actions: the scheduler's dev variable ``SCALEIO_DEV_SIMULATED_ACTIONS`` (real seconds).

The scheduler itself knows nothing else about the simulation.

Reported per size:

- ``makespan_s``: first step started -> last step finished, from the plan's own timestamps
  (``GET /v1/plans/deploy``), converted to emulated seconds;
- ``critical_path_s``: the plan's dependency graph (``step.requires`` of an in-process
  :class:`dcos_scaleio.plan.Engine` fed the same agents) with the same durations, where an agent's
  host steps also run one at a time (the executor runs step tasks one at a time, so a chain of
  steps on one agent is part of any path). It is computed by an event-driven replay with zero
  overhead that starts every step the moment it can start (``ready`` = requirements complete and,
  for host steps, the agent idle; ties by the engine's step order). ``dependency_only_s`` (no
  per-agent constraint) and ``agent_work_max_s`` (the busiest agent's total) are the two lower
  bounds it is checked against; ``critical_chain`` names the steps of the path;
- ``ratio`` = makespan / critical path (targets: <= 1.05 at 100 agents, <= 1.10 at 1,000);
- scheduler CPU (utime + stime from ``/proc/<pid>/stat``) between its API coming up and the plan
  completing, per offer handled (``counters.offers`` from ``GET /v1/scheduler``; target <= 60 us),
  and per launched task / status update for context; peak RSS (``VmHWM``).
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from dcos_scaleio.options import validate
from dcos_scaleio.plan import AgentInfo, AgentsListed, Engine
from dcos_scaleio.plan.model import HOST

# Emulated seconds per step action (the numbers); actions not listed take no time.
STEP_SECONDS = {"deps": 60, "mdm": 30, "cluster-create": 20, "gateway": 60, "sds": 30, "sds-register": 5,
                "sdc": 30, "rexray": 20, "dvdi": 20}
PASSWORD = "Bench-Passw0rd"
DEVICE_ATTRS = {"scaleio-sds-domains": "pd1", "scaleio-sds-pd1": "sp1", "scaleio-sds-sp1": "/dev/sdb"}
AGENT_RESOURCES = {"cpus": 4.0, "mem": 8192.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------- options
def user_options(master: str, store_path: str) -> dict:
    return {"service": {"name": "scaleio", "mesos_master": master, "deploy_parallelism": 0,
                        "state_store": {"type": "sqlite", "sqlite_path": store_path}},
            "scaleio": {"admin_password": PASSWORD, "mode": "provision"},
            "agents": {"flavour": "mesos"}}


def host_agents(n: int) -> list[tuple[str, str]]:
    """(emulator agent name, hostname) of the N agents."""
    return [(f"s{i}", f"sim-{i:05d}") for i in range(n)]


# ---------------------------------------------------------------------------------------- critical path
def plan_steps(n: int):
    """The deploy plan's steps for N agents like the bench's, from the engine itself."""
    result = validate(user_options("127.0.0.1:5050", "/nonexistent/bench.sqlite"))
    assert result.ok, result.errors
    eng = Engine(result.options)
    eng.resume(0.0)
    agents = tuple(AgentInfo(f"agent-{i}", host, f"10.0.{i // 250}.{i % 250 + 1}", dict(DEVICE_ATTRS), False,
                             4.0, 8192.0, "1.11.0") for i, (_, host) in enumerate(host_agents(n)))
    eng.handle(AgentsListed(0.0, agents))
    return list(eng.steps.values())


def critical_path(steps, seconds=STEP_SECONDS) -> dict:
    """Zero-overhead replay of the dependency graph with one host step at a time per agent.

    Every step starts as soon as its requirements are complete and (host steps) its agent is idle;
    among an agent's ready host steps the engine's order wins. The chain is traced back from the
    last step through whichever predecessor (a requirement, or the step before it on the same
    agent) it waited for last."""
    dur = {s.key: float(seconds.get(s.action, 0.0)) for s in steps}
    unmet = {s.key: len(s.requires) for s in steps}
    start, finish, pred = {}, {}, {}
    busy: dict[str, str | None] = {}         # host -> running step key
    last_on: dict[str, str] = {}             # host -> the last step that ran there
    ready: dict[str, list] = {}              # host -> heap of (order, key)
    events: list = []                        # (finish time, seq, key)
    by_key = {s.key: s for s in steps}
    seq = 0

    def begin(step, t, after):
        nonlocal seq
        start[step.key], pred[step.key] = t, after
        seq += 1
        heapq.heappush(events, (t + dur[step.key], seq, step.key))

    def binding(step, t):
        """The predecessor that finished last (at ``t``): a requirement, or the agent's previous step."""
        cands = [r.key for r in step.requires]
        if step.kind == HOST and step.host in last_on:
            cands.append(last_on[step.host])
        cands = [c for c in cands if finish.get(c) == t] or cands
        return max(cands, key=lambda c: finish.get(c, 0.0)) if cands else None

    def make_ready(step, t):
        if step.kind == HOST:
            heapq.heappush(ready.setdefault(step.host, []), (step.order, step.key))
        else:
            begin(step, t, binding(step, t))

    def dispatch(t):
        for host, heap in ready.items():
            if heap and busy.get(host) is None:
                _, key = heapq.heappop(heap)
                busy[host] = key
                begin(by_key[key], t, binding(by_key[key], t))

    for s in steps:
        if unmet[s.key] == 0:
            make_ready(s, 0.0)
    dispatch(0.0)
    while events:
        t = events[0][0]
        while events and events[0][0] == t:      # every completion at t before anything starts
            _, _, key = heapq.heappop(events)
            finish[key] = t
            step = by_key[key]
            if step.kind == HOST:
                busy[step.host] = None
                last_on[step.host] = key
            for dep in step.dependents:
                unmet[dep.key] -= 1
                if unmet[dep.key] == 0:
                    make_ready(dep, t)
        dispatch(t)
    if len(finish) != len(steps):
        raise RuntimeError("the plan's dependency graph did not complete in the replay")
    end_key = max(finish, key=finish.get)
    chain, key = [], end_key
    while key is not None:
        chain.append(key)
        key = pred.get(key)
    # Lower bounds the replay is checked against.
    longest: dict[str, float] = {}
    for s in sorted(steps, key=lambda s: start[s.key]):     # a topological order (start times)
        longest[s.key] = dur[s.key] + max((longest[r.key] for r in s.requires), default=0.0)
    work: dict[str, float] = {}
    for s in steps:
        if s.kind == HOST:
            work[s.host] = work.get(s.host, 0.0) + dur[s.key]
    return {"critical_path_s": finish[end_key], "dependency_only_s": max(longest.values()),
            "agent_work_max_s": max(work.values(), default=0.0), "steps": len(steps),
            "critical_chain": [f"{by_key[k].name} {start[k]:g}-{finish[k]:g}" for k in reversed(chain)
                               if dur[k] > 0]}


# ---------------------------------------------------------------------------------------- measuring
def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK     # utime, stime (fields 14, 15)


def proc_status_kb(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds of one thread of this process (the emulator's loop thread)."""
    with open(f"/proc/self/task/{native_id}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def step_overheads(plan: dict, scale: float) -> dict:
    """Emulated seconds each step took beyond its simulated duration (launch -> result handled):
    what the scheduler, the emulator and the machine add per step. Mean and 95th percentile."""
    extra = sorted((s["finished"] - s["started"]) * scale - STEP_SECONDS.get(s["name"].split("[", 1)[1].split("]")[0]
                                                                           .split(":")[0], 0)
                   for ph in plan["phases"] for s in ph["steps"] if s["started"] and s["finished"])
    if not extra:
        return {}
    return {"mean": round(sum(extra) / len(extra), 1), "p95": round(extra[int(len(extra) * 0.95)], 1)}


def wait_for(fn, timeout: float, interval: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


class Scheduler:
    """The real scheduler process (own process group, killed in :meth:`stop`)."""

    def __init__(self, workdir: str, options: dict, env: dict, profile: str | None = None):
        os.makedirs(workdir, exist_ok=True)
        opts = os.path.join(workdir, "options.json")
        with open(opts, "w") as fh:
            json.dump(options, fh)
        self.url_file = os.path.join(workdir, "api-url")
        self.log_path = os.path.join(workdir, "scheduler.log")
        full = dict(os.environ, PYTHONUNBUFFERED="1", SCALEIO_OPTIONS_FILE=opts, SCALEIO_API_URL_FILE=self.url_file,
                    SCALEIO_DEV_EXECUTOR_PYTHON=sys.executable, **env)
        argv = [sys.executable, "-m", "dcos_scaleio.framework.scheduler"]
        if profile:
            argv = [sys.executable, os.path.abspath(__file__), "--profiled-scheduler", profile]
        self._log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=full)
        try:
            self.url = wait_for(self._url, 60, 0.02, "the scheduler's API")
        except BaseException:
            self.stop()
            raise

    def _url(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"scheduler exited with {self.proc.returncode}; see {self.log_path}")
        try:
            with open(self.url_file) as fh:
                return fh.read().strip() or None
        except FileNotFoundError:
            return None

    def get(self, path: str):
        return requests.get(self.url + path, timeout=30)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self._log.close()


def run(n: int, scale: float, timeout: float, workdir: str, profile: str | None = None) -> dict:
    """One deploy of N simulated agents; returns the measurements (see the module docstring)."""
    from dcos_scaleio.sandbox.mesos import AgentSpec, MesosCluster
    cp = critical_path(plan_steps(n))
    state_dir = os.path.join(workdir, f"n{n}")
    # Scalar resources only: the emulator's allocator recomputes every agent's free bag each tick, and
    # port ranges make that several times dearer (the scheduler uses cpus and mem only).
    specs = [AgentSpec(name, hostname=host, attributes=dict(DEVICE_ATTRS), resources=dict(AGENT_RESOURCES))
             for name, host in host_agents(n)]
    host_seconds = {f"{action}:": sec for action, sec in STEP_SECONDS.items()}
    cluster = MesosCluster(os.path.join(state_dir, "mesos"), specs, time_scale=scale, simulated=True,
                           sim_task_duration=0.0, sim_task_durations={"^" + k: v for k, v in host_seconds.items()})
    actions = {action: sec / scale for action, sec in STEP_SECONDS.items()}
    actions["*"] = 0.0
    sched = None
    cluster.start()
    try:
        t_cluster = time.monotonic()
        sched = Scheduler(os.path.join(state_dir, "scheduler"),
                          user_options(cluster.master_address, os.path.join(state_dir, "state.sqlite")),
                          {"SCALEIO_DEV_SIMULATED_ACTIONS": json.dumps(actions)}, profile)
        pid = sched.proc.pid
        cpu0 = proc_cpu_s(pid)
        emu0 = thread_cpu_s(cluster._thread.native_id)
        # Polls go through the core loop: poll less often when it is busy with many agents.
        health = wait_for(lambda: _done(sched), timeout, 0.1 if n <= 100 else 0.5, f"the {n}-agent deploy")
        cpu1 = proc_cpu_s(pid)
        emu1 = thread_cpu_s(cluster._thread.native_id)
        load = os.getloadavg()[0]
        wall = time.monotonic() - t_cluster
        rss_peak = proc_status_kb(pid, "VmHWM")
        counters = sched.get("/v1/scheduler").json()["counters"]
        plan = sched.get("/v1/plans/deploy").json()
        if health != "RUNNING" or plan["status"] != "COMPLETE":
            raise RuntimeError(f"deploy ended {plan['status']} (health {health}); see {sched.log_path}")
        with open(os.path.join(state_dir, "plan.json"), "w") as fh:      # kept with --keep, for analysis
            json.dump(plan, fh)
        steps = [s for ph in plan["phases"] for s in ph["steps"]]
        first = min(s["started"] for s in steps if s["started"] is not None)
        last = max(s["finished"] for s in steps if s["finished"] is not None)
        makespan = (last - first) * scale
        cpu = cpu1 - cpu0
        offers = counters["offers"]
        return {
            "agents": n, "scale": scale, "steps": len(steps), "makespan_s": round(makespan, 1),
            "critical_path_s": cp["critical_path_s"], "ratio": round(makespan / cp["critical_path_s"], 4),
            "dependency_only_s": cp["dependency_only_s"], "agent_work_max_s": cp["agent_work_max_s"],
            "critical_chain": cp["critical_chain"],
            "step_overhead_s": step_overheads(plan, scale),
            "wall_s": round(wall, 2), "scheduler_cpu_s": round(cpu, 3), "emulator_cpu_s": round(emu1 - emu0, 3),
            "load_1min": round(load, 2),
            "cpu_per_offer_us": round(cpu / offers * 1e6, 1) if offers else None,
            "cpu_per_launch_us": round(cpu / counters["launched"] * 1e6, 1) if counters["launched"] else None,
            "cpu_per_status_us": round(cpu / counters["statuses"] * 1e6, 1) if counters["statuses"] else None,
            "peak_rss_mb": round(rss_peak / 1024, 1), "counters": counters,
        }
    finally:
        if sched is not None:
            sched.stop()
        cluster.stop()


def _done(sched: Scheduler):
    if sched.proc.poll() is not None:
        raise RuntimeError(f"scheduler exited with {sched.proc.returncode}; see {sched.log_path}")
    try:
        value = sched.get("/v1/health").json()["value"]
    except (requests.RequestException, ValueError, KeyError):
        return None
    return value if value in ("RUNNING", "DEGRADED", "ERROR_CREATING_SERVICE") else None


def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_before": [round(x, 2) for x in os.getloadavg()]}


def profiled_scheduler(out: str) -> None:
    """Run the scheduler module with cProfile in EVERY thread (its work is on pymesos' IO thread and
    the core loop, which ``python -m cProfile`` would not see), timing each thread's CPU (not wall
    time, so waits do not show); all threads' stats go to ``out`` at exit (SIGTERM ends the
    scheduler normally)."""
    import atexit
    import cProfile
    import pstats
    import runpy
    import threading
    profiles = []
    lock = threading.Lock()
    original = threading.Thread.run

    def run(self):
        prof = cProfile.Profile(time.thread_time)     # CPU of this thread, not wall time
        with lock:
            profiles.append(prof)
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    def dump():
        with lock:
            stats = None
            for prof in profiles:
                try:
                    stats = pstats.Stats(prof) if stats is None else stats.add(prof)
                except TypeError:         # a thread that never ran any Python function
                    pass
        if stats is not None:
            stats.dump_stats(out)

    threading.Thread.run = run
    atexit.register(dump)
    main_prof = cProfile.Profile(time.thread_time)
    profiles.append(main_prof)
    main_prof.enable()
    sys.argv = ["dcos_scaleio.framework.scheduler"]
    runpy.run_module("dcos_scaleio.framework.scheduler", run_name="__main__", alter_sys=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--profiled-scheduler"]:
        profiled_scheduler(argv[1])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--scale", type=float, default=100.0, help="emulated seconds per real second")
    ap.add_argument("--timeout", type=float, default=600.0, help="real seconds per deploy")
    ap.add_argument("--workdir", default=None, help="default: a fresh directory in /dev/shm (tmpfs) or /tmp")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    ap.add_argument("--profile", default=None, help="cProfile the scheduler into PREFIX-<N>-<run>.prof (every thread, CPU time)")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the median ratio is summarised")
    args = ap.parse_args(argv)
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    workdir = args.workdir or tempfile.mkdtemp(prefix="deploy-scale-", dir=base)
    results = {"machine": machine(), "runs": []}
    try:
        for n in args.agents:
            ratios = []
            for i in range(max(1, args.repeat)):
                prof = f"{args.profile}-{n}-{i}.prof" if args.profile else None
                r = run(n, args.scale, args.timeout, os.path.join(workdir, f"run{i}"), prof)
                results["runs"].append(r)
                ratios.append(r["ratio"])
                print(json.dumps({k: v for k, v in r.items() if k not in ("critical_chain", "counters")}), flush=True)
            if len(ratios) > 1:
                summary = {"agents": n, "median_ratio": statistics.median(ratios), "ratios": ratios}
                results.setdefault("summary", []).append(summary)
                print(json.dumps(summary), flush=True)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
