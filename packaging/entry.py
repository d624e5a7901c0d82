"""Entry shim shared by the frozen ``dcos-scaleio-executor`` and ``dcos-scaleio-scheduler`` binaries.

A PyInstaller binary has no ``python -m``: this shim runs the product module exactly as
``python -m <module> ARGS...`` would (``runpy`` with ``run_name="__main__"``), so the frozen
program and the dev command line behave the same.

One option is answered here, before the product module is touched:
``--self-check`` prints one JSON line ({"program", "module", "frozen", "python", "schema", "sandbox"})
and exits 0 when the bundled product module imports, the options schema is bundled and readable,
and the sandbox is NOT part of the bundle; else exits 1. It is how the tests and an operator check
that an artifact runs on an agent without Python.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import platform
import runpy
import sys


def self_check(program: str, module: str) -> int:
    report = {"program": program, "module": module, "frozen": bool(getattr(sys, "frozen", False)),
              "python": platform.python_version()}
    ok = True
    try:
        importlib.import_module(module)
        report["import"] = "ok"
    except Exception as exc:   # report, do not crash: this is a diagnostic
        report["import"] = f"{type(exc).__name__}: {exc}"
        ok = False
    try:
        from dcos_scaleio.options.schema import schema_path
        path = schema_path()
        json.loads(path.read_text(encoding="ascii"))
        report["schema"] = str(path)
    except Exception as exc:
        report["schema"] = f"{type(exc).__name__}: {exc}"
        ok = False
    # The sandbox (emulators) must never ship: find_spec without importing it.
    try:
        present = importlib.util.find_spec("dcos_scaleio.sandbox") is not None
    except ImportError:
        present = False
    report["sandbox"] = "present" if present else "absent"
    ok = ok and not present
    report["ok"] = ok
    print(json.dumps(report, sort_keys=True), flush=True)
    return 0 if ok else 1


def run(program: str, module: str) -> None:
    """Run ``module`` as ``__main__`` with the process's argv (``--self-check`` answered here)."""
    if sys.argv[1:] == ["--self-check"]:
        sys.exit(self_check(program, module))
    sys.argv[0] = program
    runpy.run_module(module, run_name="__main__", alter_sys=True)
