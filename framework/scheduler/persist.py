"""What the scheduler keeps in the state store, and how.

Keys: ``framework_id`` ({"value": id}); ``engine/<record>`` for each plan-engine record
(``meta``, ``node/<host>``, ``step/<key>``, escaped into one segment); ``executors/<host>`` for
each host's :class:`~.executors.ExecutorRecord`. Writes go in transactions below the store's size
limit; a batch larger than one transaction is split (each record stays whole).
"""
from __future__ import annotations

import functools

from dcos_scaleio.framework.store import MAX_TRANSACTION_BYTES, Delete, Put, encode_json, segment_text
from dcos_scaleio.framework.store import key_segment as _key_segment
from dcos_scaleio.framework.store.base import OP_OVERHEAD_BYTES

from .executors import ExecutorRecord

# The same few thousand record keys are escaped on every save (a third of save's CPU at 300 agents).
key_segment = functools.lru_cache(maxsize=1 << 16)(_key_segment)

__all__ = ["SchedulerState", "FRAMEWORK_ID_KEY"]

FRAMEWORK_ID_KEY = "framework_id"
ENGINE = "engine"
EXECUTORS = "executors"


class SchedulerState:
    """The scheduler's view of a :class:`~dcos_scaleio.framework.store.StateStore` (which must hold
    the single-scheduler lock before anything is written)."""

    def __init__(self, store):
        self.store = store

    # ------------------------------------------------------------------ framework ID
    def framework_id(self) -> str | None:
        value = self.store.get_json(FRAMEWORK_ID_KEY)
        if isinstance(value, dict) and isinstance(value.get("value"), str) and value["value"]:
            return value["value"]
        return None

    def set_framework_id(self, fid: str):
        if self.framework_id() != fid:
            self.store.put_json(FRAMEWORK_ID_KEY, {"value": fid})

    def clear_framework_id(self):
        self.store.delete(FRAMEWORK_ID_KEY)

    # ------------------------------------------------------------------ engine records
    def engine_records(self) -> dict:
        prefix = ENGINE + "/"
        return {segment_text(k[len(prefix):]): v.json() for k, v in self.store.scan(ENGINE).items()
                if k.startswith(prefix)}

    def executor_records(self) -> list[ExecutorRecord]:
        return [ExecutorRecord.from_json(v.json()) for v in self.store.scan(EXECUTORS).values()]

    def save(self, engine_changes: dict, executors=()) -> None:
        """Persist engine ``drain_changes()`` records (None = delete) and changed executor records."""
        ops = []
        for key, record in engine_changes.items():
            skey = f"{ENGINE}/{key_segment(key)}"
            ops.append(Delete(skey) if record is None else Put(skey, encode_json(record)))
        for rec in executors:
            ops.append(Put(f"{EXECUTORS}/{key_segment(rec.hostname)}", encode_json(rec.to_json())))
        self._commit(ops)

    def _commit(self, ops):
        batch, size = [], 0
        for op in ops:
            n = len(op.key) + OP_OVERHEAD_BYTES + (len(op.value) if isinstance(op, Put) else 0)
            if batch and size + n > MAX_TRANSACTION_BYTES:
                self.store.transaction(batch)
                batch, size = [], 0
            batch.append(op)
            size += n
        if batch:
            self.store.transaction(batch)
