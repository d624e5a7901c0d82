"""What a ScaleIO host program knows about the emulated host it runs on.

Every tool and daemon of the ScaleIO host side (``scli``, ``drv_cfg``, ``rexray``, ``dvdcli``, the
``mdm``/``sds``/``scini``/... daemons and the package scripts) starts by building a :class:`Host`:

- its file-system root: ``/`` inside an agent root (the normal case), or the directory named by
  ``SCALEIO_HOST_ROOT`` when a tool runs as a plain subprocess in unit tests;
- the agent's identity from ``/etc/sandbox/agent.json`` (``name``, ``hostname``, ``ip``);
- the shared ScaleIO system it belongs to, from ``/etc/sandbox/scaleio.json``
  (``{"state_dir": ...}``, written by :func:`attach_agent`; env ``SCALEIO_SANDBOX_STATE_DIR`` wins).

Runtime-only state lives under ``/run`` (a tmpfs inside agent roots, lost on reboot); persistent
state lives in the agent's own files, as on a real host.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile

AGENT_FILE = "/etc/sandbox/agent.json"
SCALEIO_FILE = "/etc/sandbox/scaleio.json"
ROOT_ENV = "SCALEIO_HOST_ROOT"
STATE_ENV = "SCALEIO_SANDBOX_STATE_DIR"


class HostError(Exception):
    """The host is not set up for this program (no agent.json, no system attached)."""


class Host:
    """The emulated host a program runs on. Cheap to build; reads files lazily."""

    def __init__(self, root: str | None = None):
        self.root = pathlib.Path(root or os.environ.get(ROOT_ENV) or "/")
        self._agent = None

    # -- files ---------------------------------------------------------------------------------
    def path(self, host_path: str) -> pathlib.Path:
        """The real path of ``host_path`` (absolute, as the host sees it)."""
        if not host_path.startswith("/"):
            raise ValueError(f"not an absolute host path: {host_path!r}")
        return self.root / host_path.lstrip("/")

    def read_text(self, host_path: str) -> str | None:
        try:
            return self.path(host_path).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write_text(self, host_path: str, text: str, mode: int = 0o644) -> None:
        """Write atomically (rename), so a crash never leaves a half-written file behind."""
        atomic_write(self.path(host_path), text, mode)

    def read_json(self, host_path: str, default=None):
        text = self.read_text(host_path)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError:
            return default

    def write_json(self, host_path: str, data, mode: int = 0o644) -> None:
        self.write_text(host_path, json.dumps(data, indent=1, sort_keys=True) + "\n", mode)

    # -- identity ------------------------------------------------------------------------------
    @property
    def agent(self) -> dict:
        if self._agent is None:
            data = self.read_json(AGENT_FILE)
            if not isinstance(data, dict) or not data.get("ip"):
                raise HostError(f"{AGENT_FILE} is missing or has no ip")
            self._agent = data
        return self._agent

    @property
    def ip(self) -> str:
        return self.agent["ip"]

    @property
    def name(self) -> str:
        return self.agent.get("name") or self.agent.get("hostname") or self.ip

    def actor(self, program: str) -> str:
        """Who a mutation is attributed to in the system's event log."""
        return f"{program}@{self.name}"

    # -- the shared ScaleIO system -------------------------------------------------------------
    @property
    def state_dir(self) -> str:
        state = os.environ.get(STATE_ENV)
        if not state:
            data = self.read_json(SCALEIO_FILE) or {}
            state = data.get("state_dir")
        if not state:
            raise HostError(f"{SCALEIO_FILE} names no ScaleIO system")
        return state

    # -- running the host's own commands -------------------------------------------------------
    def run(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """Run one of the host's programs (uname, blkid, lsblk, mount, ...) and capture its output.

        Inside an agent root the programs are the agent's own (the fake uname/blkid/lsblk of the
        host toolchain). With a relocated root (unit tests) a program installed under that root is
        preferred, so tests can supply one.
        """
        prog = argv[0]
        if prog.startswith("/") and str(self.root) != "/" and self.path(prog).exists():
            argv = [str(self.path(prog))] + list(argv[1:])
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


def atomic_write(path: pathlib.Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def agent_files(state_dir) -> dict:
    """The files that attach an agent to the system, as ``{in-agent path: [text, mode]}`` (the form of
    the Mesos emulator's ``AgentSpec.files``; the state dir must also be in its ``shared_dirs``)."""
    return {SCALEIO_FILE: [json.dumps({"state_dir": str(state_dir)}) + "\n", 0o644]}


def attach_agent(root, state_dir) -> None:
    """Make the agent ``root`` (an AgentRoot, or anything with ``path()``) part of a ScaleIO system.

    ``state_dir`` must be shared into the agent (``AgentRoot(shared_dirs=[state_dir])``) so that the
    agent's programs open the very same system database.
    """
    for path, (text, mode) in agent_files(state_dir).items():
        atomic_write(pathlib.Path(root.path(path)), text, mode)
