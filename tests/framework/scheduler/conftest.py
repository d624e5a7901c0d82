"""Fixtures for the scheduler tests (helpers in sched_support.py): every scheduler process
started through ``schedulers`` is killed in the finalizer."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))     # sched_support
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # tests/ -> mesos_testfw

from sched_support import SchedulerProc  # noqa: E402


@pytest.fixture
def schedulers():
    """Start the real scheduler with ``schedulers(workdir, options, extra_env=None, announced=True)``."""
    started = []

    def start(workdir, options, extra_env=None, announced=True):
        s = SchedulerProc(workdir, options, extra_env, announced)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()
