"""Engine state as JSON records (``meta``, ``node/<host>``, ``step/<key>``) and back: a mixin of
:class:`~dcos_scaleio.plan.engine.Engine`. The plan's structure is not stored: it is rebuilt from
the options, the node records and the MDM placement; only each step's state record is."""
from __future__ import annotations

from collections import deque

from .events import AgentInfo
from .model import HOST
from .status import ACTIVE, Status

__all__ = ["RecordsMixin", "RECORD_VERSION"]

RECORD_VERSION = 1
C, D, R = Status.COMPLETE, Status.DELAYED, Status.PREPARED


class RecordsMixin:
    """Records out (``_record``) and in (``restore``), and the indexes rebuilt after a restore."""

    def _record(self, key):
        if key == "meta":
            return {"version": RECORD_VERSION, "launch_seq": self._launch_seq, "node_seq": self._node_seq,
                    "mdm_slots": dict(self.mdm_slots), "plan_interrupted": self.plan.interrupted,
                    "phase_interrupts": [ph.name for ph in self.plan.phases if ph.interrupted],
                    "restart_queue": list(self.restart_queue), "restarting": self.restarting,
                    **({"owned": self.owned} if self.uninstall else {})}
        kind, _, name = key.partition("/")
        if kind == "node":
            node = self.nodes.get(name)
            return node.record() if node else None
        step = self.steps.get(name)
        return step.state_record() if step else None

    @classmethod
    def restore(cls, options, records: dict, uninstall: bool = False) -> "RecordsMixin":
        """Rebuild an engine from ``snapshot()`` / accumulated ``drain_changes()`` records.
        Call ``resume(now)`` next. Unknown record versions raise ValueError. With ``uninstall``
        the plan is the uninstall plan over the recorded nodes (deploy step records are ignored)."""
        eng = cls(options, uninstall=uninstall)
        meta = records.get("meta") or {}
        if uninstall:
            # What the deploy created (IDs from its cluster steps), or what an earlier run of the
            # uninstall engine recorded in its meta.
            eng.owned = dict(meta.get("owned") or {})
            for key, rec in records.items():
                if key.startswith("step/") and rec and rec.get("details"):
                    eng.owned.setdefault(key[5:], rec["details"])
        if meta and meta.get("version") != RECORD_VERSION:
            raise ValueError(f"unsupported engine record version {meta.get('version')}")
        node_recs = sorted((r for k, r in records.items() if k.startswith("node/") and r), key=lambda r: r["seq"])
        for rec in node_recs:
            eng._add_node(AgentInfo.from_json(rec["info"]), record=rec)
        if meta:
            eng._launch_seq = meta["launch_seq"]
            eng._node_seq = max(eng._node_seq, meta["node_seq"])
            # (Unselected agents are not persisted: AgentsListed after a restart recomputes them.)
            if meta["mdm_slots"] and all(h in eng.nodes for h in meta["mdm_slots"].values()):
                eng._assign(meta["mdm_slots"], evaluate=False)
            eng.plan.interrupted = meta["plan_interrupted"]
            for name in meta["phase_interrupts"]:
                if name in eng.plan.by_name:
                    eng.plan.by_name[name].interrupted = True
            eng.restart_queue = deque(meta["restart_queue"])
            eng.restarting = meta["restarting"]
        for key, step in eng.steps.items():
            rec = records.get("step/" + key)
            if rec:
                old = step.state
                step.load_state(rec)
                step.phase.moved(old, step.state)
        eng._rebuild_indexes()
        eng._dirty = set()
        eng._fresh = []
        return eng

    def _rebuild_indexes(self):
        for step in self.steps.values():
            step.unmet = sum(1 for r in step.requires if r.state is not C)
            if step.state in ACTIVE or step.stage:
                if step.kind == HOST:
                    node = self.nodes.get(step.host)
                    if node is not None:
                        node.running = step
                        self.running_hosts += 1
                    if step.stage == "verify":
                        self.actions[step.action_id] = step
                    elif step.task_id and not step.stage:
                        self.tasks[step.task_id] = step
                elif step.action_id:
                    self.actions[step.action_id] = step
                if step.deadline is not None:
                    self._push_timer(step.deadline, step.key)
            elif step.state is D and step.retry_at is not None:
                self._push_timer(step.retry_at, step.key)
            elif step.state is R and step.kind == HOST and not step.is_interrupted():
                self.nodes[step.host].ready.append(step)
        for node in self.nodes.values():
            self._update_offer_node(node)

