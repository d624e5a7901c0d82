"""Follow a plan until it is settled: live progress bars on a terminal, lines otherwise.

On a terminal (``rich.progress``, imported only here): an overall bar, one bar per phase and one per
agent (its steps across all phases), each with its current step and status; below, what is
running or blocking. Elsewhere (pipes, CI logs, ``--json``): one line per step status change.

:func:`follow` returns ``(http_status, plan_json)`` of the last read, or raises CliError. A plan
that is not settled when ``timeout`` runs out is returned as it is (the caller decides). Ctrl-C
propagates as KeyboardInterrupt (the caller explains that the plan keeps running).
"""
from __future__ import annotations

import sys
import time

from . import errors, render
from .errors import CliError

RICH_STYLE = {"COMPLETE": "green", "ERROR": "bold red", "IN_PROGRESS": "cyan", "STARTED": "cyan",
              "STARTING": "cyan", "PREPARED": "yellow", "PENDING": "dim", "WAITING": "magenta", "DELAYED": "yellow"}


def settled(plan: dict) -> bool:
    """COMPLETE; or ERROR with nothing left moving (a plan error such as bad options, or failed
    steps while every other step is done, failed or waiting for the operator)."""
    status = plan.get("status")
    if status == "COMPLETE":
        return True
    if status != "ERROR":
        return False
    return bool(plan.get("errors")) or not any(
        s.get("status") not in ("COMPLETE", "ERROR", "WAITING")
        for ph in plan.get("phases", []) for s in ph.get("steps", []))


ERROR_STALL_S = 15.0   # a plan in ERROR that has not moved for this long is blocked on the operator


class StallDetector:
    """Whether a plan in ERROR has stopped moving: steps PENDING behind a failed step never start,
    so "nothing running" alone cannot tell; no status change for ERROR_STALL_S can."""

    def __init__(self, stall_s: float = ERROR_STALL_S):
        self.stall_s = stall_s
        self.snapshot = None
        self.since = time.monotonic()

    def blocked(self, plan: dict) -> bool:
        snap = tuple((s.get("name"), s.get("status"), s.get("attempts"))
                     for ph in plan.get("phases", []) for s in ph.get("steps", []))
        if snap != self.snapshot:
            self.snapshot, self.since = snap, time.monotonic()
        return plan.get("status") == "ERROR" and (settled(plan) or time.monotonic() - self.since >= self.stall_s)


def follow(api, plan_name: str = "deploy", *, timeout: float | None = None, interval: float = 1.0,
           tolerate: tuple = (), quiet: bool = False, stream=None,
           restarting: tuple = (errors.NOT_INSTALLED, errors.UNAVAILABLE)):
    """Poll ``GET /v1/plans/<plan>`` every ``interval`` s until settled (COMPLETE, or ERROR and not
    moving for ERROR_STALL_S) or ``timeout`` s passed.

    ``tolerate``: exit codes (e.g. NOT_INSTALLED, UNAVAILABLE right after an install) that mean
    "not there yet" and are waited out (until the timeout) instead of raised; ``restarting`` codes
    are waited out once the plan was read (the scheduler restarting, e.g. Marathon relaunching it
    after an options update, is not routable for a moment). ``stream`` (default
    stdout) receives the progress; ``quiet`` prints nothing.
    """
    stream = stream or sys.stdout
    if quiet:
        view = _Quiet()
    elif stream.isatty():
        view = _LiveView(plan_name, stream)
    else:
        view = _LineView(plan_name, stream)
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    stall = StallDetector()
    try:
        while True:
            try:
                last = api.plan(plan_name)
                view.update(last[1])
                if settled(last[1]) or stall.blocked(last[1]):
                    return last
            except CliError as exc:
                if exc.code not in tolerate and not (last is not None and exc.code in restarting):
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


class _Quiet:
    def update(self, plan):
        pass

    def waiting(self, message):
        pass

    def close(self):
        pass


class _LineView:
    def __init__(self, plan_name: str, stream):
        self.plan_name, self.stream = plan_name, stream
        self.seen: dict = {}
        self.plan_status = None
        self.waiting_for = None

    def _line(self, text: str) -> None:
        self.stream.write(f"{time.strftime('%H:%M:%S')} {text}\n")
        self.stream.flush()

    def waiting(self, message: str) -> None:
        if message != self.waiting_for:
            self._line(f"waiting for the service: {render.clean(message)}")
        self.waiting_for = message

    def update(self, plan: dict) -> None:
        self.waiting_for = None
        for ph in plan.get("phases", []):
            for s in ph.get("steps", []):
                key = (ph.get("name"), s.get("name"), s.get("agent"))
                state = (s.get("status"), s.get("attempts"))
                if self.seen.get(key) != state:
                    self.seen[key] = state
                    where = f" on {s['agent']}" if s.get("agent") else ""
                    why = s.get("reason") if s.get("status") in ("ERROR", "DELAYED") else s.get("message")
                    self._line(f"{render.clean(ph.get('name'))} / {render.clean(s.get('name'))}{render.clean(where)}: "
                               f"{s.get('status')}" + (f" - {render.clean(why)}" if why else ""))
        if plan.get("status") != self.plan_status:
            self.plan_status = plan.get("status")
            steps = [s for ph in plan.get("phases", []) for s in ph.get("steps", [])]
            done = sum(1 for s in steps if s.get("status") == "COMPLETE")
            self._line(f"plan {render.clean(self.plan_name)}: {plan.get('status')} ({done}/{len(steps)} steps complete)")

    def close(self) -> None:
        pass


class _LiveView:
    """Progress bars per phase and per agent, refreshed in place (rich)."""

    def __init__(self, plan_name: str, stream):
        from rich.console import Console, Group
        from rich.live import Live
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self.escape, self.group = escape, Group
        console = Console(file=stream, highlight=False)
        columns = (TextColumn("{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                   TextColumn("{task.fields[state]}"))
        self.overall = Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("{task.fields[state]}"), console=console,
                                auto_refresh=False)
        self.phases = Progress(*columns, console=console, auto_refresh=False)
        self.agents = Progress(*columns, console=console, auto_refresh=False)
        self.plan_name = plan_name
        self.notes: list[str] = []
        self.tasks: dict = {}
        self.live = Live(self._render(), console=console, refresh_per_second=4)
        self.live.start()

    def _styled(self, status) -> str:
        status = str(status or "")
        return f"[{RICH_STYLE.get(status, 'white')}]{status}[/]"

    def _render(self):
        from rich.text import Text
        return self.group(self.overall, Text("phases", style="bold underline"), self.phases,
                          Text("agents", style="bold underline"), self.agents,
                          *[Text(n, style="yellow") for n in self.notes])

    def _task(self, progress, key, label: str):
        if key not in self.tasks:
            self.tasks[key] = progress.add_task(label, total=1, state="")
        return self.tasks[key]

    def waiting(self, message: str) -> None:
        self.notes = [f"waiting for the service: {render.clean(message)}"]
        self.live.update(self._render(), refresh=True)

    def _current(self, steps):
        return next((s for s in steps if s.get("status") not in ("COMPLETE", "PENDING")), None)

    def update(self, plan: dict) -> None:
        esc = self.escape
        steps = [s for ph in plan.get("phases", []) for s in ph.get("steps", [])]
        done = sum(1 for s in steps if s.get("status") == "COMPLETE")
        t = self._task(self.overall, ("plan",), esc(self.plan_name))
        self.overall.update(t, total=max(len(steps), 1), completed=done, state=self._styled(plan.get("status")))
        per_agent: dict = {}
        for ph in plan.get("phases", []):
            ph_steps = ph.get("steps", [])
            cur = self._current(ph_steps)
            t = self._task(self.phases, ("phase", ph.get("name")), "  " + esc(render.clean(ph.get("name"))))
            self.phases.update(t, total=max(len(ph_steps), 1),
                               completed=sum(1 for s in ph_steps if s.get("status") == "COMPLETE"),
                               state=self._styled(ph.get("status")) + (f" {esc(render.clean(cur.get('name')))}" if cur else ""))
            for s in ph_steps:
                per_agent.setdefault(s.get("agent") or "(scheduler)", []).append(s)
        for agent, agent_steps in per_agent.items():
            cur = self._current(agent_steps)
            a_done = sum(1 for s in agent_steps if s.get("status") == "COMPLETE")
            t = self._task(self.agents, ("agent", agent), "  " + esc(render.clean(agent)))
            state = (self._styled(cur.get("status")) + f" {esc(render.clean(cur.get('name')))}") if cur else \
                self._styled("COMPLETE" if a_done == len(agent_steps) else "PENDING")
            self.agents.update(t, total=len(agent_steps), completed=a_done, state=state)
        self.notes = render.blocking(plan, limit=4) if plan.get("status") != "COMPLETE" else []
        self.live.update(self._render(), refresh=True)

    def close(self) -> None:
        self.live.stop()
