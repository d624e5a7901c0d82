"""Human output: rich trees and tables for plans, nodes, endpoints and previews.

``rich`` is imported on first use only (``--json`` and the protocol flags never pay for it).
Every function takes the API's JSON as it came (fields may be added by newer schedulers; missing
optional fields render as blanks) and returns a rich renderable, or prints through :func:`console`.
"""
from __future__ import annotations

import json
import sys
import time

STATUS_STYLE = {"COMPLETE": "green", "ERROR": "bold red", "IN_PROGRESS": "cyan", "STARTED": "cyan",
                "STARTING": "cyan", "PREPARED": "yellow", "PENDING": "dim", "WAITING": "magenta",
                "DELAYED": "yellow"}

_console = None


def console():
    global _console
    if _console is None:
        import os
        from rich.console import Console
        _console = Console(highlight=False, soft_wrap=False)
        if not _console.is_terminal and not os.environ.get("COLUMNS"):
            # Logs and pipes: wide enough that step names and reasons are not folded into slivers.
            _console = Console(highlight=False, soft_wrap=False, width=160)
    return _console


def print_json(obj) -> None:
    """The API's JSON unchanged (pretty-printed, keys in the server's order)."""
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def styled(status) -> str:
    status = str(status or "")
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def when(epoch) -> str:
    """Epoch seconds as local time (HH:MM:SS today, else the date too); blank for null."""
    if not epoch:
        return ""
    local = time.localtime(float(epoch))
    if time.strftime("%Y-%m-%d", local) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M:%S", local)


def took(step: dict) -> str:
    started, finished = step.get("started"), step.get("finished")
    if not started:
        return ""
    seconds = (float(finished) if finished else time.time()) - float(started)
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def _esc(text) -> str:
    from rich.markup import escape
    return escape(str(text)) if text is not None else ""


def steps_table(steps: list[dict], show_agent: bool = True):
    from rich.table import Table
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("step", no_wrap=True)
    if show_agent:
        table.add_column("agent", no_wrap=True)
    for name in ("status", "tries", "started", "finished", "took"):
        table.add_column(name, no_wrap=True)
    table.add_column("details", overflow="fold", min_width=20, ratio=1)
    for s in steps:
        note = _esc(s.get("message") or "")
        reason = s.get("reason")
        if reason and reason != s.get("message"):
            note = f"{note}  [red](last failure: {_esc(reason)})[/]" if note else f"[red]{_esc(reason)}[/]"
        cells = [_esc(s.get("name"))] + ([_esc(s.get("agent") or "-")] if show_agent else [])
        cells += [styled(s.get("status")), str(s.get("attempts", "") or ""), when(s.get("started")),
                  when(s.get("finished")), took(s), note]
        table.add_row(*cells)
    return table


def plan_tree(plan: dict, name: str = "deploy"):
    """``deploy (serial) IN_PROGRESS`` / one branch per phase / a table of its steps."""
    from rich.tree import Tree
    steps = [s for ph in plan.get("phases", []) for s in ph.get("steps", [])]
    done = sum(1 for s in steps if s.get("status") == "COMPLETE")
    tree = Tree(f"[bold]{_esc(name)}[/] ({_esc(plan.get('strategy', ''))}) {styled(plan.get('status'))}"
                f"  {done}/{len(steps)} steps complete")
    for err in plan.get("errors") or []:
        tree.add(f"[bold red]error:[/] {_esc(err)}")
    for ph in plan.get("phases", []):
        ph_steps = ph.get("steps", [])
        ph_done = sum(1 for s in ph_steps if s.get("status") == "COMPLETE")
        branch = tree.add(f"[bold]{_esc(ph.get('name'))}[/] ({_esc(ph.get('strategy', ''))}) "
                          f"{styled(ph.get('status'))}  {ph_done}/{len(ph_steps)}")
        if ph_steps:
            # One agent per phase (the per-agent phases): its name is in the step names already.
            branch.add(steps_table(ph_steps, show_agent=len({s.get("agent") for s in ph_steps}) > 1))
    return tree


def blocking(plan: dict, limit: int = 8) -> list[str]:
    """Why the plan is not COMPLETE, in words: errors first, then failing, waiting, running steps."""
    lines = [f"plan error: {e}" for e in plan.get("errors") or []]
    order = {"ERROR": 0, "DELAYED": 1, "WAITING": 2, "PENDING": 3, "PREPARED": 4, "STARTING": 5, "STARTED": 6}
    open_steps = [(ph, s) for ph in plan.get("phases", []) for s in ph.get("steps", [])
                  if s.get("status") != "COMPLETE"]
    open_steps.sort(key=lambda p: order.get(p[1].get("status"), 9))
    for ph, s in open_steps[:limit]:
        why = s.get("reason") if s.get("status") in ("ERROR", "DELAYED") and s.get("reason") else s.get("message")
        where = f" on {s['agent']}" if s.get("agent") else ""
        lines.append(f"{ph.get('name')} / {s.get('name')}{where}: {s.get('status')}"
                     + (f" - {why}" if why else ""))
    if len(open_steps) > limit:
        lines.append(f"... and {len(open_steps) - limit} more steps not complete")
    return lines


def nodes_table(nodes: list[dict]):
    from rich.table import Table
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("node", "ip", "os", "persona", "state", "steps", "devices"):
        table.add_column(col, overflow="fold")
    for n in nodes:
        steps = n.get("steps", [])
        done = sum(1 for s in steps if s.get("status") == "COMPLETE")
        failed = [s for s in steps if s.get("status") == "ERROR"]
        state = "restarting" if n.get("restarting") else "present" if n.get("present", True) else "[red]absent[/]"
        step_txt = f"{done}/{len(steps)}" + (f" [red]{len(failed)} ERROR[/]" if failed else "")
        devices = ", ".join(f"{_esc(d.get('path'))} {_device_state(d)}" for d in n.get("devices", []))
        table.add_row(_esc(n.get("hostname")), _esc(n.get("ip") or ""), _esc(n.get("os_family") or ""),
                      _esc(",".join(n.get("persona") or [])), state, step_txt, devices)
    return table


def _device_state(d: dict) -> str:
    state = d.get("state", "")
    style = {"added": "green", "pending": "yellow", "refused": "red", "failed": "red"}.get(state, "white")
    text = f"[{style}]{_esc(state)}[/]"
    if d.get("reason") and state in ("refused", "failed"):
        text += f" ({_esc(d['reason'])})"
    return text


def node_detail(node: dict):
    from rich.console import Group
    from rich.table import Table
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for key in ("hostname", "agent_id", "ip", "os_family", "persona", "mdm_slot", "present", "restarting"):
        value = node.get(key)
        head.add_row(key, _esc(",".join(value) if isinstance(value, list) else value))
    parts = [head, "", "[bold]steps[/]", steps_table(node.get("steps", []), show_agent=False)]
    devices = node.get("devices") or []
    if devices:
        dev = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("device", "protection domain", "pool", "state", "reason"):
            dev.add_column(col, overflow="fold")
        for d in devices:
            dev.add_row(_esc(d.get("path")), _esc(d.get("protection_domain") or ""), _esc(d.get("storage_pool") or ""),
                        _device_state(d), _esc(d.get("reason") or ""))
        parts += ["", "[bold]devices[/]", dev]
    return Group(*parts)


def endpoints_table(endpoints: dict):
    """``{name: {"address": [...], "dns": [...]}}``."""
    from rich.table import Table
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("endpoint", "address", "dns"):
        table.add_column(col, overflow="fold")
    for name, ep in endpoints.items():
        table.add_row(_esc(name), _esc("\n".join(ep.get("address") or [])), _esc("\n".join(ep.get("dns") or [])))
    return table


def preview(doc: dict):
    """``/v1/preview``: validation errors and warnings, the plan, then per agent every step with the
    exact commands it would run (``steps[].commands[].argv``; null when the agent's OS is unknown)."""
    import shlex
    from rich.console import Group
    from rich.table import Table
    parts = []
    for err in doc.get("errors") or []:
        if isinstance(err, dict):
            parts.append(f"[bold red]invalid[/] {_esc(err.get('field') or '(root)')}: {_esc(err.get('message'))}")
        else:
            parts.append(f"[bold red]invalid[/] {_esc(err)}")
    for warn in doc.get("warnings") or []:
        parts.append(f"[yellow]warning[/] {_esc(warn)}")
    for host, why in (doc.get("ignored") or {}).items():
        parts.append(f"[yellow]ignored agent[/] {_esc(host)}: {_esc(why)}")
    if isinstance(doc.get("plan"), dict):
        parts.append(plan_tree(doc["plan"], "deploy (preview)"))
    by_agent: dict = {}
    for step in doc.get("steps") or []:
        by_agent.setdefault(step.get("agent") or "(scheduler)", []).append(step)
    for agent, steps in by_agent.items():
        table = Table(title=f"[bold]{_esc(agent)}[/]", title_justify="left", show_header=True,
                      header_style="bold", box=None, pad_edge=False)
        table.add_column("step", no_wrap=True)
        table.add_column("command", overflow="fold", ratio=1)
        table.add_column("when", overflow="fold")
        for step in steps:
            commands = step.get("commands")
            label = _esc(step.get("name") or step.get("step") or "")
            if commands is None:
                action = step.get("action") or ""
                table.add_row(label, f"[dim]{_esc(action)}{' (' if action else '('}commands known once the "
                                     f"agent reports its OS)[/]" if step.get("kind") == "host" else
                              f"[dim]{_esc(action or 'runs in the scheduler')}[/]", "")
                continue
            for n, cmd in enumerate(commands or [{}]):
                argv = cmd.get("argv") if isinstance(cmd, dict) else cmd
                text = shlex.join(argv) if isinstance(argv, list) else str(argv or "")
                table.add_row(label if n == 0 else "", _esc(text), _esc(cmd.get("when") or "")
                              if isinstance(cmd, dict) else "")
        parts += ["", table]
    if not parts:
        parts.append(_esc(json.dumps(doc, indent=2)))
    return Group(*parts)


def out(*renderables) -> None:
    c = console()
    for r in renderables:
        c.print(r)
