"""A tiny pymesos scheduler run as a process by the tests: commands in on stdin, events out on stdout.

Both are JSON lines. The scheduler is an UNMODIFIED ``pymesos.MesosSchedulerDriver``; every callback
catches its own exceptions (an exception would make pymesos tear the framework down).

Commands: ``launch`` (queue tasks; matched against the next offers), ``launch_group`` (one LAUNCH_GROUP
with ``executor`` and ``tasks``), ``decline``, ``kill``,
``reconcile``, ``suppress``, ``revive``, ``message``, ``set`` (offer handling mode), ``stop``.
Events: ``registered``, ``reregistered``, ``disconnected``, ``offers``, ``rescinded``, ``status``,
``message``, ``agent_lost``, ``executor_lost``, ``error``, ``stopped``.
"""
import argparse
import json
import os
import sys
import threading
import traceback

from pymesos import MesosSchedulerDriver, Scheduler, decode_data, encode_data

_out_lock = threading.Lock()


def emit(**event):
    with _out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def _scalar(resources, name):
    return sum(r.get("scalar", {}).get("value", 0.0) for r in resources if r.get("name") == name)


def guarded(fn):
    def wrapper(self, *args):
        try:
            return fn(self, *args)
        except Exception:
            emit(ev="callback_error", where=fn.__name__, trace=traceback.format_exc())
    return wrapper


class TestScheduler(Scheduler):
    def __init__(self, mode, decline_seconds):
        self.lock = threading.Lock()
        self.pending = []               # task specs waiting for an offer
        self.groups = []                # task groups ({"executor", "tasks", "agent"}) waiting for an offer
        self.mode = mode                # "auto": launch pending tasks, decline the rest; "hold": keep offers
        self.decline_seconds = decline_seconds
        self.stop_on_error = True

    @guarded
    def registered(self, driver, framework_id, master_info):
        emit(ev="registered", framework_id=framework_id["value"], master=master_info)

    @guarded
    def reregistered(self, driver, master_info):
        emit(ev="reregistered", master=master_info)

    @guarded
    def disconnected(self, driver):
        emit(ev="disconnected")

    @guarded
    def processHeartBeat(self, driver):
        emit(ev="heartbeat")

    @guarded
    def resourceOffers(self, driver, offers):
        summary = []
        for o in offers:
            summary.append({"id": o["id"]["value"], "agent_id": o["agent_id"]["value"], "hostname": o["hostname"],
                            "cpus": _scalar(o["resources"], "cpus"), "mem": _scalar(o["resources"], "mem"),
                            "roles": sorted({r.get("role", "*") for r in o["resources"]}),
                            "allocation_role": o.get("allocation_info", {}).get("role"),
                            "attributes": {a["name"]: a.get("text", {}).get("value", a.get("scalar", {}).get("value"))
                                           for a in o.get("attributes", [])},
                            "executor_ids": [e["value"] for e in o.get("executor_ids", [])],
                            "resources": o["resources"], "url": o.get("url")})
        emit(ev="offers", offers=summary)
        if self.mode == "hold":
            return
        for o in offers:
            group = self._match_group(o)
            if group:
                driver.acceptOffers([o["id"]], [group], {"refuse_seconds": self.decline_seconds})
                emit(ev="launched", offer_id=o["id"]["value"],
                     task_ids=[t["task_id"]["value"] for t in group["launch_group"]["task_group"]["tasks"]])
                continue
            launch = self._match(o)
            if launch:
                driver.launchTasks(o["id"], launch, {"refuse_seconds": self.decline_seconds})
                emit(ev="launched", offer_id=o["id"]["value"], task_ids=[t["task_id"]["value"] for t in launch])
            else:
                driver.declineOffer(o["id"], {"refuse_seconds": self.decline_seconds})

    def _match(self, offer):
        cpus = _scalar(offer["resources"], "cpus")
        mem = _scalar(offer["resources"], "mem")
        chosen = []
        new_executors = set()
        with self.lock:
            for spec in list(self.pending):
                want = spec.get("agent")
                if want and want not in (offer["agent_id"]["value"], offer["hostname"]):
                    continue
                need_cpus, need_mem = spec.get("cpus", 0.1), spec.get("mem", 32)
                executor = spec.get("executor")
                running = {e["value"] for e in offer.get("executor_ids", [])}
                if executor and executor["executor_id"]["value"] not in running | new_executors:
                    need_cpus += _scalar(executor.get("resources", []), "cpus")
                    need_mem += _scalar(executor.get("resources", []), "mem")
                if need_cpus > cpus + 1e-6 or need_mem > mem + 1e-6:
                    continue
                cpus -= need_cpus
                mem -= need_mem
                if executor:
                    new_executors.add(executor["executor_id"]["value"])
                self.pending.remove(spec)
                chosen.append(self._task_info(spec, offer))
        return chosen

    def _match_group(self, offer):
        """The first pending task group that fits this offer, as a LAUNCH_GROUP operation."""
        cpus = _scalar(offer["resources"], "cpus")
        with self.lock:
            for group in self.groups:
                want = group.get("agent")
                if want and want not in (offer["agent_id"]["value"], offer["hostname"]):
                    continue
                need = sum(t.get("cpus", 0.1) for t in group["tasks"]) + \
                    _scalar(group["executor"].get("resources", []), "cpus")
                if need > cpus + 1e-6:
                    continue
                self.groups.remove(group)
                tasks = [self._task_info(t, offer) for t in group["tasks"]]
                return {"type": "LAUNCH_GROUP", "launch_group": {"executor": group["executor"],
                                                                 "task_group": {"tasks": tasks}}}
        return None

    @staticmethod
    def _task_info(spec, offer):
        task = {"task_id": {"value": spec["task_id"]}, "agent_id": offer["agent_id"],
                "name": spec.get("name", spec["task_id"]),
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": spec.get("cpus", 0.1)}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": spec.get("mem", 32)}}]}
        role = next((r.get("role") for r in offer["resources"] if r.get("role")), None)
        alloc = offer.get("allocation_info")
        for r in task["resources"]:
            if role:
                r["role"] = role
            if alloc:
                r["allocation_info"] = alloc
        if spec.get("executor"):
            task["executor"] = spec["executor"]
        if spec.get("command"):
            task["command"] = spec["command"]
        if spec.get("container"):
            task["container"] = spec["container"]
        if spec.get("data") is not None:
            task["data"] = encode_data(json.dumps(spec["data"]).encode())
        return task

    @guarded
    def offerRescinded(self, driver, offer_id):
        emit(ev="rescinded", offer_id=offer_id["value"])

    @guarded
    def statusUpdate(self, driver, status):
        emit(ev="status", task_id=status["task_id"]["value"], state=status["state"],
             reason=status.get("reason"), source=status.get("source"), message=status.get("message"),
             has_uuid="uuid" in status, agent_id=status.get("agent_id", {}).get("value"),
             executor_id=status.get("executor_id", {}).get("value"))

    @guarded
    def frameworkMessage(self, driver, executor_id, agent_id, data):
        emit(ev="message", executor_id=executor_id["value"], agent_id=agent_id["value"],
             data=decode_data(data).decode())

    @guarded
    def slaveLost(self, driver, agent_id):
        emit(ev="agent_lost", agent_id=agent_id["value"])

    @guarded
    def executorLost(self, driver, executor_id, agent_id, status):
        emit(ev="executor_lost", executor_id=executor_id["value"], agent_id=agent_id["value"], status=status)

    @guarded
    def error(self, driver, message):
        emit(ev="error", message=message)
        if self.stop_on_error:
            # pymesos would otherwise resubscribe in a busy loop (the stream is closed after ERROR).
            driver.stop(failover=True)


def command_loop(driver, sched):
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
            kind = cmd.pop("cmd")
            if kind == "launch":
                with sched.lock:
                    sched.pending.extend(cmd["tasks"])
                driver.reviveOffers()
            elif kind == "launch_group":
                with sched.lock:
                    sched.groups.append(cmd)
                driver.reviveOffers()
            elif kind == "decline":
                driver.declineOffer([{"value": o} for o in cmd["offer_ids"]],
                                    {"refuse_seconds": cmd.get("refuse_seconds", 5.0)})
            elif kind == "kill":
                driver.killTask({"value": cmd["task_id"]})
            elif kind == "reconcile":
                driver.reconcileTasks([{"task_id": {"value": t}} for t in cmd.get("task_ids", [])])
            elif kind == "suppress":
                driver.suppressOffers(cmd.get("roles", ()))
            elif kind == "revive":
                driver.reviveOffers(cmd.get("roles", ()))
            elif kind == "message":
                driver.sendFrameworkMessage({"value": cmd["executor_id"]}, {"value": cmd["agent_id"]},
                                            encode_data(cmd["data"].encode()))
            elif kind == "set":
                sched.mode = cmd.get("mode", sched.mode)
                sched.decline_seconds = cmd.get("decline_seconds", sched.decline_seconds)
            elif kind == "stop":
                driver.stop(failover=cmd.get("failover", True))
                driver.join()
                emit(ev="stopped")
                return
            emit(ev="done", cmd=kind)
        except Exception:
            emit(ev="command_error", trace=traceback.format_exc())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--master", required=True)
    p.add_argument("--name", default="testfw")
    p.add_argument("--framework-id")
    p.add_argument("--roles", default="")
    p.add_argument("--capabilities", default="")
    p.add_argument("--failover-timeout", type=float, default=60.0)
    p.add_argument("--checkpoint", action="store_true")
    p.add_argument("--mode", default="auto")
    p.add_argument("--decline-seconds", type=float, default=1.0)
    p.add_argument("--principal")
    p.add_argument("--secret-env", help="name of the environment variable holding the secret")
    args = p.parse_args()
    framework = {"user": "root", "name": args.name, "failover_timeout": args.failover_timeout,
                 "checkpoint": args.checkpoint, "hostname": "localhost"}
    caps = [c for c in args.capabilities.split(",") if c]
    if caps:
        framework["capabilities"] = [{"type": c} for c in caps]
    if args.roles:
        framework["roles"] = args.roles.split(",")
    if args.framework_id:
        framework["id"] = {"value": args.framework_id}
    sched = TestScheduler(args.mode, args.decline_seconds)
    if args.principal:
        framework["principal"] = args.principal
    secret = os.environ.get(args.secret_env) if args.secret_env else None
    driver = MesosSchedulerDriver(sched, framework, args.master, failover=True, principal=args.principal,
                                  secret=secret)
    driver.start()
    emit(ev="started")
    command_loop(driver, sched)
    return 0


if __name__ == "__main__":
    sys.exit(main())
