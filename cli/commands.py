"""The verbs against the service's operator API (status, nodes, add-device, plan, preview, endpoints)
and the dispatcher to the Cosmos-backed ones (cli/cosmos.py).

Each verb takes the parsed arguments, prints (rich or ``--json``) and returns an exit code; every
failure is a :class:`~.errors.CliError` raised by the layers below.
"""
from __future__ import annotations

import json
import re
import sys

from . import errors, render
from .config import Config
from .errors import CliError
from .http import Http
from .service import ServiceApi


class Context:
    """What one run shares: the configuration, the HTTP client, the service API (lazily)."""

    def __init__(self, ns, environ=None):
        self.ns = ns
        self.config = Config(environ)
        verbose = getattr(ns, "verbose", 0)
        # The DC/OS CLI passes its own verbosity to plugins: DCOS_LOG_LEVEL=debug / DCOS_DEBUG=true.
        env = self.config.environ
        if not verbose and (env.get("DCOS_LOG_LEVEL", "").lower() == "debug"
                            or env.get("DCOS_DEBUG", "").lower() in ("1", "true")):
            verbose = 1
        self.http = Http(self.config, verbose=verbose)
        self._api = None

    @property
    def api(self) -> ServiceApi:
        if self._api is None:
            self._api = ServiceApi(self.http, self.config, getattr(self.ns, "name", None))
        return self._api


def plan_exit(plan: dict) -> int:
    """0 COMPLETE, 4 ERROR, 3 anything else (in progress, pending, waiting)."""
    status = plan.get("status")
    return errors.OK if status == "COMPLETE" else errors.PLAN_ERROR if status == "ERROR" else errors.PLAN_INCOMPLETE


def load_options_file(path: str) -> dict:
    """An options file's JSON object; unreadable or malformed -> VALIDATION naming the file and line."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise CliError(errors.VALIDATION, f"cannot read the options file {path}: {exc.strerror}")
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise CliError(errors.VALIDATION, f"the options file {path} is not valid JSON: {exc}")
    if not isinstance(options, dict):
        raise CliError(errors.VALIDATION, f"the options file {path} must hold a JSON object, "
                                          f"not {type(options).__name__}")
    return options


def validate_options(options: dict, path: str) -> None:
    """Validate locally with the same code the scheduler uses; VALIDATION with one line per field."""
    from dcos_scaleio.options import validate
    result = validate(options)
    for warning in result.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    if not result.ok:
        raise CliError(errors.VALIDATION, f"the options in {path} are invalid ({len(result.errors)} "
                                          f"problem{'s' if len(result.errors) != 1 else ''}):",
                       "Fix these fields and try again; `dcos scaleio preview --options=FILE` shows the plan.",
                       details=[f"{e.path}: {e.message}" for e in result.errors])


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(errors.USAGE, f"{question} needs confirmation", "Pass --yes to confirm non-interactively.")
    answer = input(f"{question} [yes/no]: ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError(errors.USAGE, "cancelled")


def _explain(plan: dict) -> None:
    lines = render.blocking(plan)
    if lines:
        print("Not complete yet:" if plan.get("status") != "ERROR" else "Blocked:", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)


# ---------------------------------------------------------------------- verbs
def status(ctx: Context) -> int:
    ns = ctx.ns
    if ns.watch:
        from .watch import follow
        try:
            _, plan = follow(ctx.api, ns.plan, timeout=ns.timeout, interval=max(ns.interval, 0.1),
                             tolerate=(errors.UNAVAILABLE,), quiet=ns.json)
            print()
        except KeyboardInterrupt:
            print("\nStopped watching; the plan keeps running (`dcos scaleio status` shows it).", file=sys.stderr)
            return errors.INTERRUPTED
    else:
        _, plan = ctx.api.plan(ns.plan)
    if ns.json:
        render.print_json(plan)
    else:
        render.out(render.plan_tree(plan, ns.plan))
        if ns.watch and plan.get("status") != "COMPLETE":
            _explain(plan)
    return plan_exit(plan)


def nodes(ctx: Context) -> int:
    ns = ctx.ns
    if ns.node:
        node = ctx.api.node(ns.node)
        render.print_json(node) if ns.json else render.out(render.node_detail(node))
        return errors.OK
    found = ctx.api.nodes()
    if ns.json:
        render.print_json(found)
    elif not found:
        print("No agents known to the service yet.")
    else:
        render.out(render.nodes_table(found))
    return errors.OK


def add_device(ctx: Context) -> int:
    ns = ctx.ns
    try:
        result = ctx.api.add_devices(ns.node, ns.devices, ns.pool)
    except CliError as exc:
        # The API names the field (devices[1]); say which device that is.
        match = re.search(r"devices\[(\d+)\]", exc.message)
        if exc.code == errors.VALIDATION and match and int(match.group(1)) < len(ns.devices):
            exc.message += f" (device {ns.devices[int(match.group(1))]!r})"
        raise
    if ns.json:
        render.print_json(result)
        return errors.OK
    added = ", ".join(result.get("devices") or ns.devices)
    render.out([f"Node {render.bold(render.clean(result.get('node', ns.node)))}: accepted {render.clean(added)}"])
    steps = result.get("steps") or []
    if steps:
        render.out(render.steps_table(steps, show_agent=False))
    print("Follow with `dcos scaleio status --watch` or `dcos scaleio nodes " + ns.node + "`.")
    return errors.OK


def plan(ctx: Context) -> int:
    ns = ctx.ns
    verb = {"status": "show", "interrupt": "pause", "continue": "resume", "restart": "force-restart",
            "force": "force-complete"}.get(ns.plan_verb, ns.plan_verb)
    if verb == "list":
        names = ctx.api.plans()
        if ns.json:
            render.print_json(names)
        else:
            for name in names:
                print(name)
        return errors.OK
    if verb == "show":
        _, doc = ctx.api.plan(ns.plan)
        render.print_json(doc) if ns.json else render.out(render.plan_tree(doc, ns.plan))
        return plan_exit(doc)
    phase = getattr(ns, "phase", None) or getattr(ns, "phase_pos", None)
    step = getattr(ns, "step", None) or getattr(ns, "step_pos", None)
    if verb == "force-complete" and not (phase or step):
        raise CliError(errors.USAGE, "force-complete needs a phase (and optionally a step)",
                       "Example: `dcos scaleio plan force-complete deploy <phase> [<step>]`.")
    result = ctx.api.plan_command(verb, ns.plan, phase, step)
    if ns.json:
        render.print_json(result)
    else:
        print(result.get("message") if isinstance(result, dict) and result.get("message") else f"{verb}: done")
    return errors.OK


def preview(ctx: Context) -> int:
    ns = ctx.ns
    options = load_options_file(ns.options) if ns.options else None
    doc = ctx.api.preview(options)
    if ns.json:
        render.print_json(doc)
    else:
        render.out(render.preview(doc))
    invalid = isinstance(doc, dict) and (doc.get("valid") is False or bool(doc.get("errors")))
    return errors.VALIDATION if invalid else errors.OK


def endpoints(ctx: Context) -> int:
    ns = ctx.ns
    if ns.endpoint:
        doc = ctx.api.endpoint(ns.endpoint)
        render.print_json(doc) if ns.json else render.out(render.endpoints_table({ns.endpoint: doc}))
        return errors.OK
    names = ctx.api.endpoints()
    if ns.json:
        render.print_json(names)
    else:
        render.out(render.endpoints_table({name: ctx.api.endpoint(name) for name in names}))
    return errors.OK


VERBS = {"status": status, "nodes": nodes, "add-device": add_device, "plan": plan, "preview": preview,
         "endpoints": endpoints}
COSMOS_VERBS = ("install", "uninstall", "describe", "update")


def run(ns, environ=None) -> int:
    ctx = Context(ns, environ)
    try:
        if ns.verb in COSMOS_VERBS:
            from . import cosmos
            return cosmos.run(ctx)
        return VERBS[ns.verb](ctx)
    finally:
        ctx.http.close()
