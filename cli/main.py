"""Entry point of ``dcos-scaleio``: the DC/OS CLI runs it as ``dcos-scaleio scaleio <verb> ...``.

Protocol (dcos-ecosystem.md 4.3): argv[1] is the noun ``scaleio`` (optional when run by hand);
``--info`` prints one line, ``--config-schema`` the JSON schema of the ``[scaleio]`` config keys,
``--version`` the version; ``--name=<service>`` (default ``scaleio.service_name``, then
``scaleio``), ``-v/--verbose`` (repeat for bodies), ``-h/--help``.

Verbs (cli/README.md lists them with exit codes): ``status [--watch]``, ``nodes [node]``,
``add-device <node> <device>... [--pool]``, ``plan list|show|start|stop|pause|resume|force-restart|
force-complete``, ``preview [--options=FILE]``, ``endpoints [name]``, and the Cosmos-backed
``install``, ``uninstall``, ``describe``, ``update start|status``. ``--json`` on every read verb
prints the API's JSON unchanged.

Start-up cost matters (the DC/OS CLI spawns us for every command): this module imports only the
stdlib pieces it needs; rich, jsonschema and the options code are imported by the verbs that use them.
"""
from __future__ import annotations

import sys

from dcos_scaleio import __version__

from . import errors
from .errors import CliError

NOUN = "scaleio"
INFO = "Deploy and manage Dell EMC ScaleIO storage on DC/OS agents"


def _gettext(message: str) -> str:
    return message


def _ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _parser(only: str | None = None):
    """The argument parser; with ``only``, just that verb's sub-parser (building all of them costs
    ~50 ms of start-up on a loaded machine, mostly argparse's gettext look-ups)."""
    import argparse
    # argparse translates every label through gettext, which searches the locale folders on disk
    # each time; this program is English-only, so skip the look-ups.
    argparse._, argparse.ngettext = _gettext, _ngettext

    class Parser(argparse.ArgumentParser):
        def error(self, message):   # usage errors exit with USAGE through CliError, not SystemExit(2)
            raise CliError(errors.USAGE, message, f"See `{self.prog} --help`.")

    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a flag given before the verb must survive the verb's own parser (argparse would
    # overwrite it with the sub-parser's default).
    common.add_argument("--name", default=argparse.SUPPRESS,
                        help="service name (default: config scaleio.service_name, then 'scaleio')")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log HTTP requests (twice: bodies)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the API's JSON unchanged")

    p = Parser(prog=f"dcos {NOUN}", description=INFO, parents=[common], epilog=EXIT_CODES_HELP)
    p.add_argument("--version", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="verb", metavar="<verb>", parser_class=Parser)
    groups = {}

    def verb(name, help_, *parents, **kw):
        return sub.add_parser(name, help=help_, description=help_, parents=[common, *parents], **kw)

    for name, build in _VERBS.items():
        if only is None or only == name:
            group = build(verb, common, as_json, Parser)
            if group is not None:
                groups[name] = group
    return p, groups


EXIT_CODES_HELP = ("Exit codes: 0 ok, 1 error, 2 usage, 3 plan incomplete, 4 plan in error, 5 validation failed, "
                   "6 auth failed, 7 forbidden, 8 cluster unreachable, 9 service not installed, "
                   "10 unknown node/plan/step, 11 service unavailable, 12 configuration, 130 interrupted.")


def _status(verb, common, as_json, Parser):
    s = verb("status", "the deploy plan per phase, agent and step (exit 0 complete, 3 in progress, 4 error)", as_json)
    s.add_argument("--watch", action="store_true", help="live progress until COMPLETE/ERROR (Ctrl-C stops)")
    s.add_argument("--plan", default="deploy", help="plan to show (default deploy)")
    s.add_argument("--timeout", type=float, help="with --watch: give up after this many seconds (exit 3)")
    s.add_argument("--interval", type=float, default=1.0, help="with --watch: seconds between polls")


def _nodes(verb, common, as_json, Parser):
    n = verb("nodes", "agents: identity, persona, steps and devices", as_json)
    n.add_argument("node", nargs="?", help="one node (hostname): its steps and devices in detail")


def _add_device(verb, common, as_json, Parser):
    a = verb("add-device", "add block devices of a node to ScaleIO (an SDS device step per device)", as_json)
    a.add_argument("node", help="node hostname (see `dcos scaleio nodes`)")
    a.add_argument("devices", nargs="+", metavar="device", help="device path, e.g. /dev/sdb")
    a.add_argument("--pool", help="storage pool (default: the configured one)")


PLAN_ALIASES = {"pause": ["interrupt"], "resume": ["continue"], "force-restart": ["restart"], "force-complete": ["force"]}


def _plan(verb, common, as_json, Parser):
    pl = verb("plan", "list, show and control plans", aliases=["plans"])
    psub = pl.add_subparsers(dest="plan_verb", metavar="<command>", parser_class=Parser)
    psub.add_parser("list", help="plan names", parents=[common, as_json])
    pv = psub.add_parser("show", help="one plan as a tree (alias status)", parents=[common, as_json],
                         aliases=["status"])
    pv.add_argument("plan", nargs="?", default="deploy")
    for cmd, help_ in (("start", "start (or restart) a plan"), ("stop", "interrupt a plan and reset it"),
                       ("pause", "interrupt a plan or phase (alias interrupt)"),
                       ("resume", "continue a plan or phase (alias continue)"),
                       ("force-restart", "reset a plan, phase or step to PENDING (alias restart)"),
                       ("force-complete", "mark a phase or step COMPLETE (alias force)")):
        pv = psub.add_parser(cmd, help=help_, parents=[common, as_json], aliases=PLAN_ALIASES.get(cmd, []))
        pv.add_argument("plan", nargs="?", default="deploy")
        if cmd not in ("start", "stop"):
            pv.add_argument("phase_pos", nargs="?", metavar="phase")
            pv.add_argument("step_pos", nargs="?", metavar="step")
            pv.add_argument("--phase", help="phase name or id")
            pv.add_argument("--step", help="step name or id")
    return pl


def _preview(verb, common, as_json, Parser):
    pr = verb("preview", "the plan and the exact commands per agent for the current or given options; "
                         "nothing runs", as_json)
    pr.add_argument("--options", metavar="FILE", help="options JSON file to preview instead of the current ones")


def _endpoints(verb, common, as_json, Parser):
    e = verb("endpoints", "gateway and MDM addresses", as_json)
    e.add_argument("endpoint", nargs="?", help="one endpoint (gateway, mdm)")


def _install(verb, common, as_json, Parser):
    i = verb("install", "install the service through Cosmos and follow its deploy plan")
    i.add_argument("--options", metavar="FILE", help="options JSON file (validated locally first)")
    i.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    i.add_argument("--artifacts-url", metavar="URL", help="mirror serving the package's artifacts (when the CLI "
                                                          "publishes its embedded package)")
    i.add_argument("--package-version", help="package version (default: the newest offered)")
    i.add_argument("--no-wait", action="store_true", help="return once Cosmos accepted the install")
    i.add_argument("--timeout", type=float, help="give up following the deploy plan after this many seconds (exit 3)")


def _uninstall(verb, common, as_json, Parser):
    u = verb("uninstall", "uninstall the service through Cosmos and follow the uninstall plan")
    u.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    u.add_argument("--no-wait", action="store_true", help="return once Cosmos accepted the uninstall")
    u.add_argument("--timeout", type=float, help="give up following after this many seconds (exit 3)")


def _describe(verb, common, as_json, Parser):
    verb("describe", "the installed package and its options (Cosmos service describe)", as_json)


def _update(verb, common, as_json, Parser):
    up = verb("update", "change the service's options (Cosmos service update)")
    usub = up.add_subparsers(dest="update_verb", metavar="<command>", parser_class=Parser)
    us = usub.add_parser("start", help="apply new options (merged with the current ones unless --replace)",
                         parents=[common, as_json])
    us.add_argument("--options", metavar="FILE", required=True, help="options JSON file")
    us.add_argument("--replace", action="store_true", help="replace all options instead of merging")
    us.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    st = usub.add_parser("status", help="progress of the update (the deploy plan)", parents=[common, as_json])
    st.add_argument("--watch", action="store_true", help="follow until COMPLETE/ERROR")
    st.add_argument("--timeout", type=float, help="with --watch: give up after this many seconds (exit 3)")
    return up


_VERBS = {"status": _status, "nodes": _nodes, "add-device": _add_device, "plan": _plan, "preview": _preview,
          "endpoints": _endpoints, "install": _install, "uninstall": _uninstall, "describe": _describe,
          "update": _update}
_ALIASES = {"plans": "plan"}


def _verb_of(args: list[str]) -> str | None:
    """The verb (first word that is not an option or --name's value), if it is a known one."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--name":
            skip = True
            continue
        if arg.startswith("-"):
            continue
        arg = _ALIASES.get(arg, arg)
        return arg if arg in _VERBS else None
    return None


def main(argv=None, environ=None) -> int:
    """Run one command; returns the exit code. ``environ`` (default ``os.environ``) is where the
    DC/OS configuration variables are read."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [NOUN]:
        args = args[1:]
    # The protocol's self-description, answered before anything else is imported.
    if args in (["--info"], []):
        print(INFO)
        return errors.OK
    if args == ["--version"]:
        print(f"dcos-scaleio version {__version__}")
        return errors.OK
    if args[:1] == ["serve-repo"]:   # internal: the repository app `install` publishes (cli/publish.py)
        from .publish import serve
        return serve()
    if args == ["--config-schema"]:
        import json
        from .config import CONFIG_SCHEMA
        print(json.dumps(CONFIG_SCHEMA))
        return errors.OK
    try:
        parser, groups = _parser(_verb_of(args))
        try:
            ns = parser.parse_args(args)
        except SystemExit as exc:   # -h/--help
            return int(exc.code or 0)
        if ns.version:
            print(f"dcos-scaleio version {__version__}")
            return errors.OK
        if ns.verb is None:
            parser.print_help(sys.stderr)
            return errors.USAGE
        ns.verb = _ALIASES.get(ns.verb, ns.verb)
        for name, group in groups.items():
            if ns.verb == name and getattr(ns, f"{name}_verb", None) is None:
                group.print_help(sys.stderr)
                return errors.USAGE
        from . import commands
        return commands.run(ns, environ)
    except CliError as exc:
        sys.stdout.flush()
        print(exc.render(), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return errors.INTERRUPTED
    except BrokenPipeError:   # `dcos scaleio nodes | head`
        return errors.OK


if __name__ == "__main__":
    sys.exit(main())
