"""Fixtures for the Mesos emulator tests: a cluster per module, pymesos scheduler processes per test.

Intervals are short (heartbeat 1 s, allocation 0.1 s, status update retry 0.5-2 s) so the folder runs
fast; everything started here is stopped in finalizers (processes, agent roots, mounts).
"""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # tests/ -> mesos_testfw

from mesos_testfw.harness import SchedulerProcess  # noqa: E402


@pytest.fixture
def schedulers():
    """Start SchedulerProcess instances with ``schedulers(master, **kw)``; all are killed afterwards."""
    started = []

    def start(master, **kw):
        proc = SchedulerProcess(master, **kw)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()

