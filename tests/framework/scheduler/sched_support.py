"""Helpers for the scheduler tests: a real Mesos emulator, the real scheduler as a subprocess
(``python -m dcos_scaleio.framework.scheduler``) with a real SQLite store, and HTTP helpers.

Intervals are short (heartbeat 1 s, allocation 0.1 s); every process started here is killed in a
finalizer (the scheduler runs in its own process group)."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # tests/ -> mesos_testfw

from mesos_testfw.clusters import AgentSpec, make_cluster  # noqa: E402,F401  (re-exported for the tests)

__all__ = ["AgentSpec", "make_cluster", "PASSWORD", "wait_for", "base_options", "SchedulerProc", "framework_tasks",
           "HOLD", "install_gate"]

PASSWORD = "Sched-Passw0rd"


def wait_for(fn, timeout=20.0, interval=0.1, what="condition"):
    """Poll ``fn`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (requests.RequestException, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


# Provision mode with the MDMs pinned to hosts these small clusters do not have: their one or two
# agents are data agents whose deps run at once (an agent that may still become an MDM waits for
# the placement, which needs three). ``base_options(..., mdm_elsewhere=False)`` places them normally.
MDM_ELSEWHERE = ["mdm-elsewhere-1", "mdm-elsewhere-2", "mdm-elsewhere-3"]


def base_options(master, store_path, mdm_elsewhere=True, **over):
    opts = {"service": {"name": "scaleio", "mesos_master": master, "step_timeout_s": 120,
                        "retry": {"max_attempts": 3, "backoff_initial_s": 1, "backoff_factor": 2, "backoff_max_s": 2},
                        "state_store": {"type": "sqlite", "sqlite_path": str(store_path)}},
            "scaleio": {"admin_password": PASSWORD, "mode": "provision"},
            "agents": {"flavour": "mesos"}}
    if mdm_elsewhere:
        opts["scaleio"]["provision"] = {"mdm_hosts": list(MDM_ELSEWHERE)}
    for path, value in over.items():
        node = opts
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return opts


class SchedulerProc:
    """The real scheduler in its own process group; ``url`` once it announced its API (it has
    opened its store and installed its routes). ``announced=False``: return at once, ``url`` None
    (:meth:`listening_url` is the API's address as soon as it listens)."""

    def __init__(self, workdir, options, extra_env=None, announced=True):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        opts_file = self.workdir / "options.json"
        opts_file.write_text(json.dumps(options))
        self.url_file = self.workdir / "api-url"
        if self.url_file.exists():
            self.url_file.unlink()
        env = dict(os.environ, PYTHONUNBUFFERED="1", SCALEIO_OPTIONS_FILE=str(opts_file),
                   SCALEIO_API_URL_FILE=str(self.url_file), SCALEIO_DEV_EXECUTOR_PYTHON=sys.executable,
                   SCALEIO_RECONCILE_GIVE_UP_S="4", SCALEIO_RECONCILE_BACKOFF_S="0.5,1",
                   SCALEIO_HEARTBEAT_TIMEOUT_S="6", SCALEIO_LOCK_TIMEOUT_S="10", SCALEIO_AGENT_RESYNC_S="2")
        env.update(extra_env or {})
        self.log_path = self.workdir / f"scheduler-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "dcos_scaleio.framework.scheduler"], cwd=self.workdir,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.url = wait_for(self._url, 20, what="the scheduler's API") if announced else None

    def listening_url(self, timeout=20):
        """The API's URL from the scheduler's "HTTP API on <url>" log line (it listens before it
        opens its store)."""
        def logged():
            if self.proc.poll() is not None:
                raise AssertionError(f"scheduler exited with {self.proc.returncode}:\n{self.log()}")
            return next((line.split("HTTP API on ", 1)[1].strip() for line in self.log().splitlines()
                         if "HTTP API on " in line), None)
        return wait_for(logged, timeout, what="the scheduler's API to listen")

    def _url(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"scheduler exited with {self.proc.returncode}:\n{self.log()}")
        return self.url_file.read_text().strip() if self.url_file.exists() else None

    def log(self):
        return self.log_path.read_text()

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=10, **kw)

    def state(self):
        return self.get("/v1/scheduler").json()

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()




def framework_tasks(cluster, name="scaleio"):
    """Tasks of our framework the master currently holds."""
    state = cluster.master_state()
    return [t for f in state.get("frameworks", []) if f.get("name") == name for t in f.get("tasks", [])]


GATE_DIR = "/var/lib/schedtest"
HOLD = GATE_DIR + "/hold"
_UNAME_GATE = """#!/bin/sh
# Test gate: hold host steps (they run uname first) while {hold} exists.
while [ -e {hold} ]; do sleep 0.05; done
exec {real} "$@"
"""


def install_gate(root):
    """Put a ``uname`` wrapper first on the agent's PATH that waits while HOLD exists."""
    real = root.run(["sh", "-c", "command -v uname"], timeout=30).stdout.strip()
    assert real.startswith("/") and not real.startswith("/usr/local"), real
    root.write_text("/usr/local/bin/uname", _UNAME_GATE.format(hold=HOLD, real=real), 0o755)
    root.make_empty_dir(GATE_DIR)
