"""A Marathon-like supervisor: keep one child process running, restart it whenever it dies.

    sup = Supervisor(["python", "-m", "x"], pid_file=state / "scheduler.pid", log_dir=state / "logs",
                     env={...}, cwd=state / "sandbox")
    sup.start()              # spawns the child, writes its pid to pid_file (atomically)
    sup.pid                  # the current child's pid
    sup.wait_for_new_pid(old_pid, timeout=30)   # after a kill: the replacement's pid
    sup.stop()               # SIGTERM the child's process group, SIGKILL after a grace period

Contract:
- The child runs in its own session (process group); stop() signals the whole group, so nothing the
  child started outlives it. The kernel SIGKILLs the child if the supervising process dies (PDEATHSIG).
- Whenever the child exits and stop() was not called, it is restarted after a backoff that starts at
  ``backoff_initial`` and doubles up to ``backoff_max``; a child that stayed up for ``stable_after``
  seconds resets the backoff (as Marathon's restart backoff does). A restart that cannot even exec
  (program missing) is recorded in ``spawn_failures`` and retried with the same growing backoff.
- ``pid_file`` always holds the pid of the current child (rewritten atomically on each start) and is
  removed by stop(). ``restarts`` counts restarts; ``exits`` records (pid, returncode) of dead children.
- stdout/stderr of every incarnation are appended to ``<log_dir>/stdout`` and ``<log_dir>/stderr``
  (a ``--- start pid N`` marker line in each), like a Mesos sandbox keeps them.

Hooks (what the sandbox's Marathon uses to run each launch as a new task in a fresh directory):
- ``prepare()`` runs before every spawn, on the supervising thread and outside the lock; it may
  return a dict overriding ``argv``, ``env``, ``cwd`` and ``log_dir`` for that incarnation. An
  exception from it counts as a spawn failure (recorded, retried with backoff).
- ``on_spawn(pid)`` and ``on_exit(pid, returncode)`` are called on the supervising thread.
- ``retry_start=True``: a first spawn that fails is retried like a restart instead of raising from
  start() (start() then returns after the first attempt, whatever its outcome).
- ``pid_file=None``: no pid file. ``backoff_factor`` (default 2) multiplies the backoff per restart.
- ``kill_child(grace)``: end the current incarnation (SIGTERM, SIGKILL after ``grace``); supervision
  goes on, so it is replaced (a health-check kill).
"""
from __future__ import annotations

import ctypes
import os
import pathlib
import signal
import subprocess
import threading
import time
from typing import Callable, Optional

_PR_SET_PDEATHSIG = 1


def _child_setup():
    """preexec_fn: die with the supervising process (no orphan if it is SIGKILLed)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def write_pid_file(path: pathlib.Path, pid: int) -> None:
    """Atomically replace ``path`` with ``pid`` (readers never see a partial file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)


class Supervisor:
    """Run ``argv`` and keep it running until :meth:`stop`. Thread-safe; also a context manager."""

    def __init__(self, argv, *, pid_file, log_dir, env=None, cwd=None, name="child",
                 backoff_initial: float = 0.5, backoff_max: float = 10.0, stable_after: float = 30.0,
                 stop_grace: float = 15.0, backoff_factor: float = 2.0,
                 prepare: Optional[Callable[[], Optional[dict]]] = None,
                 on_spawn: Optional[Callable[[int], None]] = None,
                 on_exit: Optional[Callable[[int, int], None]] = None, retry_start: bool = False):
        _check_argv(argv)
        self.argv = list(argv)
        self.pid_file = pathlib.Path(pid_file) if pid_file is not None else None
        self.log_dir = pathlib.Path(log_dir)
        self.env = dict(os.environ if env is None else env)
        self.cwd = str(cwd) if cwd is not None else None
        self.name = name
        self.backoff_initial, self.backoff_max, self.stable_after = backoff_initial, backoff_max, stable_after
        self.stop_grace = stop_grace
        self.backoff_factor = backoff_factor
        self.prepare, self.on_spawn, self.on_exit = prepare, on_spawn, on_exit
        self.retry_start = retry_start
        self.restarts = 0
        self.exits: list[tuple[int, int]] = []
        self.spawn_failures: list[str] = []   # restarts that could not exec (retried with backoff)
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._spawn_error: BaseException | None = None
        self._first_attempt_done = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Supervisor":
        # Every spawn happens on the watcher thread: PDEATHSIG fires when the *thread* that forked
        # the child ends, and that thread lives exactly as long as the supervision.
        with self._lock:
            if self._thread is not None:
                return self
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._thread = threading.Thread(target=self._watch, name=f"supervise-{self.name}", daemon=True)
            self._thread.start()
            while self._proc is None and self._spawn_error is None and not self._first_attempt_done:
                self._changed.wait()
            if self._spawn_error is not None:
                raise self._spawn_error
        return self

    def _spawn_locked(self, launch: dict) -> None:
        log_dir = pathlib.Path(launch.get("log_dir", self.log_dir))
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / "stdout", "ab")
        err = open(log_dir / "stderr", "ab")
        try:
            proc = subprocess.Popen(launch.get("argv", self.argv), env=launch.get("env", self.env),
                                    cwd=launch.get("cwd", self.cwd), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True, preexec_fn=_child_setup)
            for fh in (out, err):
                fh.write(f"--- start pid {proc.pid}\n".encode())
                fh.flush()
        finally:
            out.close()
            err.close()
        self._proc = proc
        self._started_at = time.monotonic()
        if self.pid_file is not None:
            write_pid_file(self.pid_file, proc.pid)
        self._changed.notify_all()

    def _launch(self, first: bool) -> bool:
        """One spawn attempt: prepare (outside the lock), then spawn. Raises what failed; False
        when stop() came first."""
        launch = dict(self.prepare() or {}) if self.prepare is not None else {}
        if "argv" in launch:
            _check_argv(launch["argv"])
        with self._lock:
            if self._stopping.is_set():
                return False
            self._spawn_locked(launch)
            if not first:   # counted with the spawn: whoever sees the new pid sees the count
                self.restarts += 1
            self._first_attempt_done = True
            pid = self._proc.pid
        if self.on_spawn is not None:
            self.on_spawn(pid)
        return True

    def _watch(self) -> None:
        backoff = self.backoff_initial
        first = True
        while True:
            while True:   # until an incarnation runs (a failed spawn is retried with more backoff)
                try:
                    launched = self._launch(first)
                except BaseException as exc:   # e.g. argv[0] missing, a prepare() that failed
                    with self._lock:
                        if first and not self.retry_start:
                            self._spawn_error = exc   # start() raises it
                            self._changed.notify_all()
                            return
                        self.spawn_failures.append(f"{type(exc).__name__}: {exc}")
                        self._first_attempt_done = True
                        self._changed.notify_all()
                    first = False
                    if self._stopping.wait(backoff):
                        return
                    backoff = min(backoff * self.backoff_factor, self.backoff_max)
                    continue
                if not launched:
                    return
                first = False
                break
            proc = self._proc
            code = proc.wait()
            with self._lock:
                self.exits.append((proc.pid, code))
                self._changed.notify_all()
            if self.on_exit is not None:
                self.on_exit(proc.pid, code)
            if self._stopping.is_set():
                return
            if time.monotonic() - self._started_at >= self.stable_after:
                backoff = self.backoff_initial
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * self.backoff_factor, self.backoff_max)

    def kill_child(self, grace: float = 5.0) -> int | None:
        """End the current incarnation (its whole group): SIGTERM, then SIGKILL after ``grace``.
        Supervision goes on: it is replaced after the backoff. Returns the pid it ended, if any."""
        with self._lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return None
        _terminate_group(proc, grace)
        return proc.pid

    def stop(self) -> None:
        """Stop supervising, then SIGTERM the child's group (SIGKILL after ``stop_grace``)."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            _terminate_group(proc, self.stop_grace)
        if proc is not None:
            _signal_group(proc.pid, signal.SIGKILL)   # anything the child left in its group
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> "Supervisor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ queries
    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    def wait_for_new_pid(self, old_pid: int, timeout: float) -> int:
        """Block until a child other than ``old_pid`` runs; return its pid (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._proc is None or self._proc.pid == old_pid:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name} was not restarted within {timeout:.0f} s")
                self._changed.wait(left)
            return self._proc.pid


def _check_argv(argv) -> None:
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("argv must be a non-empty list of strings")


def _terminate_group(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process group of ``proc``; SIGKILL it if ``proc`` outlives ``grace`` seconds."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
