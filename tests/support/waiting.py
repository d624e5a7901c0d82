"""Bounded polling for tests: wait for a condition with a deadline, never a bare sleep."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(fn: Callable[[], T], timeout: float = 30.0, what: str = "condition", *,
             interval: float = 0.1) -> T:
    """Call ``fn`` every ``interval`` s until it returns something truthy, and return that.

    ``fn`` is called at least once and once more after the deadline passed (so a slow machine
    still gets a last look); then AssertionError naming ``what`` and ``fn``'s last value."""
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a dead child not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False
