"""The engine's timers (step deadlines and retry backoffs): a mixin of
:class:`~dcos_scaleio.plan.engine.Engine`."""
from __future__ import annotations

import heapq
from collections import deque

from .status import ACTIVE, Status

__all__ = ["TimersMixin"]

D = Status.DELAYED


class TimersMixin:
    """Step deadlines and retry times; a Tick processes what is due."""

    # Timers: deadlines are ``now + step_timeout_s``, so they arrive in order and go to a FIFO
    # (O(1)); anything out of order (retry backoffs, a clock that stepped back) goes to a heap.
    # Entries go stale when a step moves on before its time; they are dropped lazily when they
    # reach the front, and both structures are compacted when they grow past twice the live ones.
    def _push_timer(self, at: float, key: str):
        fifo = self._fifo
        if not fifo or fifo[-1][0] <= at:
            fifo.append((at, key))
        else:
            self._timer_seq += 1
            heapq.heappush(self._timers, (at, self._timer_seq, key))
        if len(fifo) + len(self._timers) > self._compact_at:
            self._compact_timers()

    def _timer_valid(self, at: float, key: str) -> bool:
        step = self.steps.get(key)
        return step is not None and ((step.state is D and step.retry_at == at)
                                     or (step.state in ACTIVE and step.deadline == at))

    def _pop_due(self, now: float):
        """The earliest timer entry due at ``now`` as (at, key), removed; None if none is due."""
        heap, fifo = self._timers, self._fifo
        h = heap[0][0] if heap else None
        f = fifo[0][0] if fifo else None
        if f is not None and f <= now and (h is None or f <= h):
            return fifo.popleft()
        if h is not None and h <= now:
            at, _, key = heapq.heappop(heap)
            return at, key
        return None

    def _drop_stale_timers(self):
        heap, fifo = self._timers, self._fifo
        popped = 0
        while heap and not self._timer_valid(heap[0][0], heap[0][2]):
            heapq.heappop(heap)
            popped += 1
        while fifo and not self._timer_valid(*fifo[0]):
            fifo.popleft()
            popped += 1
        if popped > 64:
            # A burst of steps finished before their deadlines (end of a deploy wave): also drop
            # the stale entries behind the front in one O(n) pass.
            self._compact_timers()

    def _compact_timers(self):
        self._timers = [t for t in self._timers if self._timer_valid(t[0], t[2])]
        heapq.heapify(self._timers)
        self._fifo = deque(t for t in self._fifo if self._timer_valid(*t))
        self._compact_at = 2 * (len(self._timers) + len(self._fifo)) + 1024

