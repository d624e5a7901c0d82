"""The host-step contract and its driver.

A step is a class with ``NAME``, ``PARAMS`` (see :mod:`.validate`) and three methods:

- ``check(ctx) -> list[str]``: what is not yet as wanted, read from the real host (never from
  memory of an earlier run); an empty list means the step is already done;
- ``act(ctx, todo)``: make it so. Every action re-reads real state first, so a re-run after a
  crash at any point converges without doing anything twice;
- ``verify(ctx)``: raise :class:`StepError` unless the host is now really as wanted.

:func:`execute` validates the parameters (nothing runs if they are bad), detects the OS family,
then runs check -> act -> verify and returns a :class:`dict` result (JSON-able)::

    {"step": "sdc", "status": "COMPLETE" | "ERROR", "changed": bool, "changes": [str, ...],
     "facts": {...}, "reason": str, "retryable": bool, "os_family": "ubuntu" | "rhel" | None,
     "restart": None | "agent" | "reboot", "restart_reason": str, "commands": [{argv, rc, s}],
     "duration_s": float}

Steps may add top-level keys the scheduler reads (``disks`` from ``deps``). ``reason`` and every
command line in the result are redacted (secrets never appear).
"""
from __future__ import annotations

import time

from . import hostcmd, packages as pkgs
from .validate import BadParams, check_params

__all__ = ["Step", "StepError", "Context", "execute", "COMPLETE", "ERROR"]

COMPLETE, ERROR = "COMPLETE", "ERROR"


class StepError(Exception):
    """The step cannot complete. ``retryable=False`` when retrying cannot help (bad config,
    unsupported kernel without a reboot, ...)."""

    def __init__(self, reason: str, retryable: bool = True, **facts):
        super().__init__(reason)
        self.reason, self.retryable, self.facts = reason, retryable, facts


class Context:
    """What a step works with: the host, its validated params and secrets, and the result."""

    def __init__(self, host: hostcmd.Host, params: dict, secrets: dict, os_family: str):
        self.host, self.params, self.secrets, self.os_family = host, params, secrets, os_family
        self.pm = pkgs.PackageManager(host, os_family)
        self.changes: list[str] = []
        self.facts: dict = {}
        self.extra: dict = {}
        self.restart: str | None = None
        self.restart_reason = ""

    def changed(self, what: str) -> None:
        self.changes.append(what)

    def fact(self, key: str, value) -> None:
        self.facts[key] = value

    def secret(self, name: str) -> str:
        value = self.secrets.get(name)
        if not value:
            raise StepError(f"the {name.replace('_', ' ')} is required by this step but was not provided",
                            retryable=False)
        return value

    def need_restart(self, kind: str, why: str) -> None:
        self.restart, self.restart_reason = kind, why


class Step:
    NAME = ""
    PARAMS: dict = {}

    def check(self, ctx: Context) -> list:
        raise NotImplementedError

    def act(self, ctx: Context, todo: list) -> None:
        raise NotImplementedError

    def verify(self, ctx: Context) -> None:
        raise NotImplementedError


def execute(step: Step, raw_params, secrets: dict | None = None, host: hostcmd.Host | None = None) -> dict:
    """Run ``step`` with ``raw_params``; never raises for step failures (they become ERROR)."""
    started = time.monotonic()
    secrets = {k: v for k, v in (secrets or {}).items() if isinstance(v, str) and v}
    host = host or hostcmd.Host(secrets.values())
    for value in secrets.values():
        host.add_secret(value)
    result = {"step": step.NAME, "status": ERROR, "changed": False, "changes": [], "facts": {},
              "reason": "", "retryable": True, "os_family": None, "restart": None, "restart_reason": ""}
    ctx = None
    try:
        params = check_params(raw_params, step.PARAMS)
        family = host.os_family()
        result["os_family"] = family
        wanted = raw_params.get("os_family") if isinstance(raw_params, dict) else None
        if wanted and wanted != family:
            raise StepError(f"the scheduler expected OS family {wanted!r} but this host is {family!r}",
                            retryable=False)
        ctx = Context(host, params, secrets, family)
        todo = step.check(ctx)
        ctx.fact("todo", list(todo))
        if todo:
            step.act(ctx, todo)
        step.verify(ctx)
        result["status"] = COMPLETE
    except BadParams as exc:
        result.update(reason=f"invalid parameters: {exc}", retryable=False, facts={"invalid": exc.errors})
    except hostcmd.UnsupportedOS as exc:
        result.update(reason=str(exc), retryable=False)
    except StepError as exc:
        result.update(reason=exc.reason, retryable=exc.retryable)
        if ctx is not None:
            ctx.facts.update(exc.facts)
    except hostcmd.CommandError as exc:
        result.update(reason=str(exc), retryable=True)
    except Exception as exc:  # a bug must still produce a result, never a traceback into the executor
        result.update(reason=f"internal error in step {step.NAME}: {type(exc).__name__}: {exc}", retryable=True)
    if ctx is not None:
        result.update(changes=ctx.changes, changed=bool(ctx.changes), facts={**ctx.facts, **result["facts"]},
                      restart=ctx.restart, restart_reason=ctx.restart_reason)
        result.update(ctx.extra)
    result["reason"] = host.redact(result["reason"])
    result["changes"] = [host.redact(c) for c in result["changes"]]
    result["commands"] = host.log
    result["duration_s"] = round(time.monotonic() - started, 3)
    return result
