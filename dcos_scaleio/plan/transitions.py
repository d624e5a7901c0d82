"""Rule 1: every step status transition lives in this table, and only here.

The engine never assigns ``step.state`` itself: it calls :func:`transition` with a trigger, which
looks the pair (current state, trigger) up in :data:`TABLE` and raises :class:`IllegalTransition`
for anything not listed. :func:`render_table` turns the table into the Markdown used in
docs/plan-engine.md, so the docs cannot drift from the code.
"""
from dataclasses import dataclass

from .status import Status

__all__ = ["Transition", "TABLE", "IllegalTransition", "transition", "render_table", "TRIGGERS"]

P, R, S1, S2, C, E, D = (Status.PENDING, Status.PREPARED, Status.STARTING, Status.STARTED,
                         Status.COMPLETE, Status.ERROR, Status.DELAYED)
ALL = (P, R, S1, S2, C, E, D)


@dataclass(frozen=True)
class Transition:
    sources: tuple
    trigger: str
    target: Status
    when: str


TABLE = (
    Transition((P,), "ready", R, "dependencies COMPLETE and (host step) its agent present and MDM persona assigned"),
    Transition((R,), "unready", P, "a dependency was restarted, or the agent went away"),
    Transition((R,), "launch", S1, "host step: an offer from its agent, agent idle, parallelism allows; cluster step: at once"),
    Transition((S1,), "running", S2, "TASK_STARTING/TASK_RUNNING for the step's current task"),
    Transition((S1, S2), "succeeded", C, "TASK_FINISHED or a successful cluster action result (after a restart: the agent verified)"),
    Transition((S1, S2), "await_restart", S2, "the result asks for an agent restart/reboot the options allow; one agent at a time"),
    Transition((S1, S2), "failed", D, "a failed attempt (task failed/lost/killed, action failed, timeout) with attempts left"),
    Transition((S1, S2), "failed_final", E, "a failed attempt with no attempts left, or a non-retryable failure"),
    Transition((P,), "refused", E, "the step cannot run as configured (e.g. no artifact for the agent's OS family)"),
    Transition((S1, S2), "lost", P, "the agent was removed or became unreachable while the step ran (no attempt counted)"),
    Transition((D,), "backoff_elapsed", R, "the backoff time passed (a tick with now >= retry_at)"),
    Transition(ALL, "restart", P, "operator restart/stop (a running task is killed); attempts reset"),
    Transition(ALL, "force_complete", C, "operator force-complete (a running task is killed)"),
    Transition((P,), "skip", C, "uninstall: nothing was recorded for the step to remove (no MDM placement)"),
)

TRIGGERS = tuple(dict.fromkeys(t.trigger for t in TABLE))
_LOOKUP = {(src, t.trigger): t.target for t in TABLE for src in t.sources}


class IllegalTransition(Exception):
    """The engine asked for a transition the table does not allow: a bug in the engine."""


def transition(current: Status, trigger: str) -> Status:
    """The target status of ``trigger`` from ``current``; raises IllegalTransition if not in the table."""
    try:
        return _LOOKUP[(current, trigger)]
    except KeyError:
        raise IllegalTransition(f"{trigger} is not allowed from {current.value}") from None


def render_table() -> str:
    """The transition table as Markdown (one row per trigger)."""
    lines = ["| from | trigger | to | when |", "|---|---|---|---|"]
    for t in TABLE:
        sources = "any" if t.sources == ALL else ", ".join(s.value for s in t.sources)
        lines.append(f"| {sources} | `{t.trigger}` | {t.target.value} | {t.when} |")
    return "\n".join(lines) + "\n"
