"""Plain hosts: ScaleIO host programs run as ordinary subprocesses over a relocated file-system root.

No mount namespace is involved: the tools read and write ``<dir>/root/...`` instead of ``/`` (env
``SCALEIO_HOST_ROOT``), and ``rexray`` mounts become symlinks. That makes the tools' logic testable
without root and fast, next to the full agent-root tests. Each host has its own 127.x address, so its
daemons listen where an agent's would.

    host = PlainHost(tmp / "a1", "a1", "127.0.60.1", state_dir)
    host.start_daemon("mdm"); host.wait_port(9011)
    proc = host.run("scli", "--query_cluster")
    host.stop()          # every daemon it started
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

from dcos_scaleio.sandbox.scaleio.tools import TOOLS

PY = sys.executable


class PlainHost:
    def __init__(self, directory, name: str, ip: str, state_dir, *, kernel_supported: bool = True):
        self.dir = pathlib.Path(directory)
        self.root = self.dir / "root"
        self.name, self.ip, self.state_dir = name, ip, str(state_dir)
        self.procs: dict[str, subprocess.Popen] = {}
        (self.root / "etc/sandbox").mkdir(parents=True, exist_ok=True)
        (self.root / "root").mkdir(parents=True, exist_ok=True)
        (self.root / "etc/sandbox/agent.json").write_text(
            json.dumps({"name": name, "hostname": name, "ip": ip, "control_url": None}))
        (self.root / "etc/sandbox/scaleio.json").write_text(json.dumps({"state_dir": self.state_dir}))
        if kernel_supported:
            self.support_kernel(os.uname().release)

    def support_kernel(self, kernel: str) -> None:
        """Ship a scini module for ``kernel`` (plain hosts run the machine's kernel)."""
        mod = self.root / "lib/modules" / kernel / "extra"
        mod.mkdir(parents=True, exist_ok=True)
        (mod / "scini.ko").write_text("plain-host scini module\n")

    def path(self, host_path: str) -> pathlib.Path:
        return self.root / host_path.lstrip("/")

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEIO_")}
        env.update({"SCALEIO_HOST_ROOT": str(self.root), "HOME": "/root"})
        return env

    def argv(self, tool: str, *args: str) -> list[str]:
        return [PY, "-m", TOOLS[tool], *args]

    def run(self, tool: str, *args: str, timeout: float = 60, env=None) -> subprocess.CompletedProcess:
        full_env = self.env
        full_env.update(env or {})
        return subprocess.run(self.argv(tool, *args), capture_output=True, text=True, timeout=timeout,
                              env=full_env, stdin=subprocess.DEVNULL)

    def start_daemon(self, kind: str, *args: str) -> subprocess.Popen:
        """Start a daemon (``mdm``, ``sds``, ``scini``, ``lia``) or ``rexray start`` in the background."""
        self.stop_daemon(kind)
        argv = self.argv("rexray", "start", *args) if kind == "rexray" else self.argv("daemon", kind, *args)
        log = open(self.dir / f"{kind}.log", "ab")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[kind] = proc
        return proc

    def log(self, kind: str) -> str:
        try:
            return (self.dir / f"{kind}.log").read_text()
        except FileNotFoundError:
            return ""

    def stop_daemon(self, kind: str, sig=signal.SIGTERM) -> None:
        proc = self.procs.pop(kind, None)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def reboot(self) -> None:
        """Every daemon dies at once (SIGKILL) and the runtime state under /run is lost."""
        for kind in list(self.procs):
            self.stop_daemon(kind, signal.SIGKILL)
        run = self.root / "run"
        if run.exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(run)], check=True)

    def stop(self) -> None:
        for kind in list(self.procs):
            self.stop_daemon(kind)

    def wait_port(self, port: int, timeout: float = 20.0, open_: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.ip, port), timeout=0.5):
                    if open_:
                        return
            except OSError:
                if not open_:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{self.ip}:{port} did not {'open' if open_ else 'close'} within {timeout}s")

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: {what} not reached within {timeout}s")
