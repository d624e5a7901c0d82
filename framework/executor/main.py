"""The executor process: ``main()`` wires logging, the driver, the worker and the update queue.

Environment (set by the Mesos agent, plus the scheduler's ``command.environment``):
``MESOS_AGENT_ENDPOINT``, ``MESOS_FRAMEWORK_ID``, ``MESOS_EXECUTOR_ID`` (required by pymesos),
``MESOS_CHECKPOINT`` (pymesos treats any non-empty value as "on": it then keeps resubscribing after
an agent restart instead of exiting), ``MESOS_RECOVERY_TIMEOUT`` (pymesos ignores it: we exit after
being disconnected that long; default 15 min), ``SCALEIO_SCHEDULER_URL`` and ``SCALEIO_EXECUTOR_TOKEN``
(secrets endpoint), optional ``SCALEIO_SCHEDULER_CA`` and ``SCALEIO_EXECUTOR_LOG_LEVEL``.

Exit: after the agent's SHUTDOWN (or SIGTERM), the running step's commands are killed, the last
updates get a bounded chance to go out, and the process exits 0. Exit code 2 when the Mesos
environment is missing (not started by an agent).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading

LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
DRAIN_S = 5.0
DEFAULT_RECOVERY_TIMEOUT_S = 15 * 60.0
REQUIRED_ENV = ("MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID")


def setup_logging() -> None:
    """Log to stderr: the Mesos sandbox's ``stderr`` file. Nothing logged carries a secret."""
    level = os.environ.get("SCALEIO_EXECUTOR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.INFO), format=LOG_FORMAT)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def adopt_pymesos_logger() -> None:
    """pymesos adds its own stderr handler on import: drop it so each line is logged once, our way."""
    pm = logging.getLogger("pymesos")
    for handler in list(pm.handlers):
        pm.removeHandler(handler)
    pm.setLevel(logging.NOTSET)


def recovery_timeout(env=None) -> float | None:
    """How long to keep resubscribing after losing the agent; None: exit at once.

    Mesos sets ``MESOS_CHECKPOINT`` to "1" or "0" (pymesos treats both as "on"). Without
    checkpointing the agent will not recover this executor, so waiting is pointless; with it, Mesos
    gives ``MESOS_RECOVERY_TIMEOUT`` (e.g. ``15mins``)."""
    from pymesos.utils import parse_duration
    env = os.environ if env is None else env
    if env.get("MESOS_CHECKPOINT", "0") != "1":
        return None
    try:
        return parse_duration(env["MESOS_RECOVERY_TIMEOUT"])
    except (KeyError, ValueError, TypeError):
        return DEFAULT_RECOVERY_TIMEOUT_S


def main(argv=None) -> int:
    setup_logging()
    log = logging.getLogger("dcos_scaleio.executor")
    missing = [k for k in REQUIRED_ENV if not os.environ.get(k)]
    if missing:
        log.error("not started by a Mesos agent: %s not set", ", ".join(missing))
        return 2
    # Imported here, on the main thread: importing pymesos installs its SIGINT handler.
    from .driver import Driver, StepExecutor
    from .secrets import SecretsClient
    from .updates import Updates
    from .worker import Worker
    adopt_pymesos_logger()

    executor_id = os.environ["MESOS_EXECUTOR_ID"]
    stop = threading.Event()
    driver_box = {}
    updates = Updates(lambda status: driver_box["driver"].sendStatusUpdate(status))
    worker = Worker(updates, SecretsClient.from_env(executor_id), executor_id=executor_id)
    executor = StepExecutor(worker, updates, on_stop=stop.set)
    driver = driver_box["driver"] = Driver(executor, updates)

    def on_sigterm(signum, frame):
        log.info("signal %d: shutting down", signum)
        worker.shutdown()
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    log.info("executor %s starting (pid %d, agent %s, framework %s)", executor_id, os.getpid(),
             os.environ["MESOS_AGENT_ENDPOINT"], os.environ["MESOS_FRAMEWORK_ID"])
    patience = recovery_timeout()
    updates.start()
    worker.start()
    driver.start()
    while not stop.wait(0.5):
        if not driver._io_thread or not driver._io_thread.is_alive():
            log.error("the pymesos IO thread ended; exiting")
            worker.shutdown()
            break
        away = executor.disconnected_for()
        if executor.ever_subscribed and away > 0.0 and patience is None:
            log.error("lost the agent and the framework does not checkpoint: killing the step and exiting")
            worker.shutdown()
            break
        if away > (patience if patience is not None else DEFAULT_RECOVERY_TIMEOUT_S):
            log.error("no agent for %.0f s (MESOS_RECOVERY_TIMEOUT): killing the step and exiting", away)
            worker.shutdown()
            break
    # Shutting down: let the killed step end and its update go out (bounded), then stop the driver.
    worker.join(DRAIN_S)
    updates.wait_drained(DRAIN_S)
    updates.close()
    try:
        driver.stop()
        driver.join()
    except Exception:
        pass
    log.info("executor %s exiting (pid %d)", executor_id, os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
