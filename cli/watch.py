"""Follow a plan until it is COMPLETE or in ERROR: live progress bars on a terminal, lines otherwise.

On a terminal (``rich.progress``): one bar per phase and one per agent (its steps across all
phases), each with the current step and status; below, what is running or blocking. Elsewhere
(pipes, CI logs): one line per step status change, so logs stay readable.

:func:`follow` returns ``(http_status, plan_json)`` of the last read, or raises CliError; a plan
that is not COMPLETE/ERROR when ``timeout`` runs out is returned as it is (the caller decides).
Ctrl-C propagates as KeyboardInterrupt (the caller explains what is still running).
"""
from __future__ import annotations

import time

from . import errors, render
from .errors import CliError

DONE = ("COMPLETE", "ERROR")


def _settled(plan: dict) -> bool:
    """COMPLETE, or ERROR for a reason no retry will fix (plan errors: bad options)."""
    status = plan.get("status")
    return status == "COMPLETE" or (status == "ERROR" and bool(plan.get("errors"))) or \
        (status == "ERROR" and not _active(plan))


def _active(plan: dict) -> bool:
    """Whether anything is still moving (running, pending or backing off) in the plan."""
    return any(s.get("status") not in ("COMPLETE", "ERROR", "WAITING")
               for ph in plan.get("phases", []) for s in ph.get("steps", []))


def follow(api, plan_name: str = "deploy", *, timeout: float | None = None, interval: float = 1.0,
           tolerate: tuple = (), quiet: bool = False):
    """Poll ``GET /v1/plans/<plan>`` every ``interval`` s until settled or ``timeout`` s passed.

    ``tolerate``: exit codes (e.g. NOT_INSTALLED, UNAVAILABLE right after an install) that mean
    "not there yet" and are waited out (until the timeout) instead of raised.
    """
    c = render.console()
    view = _LiveView(c, plan_name) if c.is_terminal and not quiet else _LineView(c, plan_name, quiet)
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    try:
        while True:
            try:
                last = api.plan(plan_name)
                view.update(last[1])
                if _settled(last[1]):
                    return last
            except CliError as exc:
                if exc.code not in tolerate:
                    raise
                view.waiting(exc.message)
            if deadline is not None and time.monotonic() >= deadline:
                if last is None:
                    raise CliError(errors.PLAN_INCOMPLETE, f"the '{plan_name}' plan could not be read within "
                                                           f"{timeout:g} s")
                return last
            time.sleep(interval)
    finally:
        view.close()


class _LineView:
    def __init__(self, console, plan_name: str, quiet: bool):
        self.c, self.plan_name, self.quiet = console, plan_name, quiet
        self.seen: dict = {}
        self.plan_status = None
        self.waiting_for = None

    def waiting(self, message: str) -> None:
        if message != self.waiting_for and not self.quiet:
            self.c.print(f"{time.strftime('%H:%M:%S')} waiting for the service: {render._esc(message)}")
        self.waiting_for = message

    def update(self, plan: dict) -> None:
        self.waiting_for = None
        if self.quiet:
            return
        for ph in plan.get("phases", []):
            for s in ph.get("steps", []):
                key = (ph.get("name"), s.get("name"), s.get("agent"))
                state = (s.get("status"), s.get("attempts"))
                if self.seen.get(key) != state:
                    self.seen[key] = state
                    where = f" on {s['agent']}" if s.get("agent") else ""
                    why = s.get("reason") if s.get("status") in ("ERROR", "DELAYED") else s.get("message")
                    self.c.print(f"{time.strftime('%H:%M:%S')} {render._esc(ph.get('name'))} / "
                                 f"{render._esc(s.get('name'))}{render._esc(where)}: {render.styled(s.get('status'))}"
                                 + (f" - {render._esc(why)}" if why else ""))
        if plan.get("status") != self.plan_status:
            self.plan_status = plan.get("status")
            steps = [s for ph in plan.get("phases", []) for s in ph.get("steps", [])]
            done = sum(1 for s in steps if s.get("status") == "COMPLETE")
            self.c.print(f"{time.strftime('%H:%M:%S')} plan {render._esc(self.plan_name)}: "
                         f"{render.styled(plan.get('status'))} ({done}/{len(steps)} steps complete)")

    def close(self) -> None:
        pass


class _LiveView:
    """Progress bars per phase and per agent, refreshed in place."""

    def __init__(self, console, plan_name: str):
        from rich.console import Group
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        columns = (TextColumn("{task.description}", justify="left"), BarColumn(bar_width=30),
                   MofNCompleteColumn(), TextColumn("{task.fields[state]}"))
        self.phases = Progress(*columns, console=console, auto_refresh=False)
        self.agents = Progress(*columns, console=console, auto_refresh=False)
        self.overall = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30),
                                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[state]}"),
                                console=console, auto_refresh=False)
        self.notes: list[str] = []
        self.plan_name = plan_name
        self.tasks: dict = {}
        self._group = Group
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=False)
        self.live.start()

    def _render(self):
        from rich.text import Text
        return self._group(self.overall, Text("phases", style="bold underline"), self.phases,
                           Text("agents", style="bold underline"), self.agents,
                           *[Text.from_markup(n) for n in self.notes])

    def _task(self, progress, key, label: str):
        if key not in self.tasks:
            self.tasks[key] = progress.add_task(label, total=1, state="")
        return self.tasks[key]

    def waiting(self, message: str) -> None:
        self.notes = [f"[yellow]waiting for the service:[/] {render._esc(message)}"]
        self.live.update(self._render(), refresh=True)

    def update(self, plan: dict) -> None:
        steps = [(ph, s) for ph in plan.get("phases", []) for s in ph.get("steps", [])]
        done = sum(1 for _, s in steps if s.get("status") == "COMPLETE")
        t = self._task(self.overall, ("plan",), f"{self.plan_name}")
        self.overall.update(t, total=max(len(steps), 1), completed=done, state=render.styled(plan.get("status")))
        per_agent: dict = {}
        for ph in plan.get("phases", []):
            ph_steps = ph.get("steps", [])
            t = self._task(self.phases, ("phase", ph.get("name")), f"  {render._esc(ph.get('name'))}")
            ph_done = sum(1 for s in ph_steps if s.get("status") == "COMPLETE")
            current = next((s for s in ph_steps if s.get("status") not in ("COMPLETE", "PENDING")), None)
            state = render.styled(ph.get("status")) + (f" {render._esc(current.get('name'))}" if current else "")
            self.phases.update(t, total=max(len(ph_steps), 1), completed=ph_done, state=state)
            for s in ph_steps:
                per_agent.setdefault(s.get("agent") or "(scheduler)", []).append(s)
        for agent, agent_steps in per_agent.items():
            t = self._task(self.agents, ("agent", agent), f"  {render._esc(agent)}")
            a_done = sum(1 for s in agent_steps if s.get("status") == "COMPLETE")
            current = next((s for s in agent_steps if s.get("status") not in ("COMPLETE", "PENDING")), None)
            state = (render.styled(current.get("status")) + f" {render._esc(current.get('name'))}") if current \
                else render.styled("COMPLETE" if a_done == len(agent_steps) else "PENDING")
            self.agents.update(t, total=len(agent_steps), completed=a_done, state=state)
        self.notes = [render._esc(line) for line in render.blocking(plan, limit=4)] \
            if plan.get("status") != "COMPLETE" else []
        self.live.update(self._render(), refresh=True)

    def close(self) -> None:
        self.live.stop()
