"""Human output: trees and tables for plans, nodes, endpoints and previews, in plain text with ANSI
colours on a terminal (``NO_COLOR`` turns them off).

Deliberately not rich: importing and laying out rich costs ~100 ms of CPU per run, more than the
whole start-up budget of ``dcos scaleio status`` (the DC/OS CLI spawns the plugin for every
command). rich is used where it earns its cost: the live progress bars of ``--watch``
(:mod:`.watch`). Every function takes the API's JSON as it came (fields may be added by newer
schedulers; missing optional fields render blank) and returns lines.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time

STATUS_COLOUR = {"COMPLETE": "32", "ERROR": "1;31", "IN_PROGRESS": "36", "STARTED": "36", "STARTING": "36",
                 "PREPARED": "33", "PENDING": "2", "WAITING": "35", "DELAYED": "33",
                 "added": "32", "pending": "33", "refused": "31", "failed": "31", "absent": "31"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _colour_on() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, code: str | None) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if code and _colour_on() else text


def bold(text: str) -> str:
    return paint(text, "1")


def styled(status) -> str:
    status = str(status or "")
    return paint(status, STATUS_COLOUR.get(status))


def width(text: str) -> int:
    return len(_ANSI.sub("", text))


def clean(value) -> str:
    """A value from the API as one safe line: no control characters (no terminal escapes from data)."""
    if value is None:
        return ""
    return "".join(c if c.isprintable() else " " for c in str(value))


def print_json(obj) -> None:
    """The API's JSON unchanged (pretty-printed, keys in the server's order)."""
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def out(lines) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))


def when(epoch) -> str:
    """Epoch seconds as local time (HH:MM:SS today, else with the date); blank for null."""
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


def table(headers: list[str], rows: list[list[str]], indent: str = "") -> list[str]:
    """Aligned columns (cells may hold colour codes); the last column is never padded."""
    cols = len(headers)
    widths = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = []
    for n, row in enumerate([[bold(h) for h in headers]] + rows):
        cells = [cell + " " * (widths[i] - width(cell)) if i < cols - 1 else cell for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def steps_table(steps: list[dict], show_agent: bool = True, indent: str = "") -> list[str]:
    headers = ["step"] + (["agent"] if show_agent else []) + ["status", "tries", "started", "finished", "took",
                                                             "details"]
    rows = []
    for s in steps:
        note = clean(s.get("message"))
        reason = s.get("reason")
        if reason and reason != s.get("message"):
            failure = paint(f"last failure: {clean(reason)}", "31")
            note = f"{note} ({failure})" if note else failure
        rows.append([clean(s.get("name"))] + ([clean(s.get("agent") or "-")] if show_agent else [])
                    + [styled(s.get("status")), str(s.get("attempts") or ""), when(s.get("started")),
                       when(s.get("finished")), took(s), note])
    return table(headers, rows, indent)


def _done(steps) -> int:
    return sum(1 for s in steps if s.get("status") == "COMPLETE")


def plan_tree(plan: dict, name: str = "deploy") -> list[str]:
    """``deploy (serial) IN_PROGRESS 2/18`` / a branch per phase / a table of its steps."""
    steps = [s for ph in plan.get("phases", []) for s in ph.get("steps", [])]
    lines = [f"{bold(clean(name))} ({clean(plan.get('strategy'))}) {styled(plan.get('status'))}  "
             f"{_done(steps)}/{len(steps)} steps complete"]
    for err in plan.get("errors") or []:
        lines.append(f"{paint('error:', '1;31')} {clean(err)}")
    phases = plan.get("phases", [])
    for n, ph in enumerate(phases):
        last = n == len(phases) - 1
        ph_steps = ph.get("steps", [])
        lines.append(f"{'└─' if last else '├─'} {bold(clean(ph.get('name')))} ({clean(ph.get('strategy'))}) "
                     f"{styled(ph.get('status'))}  {_done(ph_steps)}/{len(ph_steps)}")
        if ph_steps:
            # One agent per phase (the per-agent phases): its name is in the step names already.
            lines += steps_table(ph_steps, show_agent=len({s.get("agent") for s in ph_steps}) > 1,
                                 indent="   " if last else "│  ")
    return lines


def blocking(plan: dict, limit: int = 8) -> list[str]:
    """Why the plan is not COMPLETE, in words: errors first, then failing, waiting, running steps."""
    lines = [f"plan error: {clean(e)}" for e in plan.get("errors") or []]
    order = {"ERROR": 0, "DELAYED": 1, "WAITING": 2, "PENDING": 3, "PREPARED": 4, "STARTING": 5, "STARTED": 6}
    open_steps = [(ph, s) for ph in plan.get("phases", []) for s in ph.get("steps", [])
                  if s.get("status") != "COMPLETE"]
    open_steps.sort(key=lambda p: order.get(p[1].get("status"), 9))
    for ph, s in open_steps[:limit]:
        why = s.get("reason") if s.get("status") in ("ERROR", "DELAYED") and s.get("reason") else s.get("message")
        where = f" on {s['agent']}" if s.get("agent") else ""
        lines.append(clean(f"{ph.get('name')} / {s.get('name')}{where}: {s.get('status')}" + (f" - {why}" if why else "")))
    if len(open_steps) > limit:
        lines.append(f"... and {len(open_steps) - limit} more steps not complete")
    return lines


def _device(d: dict) -> str:
    state = d.get("state", "")
    text = paint(clean(state), STATUS_COLOUR.get(state))
    if d.get("reason") and state in ("refused", "failed"):
        text += f" ({clean(d['reason'])})"
    return text


def nodes_table(nodes: list[dict]) -> list[str]:
    rows = []
    for n in nodes:
        steps = n.get("steps", [])
        failed = sum(1 for s in steps if s.get("status") == "ERROR")
        state = "restarting" if n.get("restarting") else "present" if n.get("present", True) else styled("absent")
        rows.append([clean(n.get("hostname")), clean(n.get("ip")), clean(n.get("os_family")),
                     clean(",".join(n.get("persona") or [])), state,
                     f"{_done(steps)}/{len(steps)}" + (" " + paint(f"{failed} ERROR", "1;31") if failed else ""),
                     ", ".join(f"{clean(d.get('path'))} {_device(d)}" for d in n.get("devices", []))])
    return table(["node", "ip", "os", "persona", "state", "steps", "devices"], rows)


def node_detail(node: dict) -> list[str]:
    keys = ("hostname", "agent_id", "ip", "os_family", "persona", "mdm_slot", "present", "restarting")
    pad = max(len(k) for k in keys)
    lines = []
    for key in keys:
        value = node.get(key)
        lines.append(f"{bold(key.ljust(pad))}  {clean(','.join(value) if isinstance(value, list) else value)}")
    lines += ["", bold("steps")] + steps_table(node.get("steps", []), show_agent=False)
    devices = node.get("devices") or []
    if devices:
        rows = [[clean(d.get("path")), clean(d.get("protection_domain")), clean(d.get("storage_pool")),
                 _device(d), clean(d.get("reason"))] for d in devices]
        lines += ["", bold("devices")] + table(["device", "protection domain", "pool", "state", "reason"], rows)
    return lines


def endpoints_table(endpoints: dict) -> list[str]:
    """``{name: {"address": [...], "dns": [...]}}``."""
    rows = [[clean(name), clean(" ".join(ep.get("address") or [])), clean(" ".join(ep.get("dns") or []))]
            for name, ep in endpoints.items()]
    return table(["endpoint", "address", "dns"], rows)


def preview(doc: dict) -> list[str]:
    """``/v1/preview``: validation errors and warnings, the plan, then per agent every step with the
    exact commands it would run (``steps[].commands[].argv``; null while the agent's OS is unknown)."""
    import shlex
    lines = []
    for err in doc.get("errors") or []:
        if isinstance(err, dict):
            lines.append(f"{paint('invalid', '1;31')} {clean(err.get('field') or '(root)')}: {clean(err.get('message'))}")
        else:
            lines.append(f"{paint('invalid', '1;31')} {clean(err)}")
    for warn in doc.get("warnings") or []:
        lines.append(f"{paint('warning', '33')} {clean(warn)}")
    for host, why in (doc.get("ignored") or {}).items():
        lines.append(f"{paint('ignored agent', '33')} {clean(host)}: {clean(why)}")
    if isinstance(doc.get("plan"), dict):
        lines += plan_tree(doc["plan"], "deploy (preview)")
    by_agent: dict = {}
    for step in doc.get("steps") or []:
        by_agent.setdefault(step.get("agent") or "(scheduler)", []).append(step)
    for agent, steps in by_agent.items():
        rows = []
        for step in steps:
            label = clean(step.get("name") or step.get("step"))
            commands = step.get("commands")
            if commands is None:
                what = clean(step.get("action") or "")
                rows.append([label, paint(f"{what}: commands are known once the agent reports its OS" if step.get("kind")
                                          == "host" else (what or "runs in the scheduler"), "2"), ""])
                continue
            for n, cmd in enumerate(commands):
                argv = cmd.get("argv") if isinstance(cmd, dict) else cmd
                text = shlex.join(argv) if isinstance(argv, list) else str(argv or "")
                rows.append([label if n == 0 else "", clean(text), clean(cmd.get("when")) if isinstance(cmd, dict) else ""])
        lines += ["", bold(clean(agent))] + table(["step", "command", "when"], rows, indent="  ")
    return lines or [json.dumps(doc, indent=2)]
