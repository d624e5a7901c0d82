"""Fixtures for the executor tests: one Mesos emulator agent provisioned as an Ubuntu host, a test
scheduler (pymesos, in its own process) launching step tasks to the REAL executor
(``python -m dcos_scaleio.framework.executor`` inside the agent's isolated root), a package mirror
serving REX-Ray, and a small HTTP server implementing the scheduler's secrets endpoint
(contract: GET /v1/executor/secrets, Bearer token per executor id).

Steps are held at a controlled point with a ``uname`` wrapper installed in the agent
(/usr/local/bin is first on the steps' PATH): while /var/lib/exectest/hold exists, ``uname`` records
its pid and waits. ``deps`` runs ``uname -r`` first, so a held ``deps`` is a step in progress.
"""
import http.server
import json
import os
import pathlib
import secrets as pysecrets
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # tests/ -> mesos_testfw

from mesos_testfw.clusters import FAST  # noqa: E402
from mesos_testfw.harness import SchedulerProcess  # noqa: E402

from dcos_scaleio.sandbox.mesos import AgentSpec, MesosCluster  # noqa: E402
from dcos_scaleio.sandbox.mirror import Mirror  # noqa: E402
from dcos_scaleio.sandbox.scaleio import packages  # noqa: E402
from dcos_scaleio.sandbox.scaleio.hostside_agents import prepare_host  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
PASSWORD = "Exec-Secret-Pw-5531"
AGENT = "exa"
GATE_DIR = "/var/lib/exectest"
HOLD = GATE_DIR + "/hold"
UNAME_WRAPPER = """#!/bin/sh
# Test gate: hold the step while {hold} exists.
if [ -e {hold} ]; then
  echo $$ > {dir}/held.$$
  while [ -e {hold} ]; do sleep 0.05; done
fi
exec {real} "$@"
"""


def wait_until(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def alive(pid):
    """The process exists and is not a zombie (executors are children of the emulator in this process,
    reaped only by their agent)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class SecretsServer:
    """The contract's secrets endpoint: 200 {"admin_password"} for a known executor id + its token,
    401 otherwise, 403 for ids in ``replaced`` (token valid, executor no longer current). Records every
    request's (executor_id, status). ``tls=(cert, key)`` serves HTTPS."""

    def __init__(self, password, tls=None):
        self.password, self.tokens, self.requests, self.replaced = password, {}, [], set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                eid = urllib.parse.parse_qs(url.query).get("executor_id", [""])[0]
                token = self.headers.get("Authorization", "")
                ok = url.path == "/v1/executor/secrets" and eid in server.tokens and \
                    token == f"Bearer {server.tokens[eid]}"
                code = (403 if eid in server.replaced else 200) if ok else 401
                body = json.dumps({"admin_password": server.password} if code == 200 else {"error": "refused"})
                server.requests.append((eid, code))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*map(str, tls))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def mint(self, executor_id):
        self.tokens[executor_id] = pysecrets.token_urlsafe(32)
        return self.tokens[executor_id]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class DataScheduler(SchedulerProcess):
    """SchedulerProcess running statusdata_scheduler.py (adds ``status_data`` events with the result)."""

    def __init__(self, master):
        argv = [sys.executable, str(HERE / "statusdata_scheduler.py"), "--master", master, "--name", "exectest",
                "--failover-timeout", "60", "--mode", "auto", "--decline-seconds", "1", "--checkpoint"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.events, self.stderr = [], []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.events), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True).start()

    def result(self, task_id, state):
        """The decoded result of the task's ``state`` update (waits for it)."""
        return self.wait_ev("status_data", 30, task_id=task_id, state=state)["result"]


class World:
    def __init__(self, base):
        self.base = base
        self.mirror = self.mesos = self.secrets = self.sched = None
        self.catalog = {}
        self._n = 0

    @property
    def agent(self):
        return self.mesos.agent(AGENT)

    def executor_info(self, executor_id, token, **extra_env):
        """The contract's ExecutorInfo, dev form: the executor module run by this venv's Python."""
        env = [{"name": "SCALEIO_SCHEDULER_URL", "value": self.secrets.url},
               {"name": "SCALEIO_EXECUTOR_TOKEN", "value": token}]
        env += [{"name": k, "value": v} for k, v in extra_env.items()]
        return {"executor_id": {"value": executor_id}, "name": executor_id, "type": "CUSTOM",
                "command": {"value": f"exec {sys.executable} -m dcos_scaleio.framework.executor",
                            "environment": {"variables": env}},
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}]}

    def task(self, executor, step, params=None, secrets=()):
        self._n += 1
        return {"task_id": f"{step}__{self._n}", "cpus": 0.01, "mem": 16, "agent": self.agent.hostname,
                "executor": executor, "data": {"step": step, "params": params or {}, "secrets": list(secrets)}}

    def launch(self, *tasks):
        self.sched.send("launch", tasks=list(tasks))
        return [t["task_id"] for t in tasks]

    # ---- the uname gate
    def hold(self):
        self.agent.root.write_text(HOLD, "hold\n")

    def release(self):
        self.agent.root.remove(HOLD)

    def held_pids(self):
        d = self.agent.root.path(GATE_DIR)
        return sorted(int(p.name.split(".")[1]) for p in d.glob("held.*")) if d.exists() else []

    def clear_held(self):
        for p in self.agent.root.path(GATE_DIR).glob("held.*"):
            p.unlink()

    def sandbox_files(self, executor_id):
        work = pathlib.Path(self.agent.work_dir)
        runs = work.glob(f"slaves/*/frameworks/*/executors/{executor_id}/runs/*")
        return [p for run in runs if not run.is_symlink() for p in run.iterdir() if p.is_file()]

    def executor_pid(self, executor_id):
        import re
        found = re.search(rf"executor {executor_id} starting \(pid (\d+)", self.executor_stderr(executor_id))
        return int(found.group(1)) if found else None

    def executor_stderr(self, executor_id):
        return "".join(p.read_text(errors="replace") for p in self.sandbox_files(executor_id) if p.name == "stderr")

    def stop(self):
        for part in (self.sched, self.mesos, self.mirror, self.secrets):
            if part is not None:
                try:
                    part.kill() if part is self.sched else part.stop()
                except Exception as exc:
                    print(f"cleanup: {type(part).__name__}: {exc}", file=sys.stderr)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("executor")
    w = World(base)
    try:
        pkgdir = base / "pkgs"
        pkgdir.mkdir()
        version = packages.REXRAY_VERSIONS[0]
        w.catalog["rexray"] = os.path.basename(packages.build_rexray(str(pkgdir), version, "ubuntu"))
        w.mirror = Mirror(str(pkgdir)).start()
        sio = base / "sio"
        sio.mkdir(mode=0o700)
        w.secrets = SecretsServer(PASSWORD)
        w.mesos = MesosCluster(str(base / "mesos"), [AgentSpec(AGENT, shared_dirs=(str(sio),))], **FAST).start()
        root = w.mesos.agent(AGENT).root
        prepare_host(root, str(sio), disks=[{"name": "sdb", "size_gb": 100, "fs": None}])
        real = root.run(["sh", "-c", "command -v uname"], timeout=30).stdout.strip()
        assert real.startswith("/") and not real.startswith("/usr/local"), real
        root.write_text("/usr/local/bin/uname", UNAME_WRAPPER.format(hold=HOLD, dir=GATE_DIR, real=real), 0o755)
        root.make_empty_dir(GATE_DIR)
        w.sched = DataScheduler(w.mesos.master_address)
        w.sched.wait_ev("registered", 30)
        yield w
    finally:
        if w.mesos is not None:
            try:
                w.agent.root.remove(HOLD)
            except Exception:
                pass
        w.stop()


@pytest.fixture(scope="module")
def executor(world):
    """The main test executor: id, ExecutorInfo (token minted by the secrets server)."""
    eid = "scaleio-executor__exa__1"
    return world.executor_info(eid, world.secrets.mint(eid))


__all__ = ["AGENT", "PASSWORD", "wait_until", "alive"]
