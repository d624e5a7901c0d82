"""Step tasks: what the scheduler puts into ``TaskInfo.data`` and what the executor reports back.

``TaskInfo.data`` = base64(JSON ``{"step": "<host step>", "params": {...}, "secrets": ["admin_password"]}``);
never a secret value. :func:`decode` validates that shape (the step name against the host steps,
secret names against :data:`SECRET_NAMES`) and raises :class:`BadTask` with a reason otherwise.
Parameter values are validated by the host step itself before any command runs.

:func:`error_result` builds a result of the host library's shape for failures that happen in the
executor rather than in the step (bad task data, secrets unavailable, killed before it ran), so the
scheduler reads every terminal update the same way.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from ..host.steps import STEPS

SECRET_NAMES = ("admin_password",)
MESSAGE_LIMIT = 200


class BadTask(ValueError):
    """TaskInfo.data is not a step task (the reason is safe to report)."""


@dataclass
class StepTask:
    task_id: str
    step: str
    params: dict
    secrets: tuple = ()
    killed: bool = field(default=False, compare=False)


def decode(task_info: dict) -> StepTask:
    """The step task in a TaskInfo (as pymesos hands it over: ``data`` still base64)."""
    task_id = str((task_info.get("task_id") or {}).get("value") or "")
    if not task_id:
        raise BadTask("the task has no task_id")
    raw = task_info.get("data")
    if not raw:
        raise BadTask("the task carries no data (expected a step description)")
    try:
        body = json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadTask(f"task data is not base64 JSON ({type(exc).__name__})") from None
    if not isinstance(body, dict):
        raise BadTask("task data must be a JSON object")
    step = body.get("step")
    if step not in STEPS:
        raise BadTask(f"unknown step {str(step)[:40]!r} (one of {', '.join(sorted(STEPS))})")
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise BadTask("task data 'params' must be a JSON object")
    names = body.get("secrets", [])
    if not isinstance(names, list) or not all(n in SECRET_NAMES for n in names):
        raise BadTask(f"task data 'secrets' must be a list of names from {list(SECRET_NAMES)}")
    return StepTask(task_id, step, params, tuple(dict.fromkeys(names)))


def step_name_of(task_info: dict) -> str | None:
    """Best effort step name for reporting a task whose data did not decode."""
    try:
        body = json.loads(base64.b64decode(task_info.get("data") or "").decode("utf-8"))
        step = body.get("step") if isinstance(body, dict) else None
        return step if step in STEPS else None
    except Exception:
        return None


def error_result(step: str | None, reason: str, *, retryable: bool, **facts) -> dict:
    """An ERROR result in the host library's shape, for failures outside the step itself."""
    return {"step": step, "status": "ERROR", "changed": False, "changes": [], "facts": facts,
            "reason": reason, "retryable": retryable, "os_family": None, "restart": None,
            "restart_reason": "", "commands": [], "duration_s": 0.0}


def encode_result(result: dict) -> str:
    """``TaskStatus.data``: base64 of the result JSON."""
    return base64.b64encode(json.dumps(result, sort_keys=True).encode("utf-8")).decode("ascii")


def short_message(reason: str) -> str:
    """``TaskStatus.message``: the reason's first 200 characters (contract)."""
    return (reason or "")[:MESSAGE_LIMIT]
