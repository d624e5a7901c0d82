"""Task reconciliation: explicit at every (re)registration, implicit now and then.

pymesos drops the agent ID from RECONCILE, so the master may never answer for a task it does not
know (an agent still recovering) -- an explicit round is therefore resent with truncated
exponential backoff and abandoned after ``give_up_s``: the caller treats the tasks still unanswered
as lost. While a round runs, the agents of its unanswered tasks are *blocked*: nothing is launched
there until their tasks are known (or given up). Pure bookkeeping, driven by the core loop's clock.
"""
from __future__ import annotations

__all__ = ["Reconciler"]


class Reconciler:
    def __init__(self, give_up_s: float = 120.0, backoff=(1.0, 2.0, 4.0, 8.0, 15.0), implicit_every_s: float = 900.0):
        self.give_up_s = give_up_s
        self.backoff = tuple(backoff)
        self.implicit_every_s = implicit_every_s
        self.pending: dict[str, str] = {}        # task ID -> agent ID, unanswered in this round
        self._agents: dict[str, int] = {}        # agent ID -> unanswered tasks there
        self._sends = 0
        self._resend_at: float | None = None
        self._give_up_at: float | None = None
        self._implicit_at: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.pending)

    def start(self, tasks, now: float) -> list[str]:
        """Begin a new explicit round over ``tasks`` [(task ID, agent ID)]; returns the task IDs to
        send now (empty: nothing to reconcile). Also (re)arms the implicit timer."""
        self.pending = dict(tasks)
        self._agents = {}
        for aid in self.pending.values():
            self._agents[aid] = self._agents.get(aid, 0) + 1
        self._implicit_at = now + self.implicit_every_s
        if not self.pending:
            self._resend_at = self._give_up_at = None
            return []
        self._sends = 1
        self._resend_at = now + self.backoff[0]
        self._give_up_at = now + self.give_up_s
        return list(self.pending)

    def blocked(self, agent_id: str) -> bool:
        """Whether launches on ``agent_id`` must wait (it has unreconciled tasks)."""
        return agent_id in self._agents

    def answered(self, task_id: str) -> None:
        aid = self.pending.pop(task_id, None)
        if aid is None:
            return
        left = self._agents.get(aid, 1) - 1
        if left > 0:
            self._agents[aid] = left
        else:
            self._agents.pop(aid, None)
        if not self.pending:
            self._resend_at = self._give_up_at = None

    def due(self, now: float):
        """(task IDs to resend, task IDs given up as lost, send implicit reconciliation?)."""
        resend, lost, implicit = [], [], False
        if self.pending and self._give_up_at is not None and now >= self._give_up_at:
            lost = list(self.pending)
            self.pending = {}
            self._agents = {}
            self._resend_at = self._give_up_at = None
        elif self.pending and self._resend_at is not None and now >= self._resend_at:
            resend = list(self.pending)
            delay = self.backoff[min(self._sends, len(self.backoff) - 1)]
            self._sends += 1
            self._resend_at = now + delay
        if self._implicit_at is not None and now >= self._implicit_at:
            implicit = True
            self._implicit_at = now + self.implicit_every_s
        return resend, lost, implicit

    @property
    def next_wakeup(self) -> float | None:
        times = [t for t in (self._resend_at, self._give_up_at, self._implicit_at) if t is not None]
        return min(times) if times else None
