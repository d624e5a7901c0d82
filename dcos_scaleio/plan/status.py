"""Statuses and strategies, with the meanings dcos-commons gives them.

Step statuses (``Status.java``): a step goes PENDING (its dependencies are not met, or its agent
is absent) -> PREPARED (ready; waiting for an offer from its agent, or for the scheduler to run a
cluster action) -> STARTING (the task or action was sent) -> STARTED (running) -> COMPLETE.
DELAYED means backing off after a failed attempt; ERROR means it will not proceed without an
operator (attempts exhausted, a non-retryable failure, or invalid options). WAITING is only
*reported*, for an interrupted element that is not running. IN_PROGRESS is only an aggregate.
"""
from enum import Enum

__all__ = ["Status", "Strategy", "RUNNING", "ACTIVE", "aggregate", "display_status"]


class Status(str, Enum):
    ERROR = "ERROR"
    WAITING = "WAITING"
    PENDING = "PENDING"
    PREPARED = "PREPARED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    COMPLETE = "COMPLETE"
    IN_PROGRESS = "IN_PROGRESS"
    DELAYED = "DELAYED"

    def __str__(self):
        return self.value


class Strategy(str, Enum):
    """How a parent orders its children. ``dependency`` follows explicit step dependencies."""
    SERIAL = "serial"
    PARALLEL = "parallel"
    DEPENDENCY = "dependency"

    def __str__(self):
        return self.value


# SDK isRunning(): the element has been handed to the offer/launch machinery.
RUNNING = frozenset({Status.PREPARED, Status.STARTING, Status.STARTED, Status.IN_PROGRESS})
# A task or cluster action is out there: it must not be launched again.
ACTIVE = frozenset({Status.STARTING, Status.STARTED})
_WAITABLE = frozenset({Status.PENDING, Status.PREPARED, Status.DELAYED})


def display_status(state: Status, interrupted: bool) -> Status:
    """What a step reports: WAITING when it is interrupted and nothing of it is running."""
    return Status.WAITING if interrupted and state in _WAITABLE else state


def aggregate(counts: dict, interrupted: bool) -> Status:
    """A parent's status from its children's (reported) status counts, first rule that matches:

    no children or all COMPLETE -> COMPLETE; any ERROR -> ERROR; the parent itself interrupted ->
    WAITING; anything PREPARED/STARTING/STARTED/IN_PROGRESS, or some COMPLETE and some not ->
    IN_PROGRESS; any DELAYED -> DELAYED; any WAITING -> WAITING; else PENDING.
    """
    total = sum(counts.values())
    complete = counts.get(Status.COMPLETE, 0)
    if complete == total:
        return Status.COMPLETE
    if counts.get(Status.ERROR):
        return Status.ERROR
    if interrupted:
        return Status.WAITING
    if complete or any(counts.get(s) for s in RUNNING):
        return Status.IN_PROGRESS
    if counts.get(Status.DELAYED):
        return Status.DELAYED
    if counts.get(Status.WAITING):
        return Status.WAITING
    return Status.PENDING
