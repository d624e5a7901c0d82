"""Drive the pymesos test scheduler process from tests: send commands, wait for events (bounded)."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
EXECUTOR_SCRIPT = HERE / "executor_main.py"


def executor_info(executor_id, *, cpus=0.1, mem=32, name=None):
    """An ExecutorInfo running executor_main.py (fetched into the sandbox through a file:// URI)."""
    return {"executor_id": {"value": executor_id}, "name": name or executor_id, "type": "CUSTOM",
            "command": {"value": f"exec {sys.executable} ./executor.py",
                        "uris": [{"value": f"file://{EXECUTOR_SCRIPT}", "output_file": "executor.py",
                                  "executable": True}]},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]}


class SchedulerProcess:
    """One pymesos scheduler in its own process (its own process group, so nothing leaks)."""

    def __init__(self, master, *, name="testfw", framework_id=None, roles=(), capabilities=(),
                 failover_timeout=60.0, checkpoint=True, mode="auto", decline_seconds=1.0, principal=None,
                 secret=None):
        argv = [sys.executable, str(HERE / "scheduler_main.py"), "--master", master, "--name", name,
                "--failover-timeout", str(failover_timeout), "--mode", mode,
                "--decline-seconds", str(decline_seconds)]
        if framework_id:
            argv += ["--framework-id", framework_id]
        if roles:
            argv += ["--roles", ",".join(roles)]
        if capabilities:
            argv += ["--capabilities", ",".join(capabilities)]
        if checkpoint:
            argv.append("--checkpoint")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if principal:
            # The secret travels in the environment, never on the command line.
            argv += ["--principal", principal, "--secret-env", "TESTFW_SECRET"]
            env["TESTFW_SECRET"] = secret or ""
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True, env=env)
        self.events = []
        self.stderr = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.events), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True).start()

    def _read(self, pipe, sink):
        for line in pipe:
            if sink is self.events:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
            else:
                item = line.rstrip()
            with self._cond:
                sink.append(item)
                self._cond.notify_all()

    def send(self, cmd, **fields):
        self.proc.stdin.write(json.dumps(dict(fields, cmd=cmd)) + "\n")
        self.proc.stdin.flush()

    def of(self, ev, **match):
        with self._cond:
            return [e for e in self.events if e.get("ev") == ev and all(e.get(k) == v for k, v in match.items())]

    def mark(self):
        """Position in the event log; pass to wait_for(since=...) to only look at newer events."""
        with self._cond:
            return len(self.events)

    def wait_for(self, predicate, timeout=20.0, since=0, what="event"):
        """Wait until ``predicate(event)`` holds for an event after ``since``; return that event."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._pending(since, predicate):
                    raise AssertionError(f"timed out waiting for {what}; last events:\n{self._summary()}\n"
                                         f"stderr: {self.stderr[-15:]}")
                self._cond.wait(min(left, 0.5))

    def _summary(self):
        """Compact view of the latest events (offers shortened) for failure messages."""
        lines = []
        for e in self.events[-25:]:
            if e.get("ev") == "offers":
                e = {"ev": "offers", "hosts": [o["hostname"] for o in e["offers"]]}
            lines.append(json.dumps(e)[:400])
        errors = [json.dumps(e)[:2000] for e in self.events if e.get("ev") in ("callback_error", "command_error")]
        return "\n".join(lines + errors[-3:])

    def _pending(self, since, predicate):
        return any(predicate(e) for e in self.events[since:])

    def wait_ev(self, ev, timeout=20.0, since=0, **match):
        return self.wait_for(lambda e: e.get("ev") == ev and all(e.get(k) == v for k, v in match.items()),
                             timeout, since, what=f"{ev} {match}")

    def wait_states(self, states, timeout=30.0, since=0):
        """Wait until every task id in ``states`` has reached its wanted state; return {id: event}."""
        deadline = time.monotonic() + timeout
        found = {}
        for tid, state in states.items():
            left = max(0.1, deadline - time.monotonic())
            found[tid] = self.wait_ev("status", left, since, task_id=tid, state=state)
        return found

    def statuses(self, task_id):
        """The task's states in arrival order, repeats collapsed (delivery is at least once: an update
        whose ACK was slow is legitimately sent again)."""
        states = []
        for e in self.of("status", task_id=task_id):
            if not states or states[-1] != e["state"]:
                states.append(e["state"])
        return states

    @property
    def framework_id(self):
        reg = self.of("registered")
        return reg[0]["framework_id"] if reg else None

    def stop(self, failover=True, timeout=15.0):
        if self.proc.poll() is None:
            try:
                self.send("stop", failover=failover)
                self.proc.wait(timeout)
            except Exception:
                pass
        self.kill()

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except Exception:
                pass
