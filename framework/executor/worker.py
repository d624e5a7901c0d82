"""Runs step tasks one at a time, in a worker thread, and reports their states.

Per task: TASK_RUNNING, fetch the secrets it names (just before it runs; the values live only in a
local dict for that one step), ``run_step`` in process under the host's step lock, then
TASK_FINISHED (result COMPLETE) or TASK_FAILED (ERROR) with data = the result JSON and message =
its reason. A task killed while queued is reported TASK_KILLED at once; a running one has its
commands' process groups killed (:func:`~dcos_scaleio.framework.host.hostcmd.cancel_commands`),
the step then ends promptly, and TASK_KILLED is reported (with the step's partial result as data).

All public methods are safe to call from pymesos callbacks: they only take a short lock, enqueue,
or signal; none blocks on a step.
"""
from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import threading
import time

from ..host import hostcmd
from ..host.run import LOCK, run_step
from . import tasks as t
from .secrets import SecretsError

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, updates, secrets_client, executor_id: str | None = None, runner=run_step,
                 lock_path: str = LOCK):
        """``updates``: :class:`~.updates.Updates`; ``secrets_client``: has ``fetch(names) -> dict``;
        ``lock_path``: the host's step lock (shared with ``python -m dcos_scaleio.framework.host.run``)."""
        self.updates, self.secrets = updates, secrets_client
        self.executor_id = executor_id
        self._runner, self._lock_path = runner, lock_path
        self._cond = threading.Condition()
        self._queue: collections.deque[t.StepTask] = collections.deque()
        self._current: t.StepTask | None = None
        self._known: set[str] = set()          # task ids ever accepted (a LAUNCH never runs twice)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="step-worker", daemon=True)

    def start(self) -> "Worker":
        self._thread.start()
        return self

    # ------------------------------------------------------------------ from callbacks
    def launch(self, task_info: dict) -> None:
        task_id = str((task_info.get("task_id") or {}).get("value") or "")
        try:
            task = t.decode(task_info)
        except t.BadTask as exc:
            log.warning("task %s refused: %s", task_id or "?", exc)
            if task_id:
                self._report(task_id, "TASK_FAILED",
                             t.error_result(t.step_name_of(task_info), f"invalid task: {exc}", retryable=False))
            return
        with self._cond:
            if task.task_id in self._known:
                log.warning("task %s launched again; ignored (it already ran or is queued)", task.task_id)
                return
            self._known.add(task.task_id)
            if self._stopping:
                stopping = True
            else:
                stopping = False
                self._queue.append(task)
                self._cond.notify_all()
        if stopping:
            self._report(task.task_id, "TASK_KILLED", t.error_result(task.step, "the executor is shutting down",
                                                                     retryable=True))
        else:
            log.info("task %s queued: step %s (%d waiting)", task.task_id, task.step, len(self._queue))

    def kill(self, task_id: str) -> None:
        with self._cond:
            queued = next((q for q in self._queue if q.task_id == task_id), None)
            if queued is not None:
                self._queue.remove(queued)
            running = self._current if self._current is not None and self._current.task_id == task_id else None
            if running is not None:
                running.killed = True
                hostcmd.cancel_commands()
        if queued is not None:
            log.info("task %s killed before it ran", task_id)
            self._report(task_id, "TASK_KILLED", t.error_result(queued.step, "killed before it ran", retryable=True))
        elif running is not None:
            log.info("task %s killed while running: its commands are being terminated", task_id)
        elif task_id not in self._known:
            # Unknown here (e.g. launched to an earlier executor): the scheduler still needs an answer.
            self._report(task_id, "TASK_KILLED", t.error_result(None, "killed (not known to this executor)",
                                                                retryable=True))

    def shutdown(self) -> None:
        """Stop taking tasks; kill the running step's commands; report queued tasks TASK_KILLED.
        Idempotent (pymesos may call shutdown more than once)."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            dropped, self._queue = list(self._queue), collections.deque()
            if self._current is not None:
                self._current.killed = True
                hostcmd.cancel_commands()
            self._cond.notify_all()
        for task in dropped:
            self._report(task.task_id, "TASK_KILLED", t.error_result(task.step, "the executor is shutting down",
                                                                     retryable=True))

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or bool(self._queue)

    # ------------------------------------------------------------------ worker thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                task = self._current = self._queue.popleft()
                hostcmd.allow_commands()
            try:
                self._execute(task)
            except Exception:   # a bug must not kill the worker: report it and go on with the next task
                log.exception("task %s: unexpected executor error", task.task_id)
                self._report(task.task_id, "TASK_FAILED",
                             t.error_result(task.step, "internal executor error (see the executor's log)",
                                            retryable=True))
            finally:
                with self._cond:
                    self._current = None

    def _execute(self, task: t.StepTask) -> None:
        log.info("task %s: step %s starting", task.task_id, task.step)
        self._report(task.task_id, "TASK_RUNNING")
        secrets = {}
        try:
            secrets = self.secrets.fetch(task.secrets)
        except SecretsError as exc:
            log.warning("task %s: %s", task.task_id, exc.reason)
            self._finish(task, t.error_result(task.step, exc.reason, retryable=exc.retryable))
            return
        try:
            with self._step_lock(task) as locked:
                if task.killed or not locked:
                    result = t.error_result(task.step, "killed before it ran", retryable=True)
                else:
                    result = self._runner(task.step, task.params, secrets)
        finally:
            secrets.clear()         # the secret lives only for this step
            del secrets
        self._finish(task, result)

    @contextlib.contextmanager
    def _step_lock(self, task: t.StepTask):
        """The host's step lock (flock, as ``host.run.host_lock``), waited for in a way a kill can
        interrupt: yields True once held, False if the task was killed while waiting."""
        os.makedirs(os.path.dirname(self._lock_path), exist_ok=True)
        with open(self._lock_path, "a") as fh:
            waited = False
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if task.killed:
                        yield False
                        return
                    if not waited:
                        log.info("task %s: waiting for another step on this host to end", task.task_id)
                        waited = True
                    time.sleep(0.2)
            yield True              # the lock goes with the file handle

    def _finish(self, task: t.StepTask, result: dict) -> None:
        if task.killed:
            state = "TASK_KILLED"
        else:
            state = "TASK_FINISHED" if result.get("status") == "COMPLETE" else "TASK_FAILED"
        log.info("task %s: step %s ended %s%s", task.task_id, task.step, state,
                 f": {result.get('reason')}" if result.get("reason") else "")
        self._report(task.task_id, state, result)

    def _report(self, task_id: str, state: str, result: dict | None = None) -> None:
        status = {"task_id": {"value": task_id}, "state": state}
        if self.executor_id:
            status["executor_id"] = {"value": self.executor_id}
        if result is not None:
            status["data"] = t.encode_result(result)
            message = t.short_message(result.get("reason", ""))
            if state == "TASK_KILLED":
                message = ("killed: " + message) if message else "killed by the scheduler"
                message = message[:t.MESSAGE_LIMIT]
            if message:
                status["message"] = message
        self.updates.post(status)
