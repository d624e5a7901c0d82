"""Operator commands on a plan, a phase or a step (start, stop, interrupt, continue, restart,
force_complete): a mixin of :class:`~dcos_scaleio.plan.engine.Engine`."""
from __future__ import annotations

from .errors import UnknownElement
from .events import OperatorCommand
from .model import HOST, Phase, Plan, Step, element_id, phase_id
from .status import ACTIVE, Status

__all__ = ["CommandsMixin", "plan_status_complete"]

P, R, C = Status.PENDING, Status.PREPARED, Status.COMPLETE


class CommandsMixin:
    """Operator commands, with dcos-commons semantics (see docs/plan-engine.md)."""

    def _on_command(self, ev: OperatorCommand):
        plan = self.plans.get(ev.plan)
        if plan is None:
            raise UnknownElement(f"Plan {ev.plan} not found")
        phase = self.find_phase(plan, ev.phase) if ev.phase else None
        step = self.find_step(phase, ev.step) if ev.step else None
        if ev.step and phase is None:
            raise UnknownElement("a step needs its phase")
        if ev.verb == "force_complete" and phase is None:
            raise UnknownElement("forceComplete needs a phase (and optionally a step)")
        steps = [step] if step else (list(phase.steps) if phase else list(self.steps.values()))
        verb = ev.verb
        if verb in ("interrupt", "stop"):
            self._interrupt(step or phase or plan, steps)
        if verb == "interrupt":
            pass
        elif verb == "continue":
            self._clear_interrupts(plan, phase, step, steps)
        elif verb == "restart":
            for s in steps:
                self._restart_step(s)
            self._reevaluate(steps)
        elif verb == "force_complete":
            for s in steps:
                self._force_complete(s)
        elif verb == "stop":
            for s in steps:
                self._restart_step(s)
            self._reevaluate(steps)
        elif verb == "start":
            if plan_status_complete(self):
                for s in steps:
                    self._restart_step(s)
            self._clear_interrupts(plan, None, None, list(self.steps.values()))
        else:
            raise UnknownElement(f"unknown command {verb}")

    def _interrupt(self, target, steps):
        """Pause ``target`` (plan, phase or step): running work finishes, nothing new starts."""
        target.interrupted = True
        self._dirty.add(target if isinstance(target, Step) else "meta")
        for s in steps:
            if s.state is R and s.kind == HOST:
                node = self.nodes[s.host]
                if s in node.ready:
                    node.ready.remove(s)
                    self._update_offer_node(node)

    def _clear_interrupts(self, plan, phase, step, steps):
        if step is not None:
            step.interrupted = False
            self._dirty.add(step)
        elif phase is not None:
            phase.interrupted = False
            for s in phase.steps:
                if s.interrupted:
                    s.interrupted = False
                    self._dirty.add(s)
        else:
            plan.interrupted = False
            for ph in plan.phases:
                ph.interrupted = False
            for s in steps:
                if s.interrupted:
                    s.interrupted = False
                    self._dirty.add(s)
        self._dirty.add("meta")
        self._reevaluate(steps)

    def _reevaluate(self, steps):
        for s in steps:
            if s.state in (P, R):
                self._evaluate(s)

    def _restart_step(self, step: Step):
        was_complete = step.state is C
        if step.state in ACTIVE:
            self._kill_active(step, "restarted by the operator")
        if step.stage:
            self._release_restart(step)
        step.attempts = 0
        step.started = step.finished = step.retry_at = step.deadline = None
        step.reason = ""
        step.message = ""
        step.stage = ""
        if step.state is R and step.kind == HOST:
            node = self.nodes.get(step.host)
            if node is not None and step in node.ready:
                node.ready.remove(step)
                self._update_offer_node(node)
        self._move(step, "restart")
        if was_complete:
            for dep in step.dependents:
                dep.unmet += 1
                if dep.state is R:
                    self._unprepare(dep)

    def _force_complete(self, step: Step):
        if step.state is C:
            return
        if step.state in ACTIVE:
            self._kill_active(step, "force-completed by the operator")
        if step.stage:
            self._release_restart(step)
        if step.state is R and step.kind == HOST:
            node = self.nodes.get(step.host)
            if node is not None and step in node.ready:
                node.ready.remove(step)
                self._update_offer_node(node)
        self._move(step, "force_complete")
        self._completed(step)
        step.message = "force-completed by the operator"

    @staticmethod
    def find_phase(plan: Plan, ref: str) -> Phase:
        """A phase by name or id; raises UnknownElement."""
        phase = plan.by_name.get(ref)
        if phase is None:
            phase = next((ph for ph in plan.phases if phase_id(ph) == ref), None)
        if phase is None:
            raise UnknownElement(f"Phase {ref} not found in plan {plan.name}")
        return phase

    @staticmethod
    def find_step(phase: Phase | None, ref: str) -> Step:
        """A step of ``phase`` by name, key or id; raises UnknownElement."""
        if phase is None:
            raise UnknownElement("a step needs its phase")
        for step in phase.steps:
            if ref == step.name or ref == step.key:
                return step
        for step in phase.steps:
            if element_id(step.key) == ref:
                return step
        raise UnknownElement(f"Step {ref} not found in phase {phase.name}")


def plan_status_complete(engine) -> bool:
    """Every step of the engine's deploy plan is COMPLETE."""
    return all(ph.counts.get(C, 0) == len(ph.steps) for ph in engine.plan.phases)
