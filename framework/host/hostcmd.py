"""The one place where host steps touch the host: commands, files, OS facts.

Contracts:

- :meth:`Host.run` runs an argv list (never a shell) in its own process group with a timeout; on
  timeout the whole group is killed. Output is captured. Any text this module puts into an
  exception has every registered secret replaced by ``******`` (secrets may legitimately appear in
  a command's environment, or in ``scli --password``, never in what we report).
- :meth:`Host.write_text` writes atomically (temp file in the same directory, fsync, rename) with
  the requested mode, so a crash never leaves a torn file, and reports whether the content or
  mode changed (callers use that to decide restarts).
- :func:`cancel_commands` (for the executor's task kill and shutdown) kills the process group of
  every command running in this process and makes every later :meth:`Host.run` raise
  :class:`CommandError` ("cancelled") until :func:`allow_commands`; a step therefore ends with
  ERROR promptly instead of running on. Commands run in their own sessions, so killing the
  executor's own process group would not reach them.
- :meth:`Host.os_family` reads ``/etc/os-release``: ``"ubuntu"`` for Debian/Ubuntu, ``"rhel"`` for
  RHEL/CentOS/Fedora-likes; anything else raises :class:`UnsupportedOS`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

__all__ = ["Host", "CommandResult", "CommandError", "UnsupportedOS", "REDACTED", "listening_ports",
           "cancel_commands", "allow_commands"]

REDACTED = "******"
DEFAULT_TIMEOUT_S = 300.0
# Commands get a predictable environment: what they need, not whatever the executor inherited.
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
            "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
# Environment passed through from the caller when set: HOME (scli keeps its session there), proxies
# (apt-get/yum behind a proxy), TMPDIR, and the sandbox's own plumbing.
PASS_ENV = ("HOME", "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
            "SCALEIO_SANDBOX_STATE_DIR", "PYTHONPATH")


class UnsupportedOS(Exception):
    """The host's OS is neither Debian/Ubuntu nor RHEL/CentOS."""


@dataclass(frozen=True)
class CommandResult:
    argv: tuple
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def text(self) -> str:
        return (self.out + ("\n" if self.out and self.err else "") + self.err).strip()


class CommandError(Exception):
    """A command failed (non-zero exit, timeout, or not found). ``str()`` is already redacted."""

    def __init__(self, message: str, rc: int | None = None):
        super().__init__(message)
        self.rc = rc


class _Cancellation:
    """The commands running in this process, and whether new ones may start (see cancel_commands)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cancelled = False
        self.running: set = set()
        self.killed: set = set()     # pids killed by a cancellation (their result is "cancelled")

    def start(self, proc) -> bool:
        """Register ``proc``; False (and the group killed) if a cancellation is in force."""
        with self.lock:
            if self.cancelled:
                self.killed.add(proc.pid)
                _signal_group(proc.pid)
                return False
            self.running.add(proc)
            return True

    def finish(self, proc) -> bool:
        """Unregister ``proc``; True if a cancellation killed it."""
        with self.lock:
            self.running.discard(proc)
            if proc.pid in self.killed:
                self.killed.discard(proc.pid)
                return True
            return False


_CANCEL = _Cancellation()


def cancel_commands() -> int:
    """Kill (SIGKILL, whole process group) every command running in this process and refuse new
    ones until :func:`allow_commands`. Returns how many were running. Thread-safe, never blocks."""
    with _CANCEL.lock:
        _CANCEL.cancelled = True
        for proc in _CANCEL.running:
            _CANCEL.killed.add(proc.pid)
            _signal_group(proc.pid)
        return len(_CANCEL.running)


def allow_commands() -> None:
    """End a cancellation: :meth:`Host.run` starts commands again."""
    with _CANCEL.lock:
        _CANCEL.cancelled = False


class Host:
    """Commands and files of the host the step runs on (``/``)."""

    def __init__(self, secrets=(), timeout_s: float = DEFAULT_TIMEOUT_S):
        self._secrets = [s for s in secrets if s]
        self.timeout_s = timeout_s
        self.log: list[dict] = []   # every command run: redacted argv, rc, seconds (for the result)

    # ------------------------------------------------------------------ secrets
    def add_secret(self, value: str) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    # ------------------------------------------------------------------ commands
    def run(self, argv, *, env: dict | None = None, timeout: float | None = None, check: bool = False,
            input: str | None = None) -> CommandResult:
        """Run ``argv`` (a list of str); ``env`` adds variables to :data:`BASE_ENV`.

        ``check=True`` raises :class:`CommandError` on a non-zero exit. A missing program or a
        timeout always raises (rc None / -9).
        """
        if not isinstance(argv, (list, tuple)) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty list of strings")
        argv = list(argv)
        full_env = dict(BASE_ENV)
        full_env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
        full_env.update(env or {})
        limit = self.timeout_s if timeout is None else timeout
        shown = self.redact(" ".join(argv))
        started = time.monotonic()
        if _CANCEL.cancelled:
            self.log.append({"argv": shown, "rc": None, "s": 0.0})
            raise CommandError(f"{shown}: cancelled (the step was killed)", -9)
        try:
            proc = subprocess.Popen(argv, env=full_env, stdin=subprocess.PIPE if input is not None
                                    else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        except OSError as exc:
            self.log.append({"argv": shown, "rc": None, "s": 0.0})
            raise CommandError(f"{shown}: cannot run: {exc.strerror or exc}") from None
        _CANCEL.start(proc)
        try:
            out, err = proc.communicate(input=input, timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _CANCEL.finish(proc)
            self.log.append({"argv": shown, "rc": -9, "s": round(time.monotonic() - started, 3)})
            raise CommandError(f"{shown}: timed out after {limit:g} s", -9) from None
        except BaseException:
            _CANCEL.finish(proc)
            raise
        if _CANCEL.finish(proc):
            self.log.append({"argv": shown, "rc": proc.returncode, "s": round(time.monotonic() - started, 3)})
            raise CommandError(f"{shown}: cancelled (the step was killed)", -9)
        result = CommandResult(tuple(argv), proc.returncode, out or "", err or "")
        self.log.append({"argv": shown, "rc": proc.returncode, "s": round(time.monotonic() - started, 3)})
        if check and not result.ok:
            raise CommandError(self.failure(result), proc.returncode)
        return result

    def failure(self, result: CommandResult, what: str | None = None, limit: int = 400) -> str:
        """A one-line, redacted description of a failed command: ``what: exit N: last output``."""
        tail = " | ".join(line.strip() for line in result.text.splitlines() if line.strip())
        if len(tail) > limit:
            tail = "..." + tail[-limit:]
        return self.redact(f"{what or ' '.join(result.argv)}: exit {result.rc}: {tail or '(no output)'}")

    # ------------------------------------------------------------------ files
    @staticmethod
    def read_text(path: str) -> str | None:
        try:
            with open(path) as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    @staticmethod
    def exists(path: str) -> bool:
        return os.path.exists(path)

    @staticmethod
    def mode(path: str) -> int | None:
        try:
            return os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str, mode: int = 0o644) -> bool:
        """Atomically make ``path`` hold ``text`` with ``mode``. Returns True if anything changed."""
        if self.read_text(path) == text and self.mode(path) == mode:
            return False
        write_atomic(path, text.encode(), mode)
        return True

    @staticmethod
    def remove(path: str) -> bool:
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    # ------------------------------------------------------------------ OS facts
    def os_release(self) -> dict:
        text = self.read_text("/etc/os-release") or self.read_text("/usr/lib/os-release") or ""
        out = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                out[key.strip()] = value.strip().strip("\"'")
        return out

    def os_family(self) -> str:
        rel = self.os_release()
        ids = {rel.get("ID", "").lower()} | set(rel.get("ID_LIKE", "").lower().split())
        if ids & {"debian", "ubuntu"}:
            return "ubuntu"
        if ids & {"rhel", "centos", "fedora"}:
            return "rhel"
        raise UnsupportedOS(f"unsupported OS {rel.get('PRETTY_NAME') or rel.get('ID') or 'unknown'!r} "
                            "(need Debian/Ubuntu or RHEL/CentOS)")

    def kernel(self) -> str:
        return self.run(["uname", "-r"], timeout=30, check=True).out.strip()


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Temp file in the target directory, fsync, chmod, rename: all or nothing."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        # The mode is set before any byte is written, so a secret never sits in a readable file.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _signal_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    _signal_group(proc.pid)
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def agent_address(environ=None) -> str | None:
    """This host's own address as its Mesos agent knows it (``MESOS_AGENT_ENDPOINT`` = ``ip:port``,
    set for every executor), or None outside an executor or when it is not a plain IPv4 address."""
    import ipaddress
    host = (os.environ if environ is None else environ).get("MESOS_AGENT_ENDPOINT", "").rpartition(":")[0]
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        return None


def local_address_for(port: int, environ=None) -> str:
    """The address to reach this host's own listener on ``port``: the agent's address when the
    listener is bound to it or to a wildcard, else loopback for a wildcard, else the first bound one.

    Why not just the first listener: on hosts that share a network namespace (containers, and the
    sandbox's agents) /proc/net/tcp also lists *other* hosts' listeners on the same port."""
    addrs = listening_ports().get(port, [])
    wildcard = any(a in ("0.0.0.0", "::") for a in addrs)
    own = agent_address(environ)
    if own and (own in addrs or wildcard):
        return own
    if wildcard or not addrs:
        return "127.0.0.1"
    return addrs[0]


def listening_ports() -> dict[int, list[str]]:
    """TCP ports in LISTEN state on this machine's network namespace -> local addresses (IPv4)."""
    ports: dict[int, list[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":
                continue
            addr, _, port_hex = fields[1].partition(":")
            ip = (".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)) if len(addr) == 8 else "::")
            ports.setdefault(int(port_hex, 16), []).append(ip)
    return ports
