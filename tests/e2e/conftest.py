"""Shared helpers for the end-to-end tests on ``SandboxUp`` (the whole sandbox with the real scheduler
under supervision, real executors, the ScaleIO world).

Fixtures:

- ``sandbox_up(agents, **kwargs)``: start a :class:`~dcos_scaleio.sandbox.up.SandboxUp` with short
  timings (retry backoff, reconciliation, watchdog) merged under the caller's options/env; stopped
  in the finalizer. Module-scoped tests should use :func:`start_up` from a module fixture instead.
- ``e2e``: the :class:`E2E` helper (``e2e.start_up`` for module fixtures, plan polling, ScaleIO
  world reads), stateless. (conftest modules cannot be imported under importlib mode.)
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from support.waiting import wait_for

# Timings that keep the suite fast: a failed step is retried after 0.5-1 s; the scheduler gives up
# on unanswered reconciliations after 4 s; a silent master stream is noticed after 6 s.
FAST_OPTIONS = {"service": {"step_timeout_s": 120,
                            "retry": {"max_attempts": 3, "backoff_initial_s": 0.5, "backoff_factor": 2,
                                      "backoff_max_s": 1}},
                "scaleio": {"gateway": {"tls_verify": False}}}
FAST_ENV = {"SCALEIO_RECONCILE_GIVE_UP_S": "4", "SCALEIO_RECONCILE_BACKOFF_S": "0.5,1",
            "SCALEIO_HEARTBEAT_TIMEOUT_S": "6", "SCALEIO_AGENT_RESYNC_S": "2", "SCALEIO_LOCK_TIMEOUT_S": "10"}
DEPLOY_TIMEOUT_S = 240


def start_up(agents: int, *, options=None, scheduler_env=None, **kwargs):
    """A started SandboxUp with :data:`FAST_OPTIONS`/:data:`FAST_ENV` under the caller's values.
    Executors run the built artifact (what ships; built once per run) unless ``E2E_DEV_EXECUTOR=1``
    (``python -m dcos_scaleio.framework.executor``: quicker iterations while the code changes).
    ``E2E_KEEP_DIR=<dir>`` keeps each world's state dir (scheduler and agent logs) under ``<dir>``."""
    from dcos_scaleio.sandbox.up import SandboxUp, deep_merge
    if os.environ.get("E2E_DEV_EXECUTOR") == "1":
        kwargs.setdefault("dev_executor", True)
    if os.environ.get("E2E_KEEP_DIR"):      # debugging: the world's state dir (logs) is left behind
        import tempfile
        kwargs.setdefault("state_dir", tempfile.mkdtemp(prefix="e2e-", dir=os.environ["E2E_KEEP_DIR"]))
    up = SandboxUp(agents, options=deep_merge(FAST_OPTIONS, options or {}),
                   scheduler_env={**FAST_ENV, **(scheduler_env or {})}, **kwargs)
    return up.start()


@pytest.fixture
def sandbox_up():
    started = []

    def start(agents, **kwargs):
        up = start_up(agents, **kwargs)
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()


class E2E:
    """Starts (``start_up``) and reads a running SandboxUp: the scheduler's API and the ScaleIO world."""

    start_up = staticmethod(start_up)

    @staticmethod
    def http(up, method: str, path: str, body=None, timeout: float = 15.0):
        """(status, JSON or text) of a call to the scheduler API (mutations carry the API token)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        token = (up.info or {}).get("api_token")
        if token and method != "GET":
            headers["Authorization"] = f"token={token}"
        req = urllib.request.Request(up.api_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def plan(self, up) -> dict | None:
        try:
            status, body = self.http(up, "GET", "/v1/plans/deploy", timeout=5)
        except OSError:
            return None          # the scheduler is restarting
        return body if status in (200, 202, 417) and isinstance(body, dict) else None

    @staticmethod
    def steps(plan) -> list[dict]:
        return [st for ph in plan["phases"] for st in ph["steps"]]

    def failures(self, plan) -> list:
        """Steps not COMPLETE, those in ERROR first (with their messages)."""
        bad = [(st["name"], st["status"], st.get("message")) for st in self.steps(plan) if st["status"] != "COMPLETE"]
        return sorted(bad, key=lambda b: b[1] != "ERROR")

    def wait(self, fn, timeout: float, what: str, interval: float = 0.3):
        """Poll ``fn`` until truthy; fail with the last value after ``timeout`` s."""
        return wait_for(fn, timeout, what, interval=interval)

    def wait_plan(self, up, timeout: float = DEPLOY_TIMEOUT_S, until=("COMPLETE", "ERROR")) -> dict:
        """The deploy plan once its status is one of ``until``."""
        def done():
            p = self.plan(up)
            return p if p is not None and p["status"] in until else None
        try:
            return self.wait(done, timeout, f"the deploy plan to reach {until}")
        except AssertionError:
            tail = (up.state_dir / "scheduler" / "stderr").read_text(errors="replace")[-3000:]
            raise AssertionError(f"plan: {self.plan(up)}\nscheduler log tail:\n{tail}") from None

    def assert_complete(self, up, timeout: float = DEPLOY_TIMEOUT_S) -> dict:
        plan = self.wait_plan(up, timeout)
        assert plan["status"] == "COMPLETE", self.failures(plan)
        return plan

    @staticmethod
    def system(up, actor: str = "e2e-test"):
        """A handle on the ScaleIO world's system (state shared with MDMs, gateway, SDCs)."""
        from dcos_scaleio.sandbox.scaleio.system import System
        return System.open(up.world.sio_dir, actor=actor, check_reachability=False)

    @staticmethod
    def scheduler_state(up) -> dict:
        return E2E.http(up, "GET", "/v1/scheduler")[1]

    @staticmethod
    def agent_flags(agent) -> dict:
        with urllib.request.urlopen(f"http://{agent.ip}:5051/flags", timeout=10) as resp:
            return json.loads(resp.read())["flags"]


@pytest.fixture(scope="session")
def e2e():
    return E2E()
