"""Runner: ``python -m dcos_scaleio.framework.host.run <step>`` (what the executor calls).

stdin: one JSON object, the step's parameters; an optional ``"secrets"`` member (e.g.
``{"admin_password": "..."}``) is taken out first and only ever used in command environments,
config files and ``scli --password``. stdout: one JSON line, the result (see :mod:`.step`), with
secrets redacted. Exit code: 0 COMPLETE, 1 ERROR, 2 usage error (unknown step, stdin not a JSON
object). ``--list`` prints the step names, ``--describe`` their parameters as JSON. Steps on one host are serialised by an exclusive lock
on ``/run/lock/dcos-scaleio-step.lock`` (released by the kernel if the runner dies).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys

from .step import COMPLETE, execute
from .steps import STEPS

LOCK = "/run/lock/dcos-scaleio-step.lock"


@contextlib.contextmanager
def host_lock(path: str = LOCK):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def run_step(name: str, params: dict, secrets: dict | None = None) -> dict:
    """Run host step ``name`` in this process and return its result."""
    return execute(STEPS[name](), params, secrets)


def describe() -> dict:
    """Every step's parameters: ``{step: {param: {"check": name, "required": bool, "default": ...}}}``."""
    out = {}
    for name, cls in sorted(STEPS.items()):
        out[name] = {p: {"check": getattr(e[0], "__name__", "check").lstrip("_"), "required": e[1],
                         **({"default": e[2]} if len(e) > 2 else {})} for p, e in cls.PARAMS.items()}
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--list"]:
        print("\n".join(sorted(STEPS)))
        return 0
    if argv == ["--describe"]:
        print(json.dumps(describe(), indent=1, sort_keys=True))
        return 0
    if len(argv) != 1 or argv[0] not in STEPS:
        print(json.dumps({"status": "ERROR", "retryable": False,
                          "reason": f"usage: run <step> (one of {', '.join(sorted(STEPS))}), params JSON on stdin"}))
        return 2
    try:
        params = json.loads(sys.stdin.read() or "{}")
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        print(json.dumps({"step": argv[0], "status": "ERROR", "retryable": False,
                          "reason": f"stdin must be a JSON object of parameters ({exc.__class__.__name__})"}))
        return 2
    secrets = params.pop("secrets", None)
    if not isinstance(secrets, dict):
        secrets = {}
    with host_lock():
        result = run_step(argv[0], params, secrets)
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0 if result["status"] == COMPLETE else 1


if __name__ == "__main__":
    sys.exit(main())
