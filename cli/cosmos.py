"""The Cosmos-backed verbs: ``install``, ``uninstall``, ``describe``, ``update start|status``.

Cosmos RPCs are POSTs with the versioned media types (dcos-ecosystem.md 2.2):
``Content-Type: application/vnd.dcos.<ns>.<kind>-request+json;charset=utf-8;version=v1`` and
``Accept: ...<kind>-response+json;charset=utf-8;version=vN``; errors are
``{"type", "message", "data"}``, mapped to exit codes by their type. Package RPCs live at
``<cosmos>/package/<kind>``, service RPCs at ``<dcos_url>/cosmos/service/<kind>`` (or
``<package.cosmos_url>/service/<kind>`` when Cosmos is configured directly).
"""
from __future__ import annotations

import copy
import json
import sys

from . import errors, render
from .errors import CliError

PACKAGE_NAME = "scaleio"

# Cosmos error type -> exit code (the rest by HTTP status, see Http.error_for).
ERROR_CODES = {
    "PackageNotFound": errors.NOT_FOUND, "VersionNotFound": errors.NOT_FOUND,
    "PackageNotInstalled": errors.NOT_INSTALLED, "MarathonAppNotFound": errors.NOT_INSTALLED,
    "JsonSchemaMismatch": errors.VALIDATION, "OptionsNotAllowed": errors.VALIDATION,
    "AppIdChanged": errors.VALIDATION, "OptionsNotStored": errors.VALIDATION,
    "VersionUpgradeNotSupportedInOpen": errors.VALIDATION, "InvalidPackageVersionForAdd": errors.VALIDATION,
    "PackageAlreadyInstalled": errors.ERROR, "AmbiguousAppId": errors.ERROR,
}


def media(ns: str, kind: str, direction: str, version: str) -> str:
    return f"application/vnd.dcos.{ns}.{kind}-{direction}+json;charset=utf-8;version={version}"


class Cosmos:
    def __init__(self, http, config):
        self.http = http
        self.config = config

    def _url(self, ns: str, kind: str) -> str:
        direct = self.config.get("package.cosmos_url")
        base = str(direct).rstrip("/") if direct else self.config.require_dcos_url()
        path = kind.replace(".", "/")
        if ns == "service":
            return f"{base}/service/{path}" if direct else f"{base}/cosmos/service/{path}"
        return f"{base}/package/{path}"

    def call(self, kind: str, body: dict, *, ns: str = "package", versions=("v1",)) -> dict:
        """POST one RPC; ``versions`` are the response versions accepted, best first."""
        accept = ",".join(media(ns, kind, "response", v) for v in versions)
        resp = self.http.request("POST", self._url(ns, kind), body=json.dumps(body).encode(),
                                 headers={"Content-Type": media(ns, kind, "request", "v1"), "Accept": accept})
        if resp.status == 200:
            return resp.json()
        raise self.error(resp)

    def error(self, resp) -> CliError:
        try:
            body = json.loads(resp.body)
        except ValueError:
            body = None
        kind = body.get("type") if isinstance(body, dict) else None
        if resp.status in (401, 403) or kind not in ERROR_CODES and not (isinstance(body, dict) and body.get("message")):
            return self.http.error_for(resp)
        from .http import field_errors
        code = ERROR_CODES.get(kind, errors.ERROR if resp.status < 500 else errors.UNAVAILABLE)
        return CliError(code, f"Cosmos: {body.get('message') or kind} ({kind or resp.status})",
                        details=field_errors(resp), hint=_HINTS.get(kind))

    # ------------------------------------------------------------------ RPCs
    def describe_package(self, version: str | None = None) -> dict:
        body = {"packageName": PACKAGE_NAME}
        if version:
            body["packageVersion"] = version
        return self.call("describe", body, versions=("v3", "v2"))

    def install(self, options: dict, version: str | None = None) -> dict:
        body = {"packageName": PACKAGE_NAME, "options": options}
        if version:
            body["packageVersion"] = version
        return self.call("install", body, versions=("v2", "v1"))

    def uninstall(self, app_id: str) -> dict:
        return self.call("uninstall", {"packageName": PACKAGE_NAME, "appId": app_id})

    def service_describe(self, app_id: str) -> dict:
        return self.call("describe", {"appId": app_id}, ns="service")

    def service_update(self, app_id: str, options: dict, replace: bool) -> dict:
        return self.call("update", {"appId": app_id, "options": options, "replace": replace}, ns="service")

    def repositories(self) -> list:
        return self.call("repository.list", {}).get("repositories", [])

    def add_repository(self, name: str, uri: str, index: int = 0) -> list:
        return self.call("repository.add", {"name": name, "uri": uri, "index": index}).get("repositories", [])

    def delete_repository(self, name: str) -> list:
        return self.call("repository.delete", {"name": name}).get("repositories", [])


_HINTS = {
    "PackageAlreadyInstalled": "Change its options with `dcos scaleio update start --options=FILE`, or install "
                               "another instance with a different service.name.",
    "PackageNotInstalled": "Nothing to do; `dcos package list` shows what is installed.",
    "AppIdChanged": "service.name cannot change after install: uninstall and install again.",
    "AmbiguousAppId": "Name the service with --name=<service>.",
}


def app_id(name: str) -> str:
    return "/" + name.strip("/")


# ---------------------------------------------------------------------- verbs
def run(ctx) -> int:
    ns = ctx.ns
    cosmos = Cosmos(ctx.http, ctx.config)
    if ns.verb == "install":
        return install(ctx, cosmos)
    if ns.verb == "uninstall":
        return uninstall(ctx, cosmos)
    if ns.verb == "describe":
        return describe(ctx, cosmos)
    if ns.verb == "update" and ns.update_verb == "start":
        return update_start(ctx, cosmos)
    return update_status(ctx)


def _service_name(ctx, options: dict | None = None) -> str:
    """``--name``, else the options' service.name, else the config's scaleio.service_name."""
    if getattr(ctx.ns, "name", None):
        return ctx.ns.name
    named = ((options or {}).get("service") or {}).get("name")
    return named or ctx.config.service_name()


def install(ctx, cosmos: Cosmos) -> int:
    from .commands import confirm, load_options_file, validate_options
    ns = ctx.ns
    options = load_options_file(ns.options) if ns.options else {}
    name = _service_name(ctx, options)
    if getattr(ns, "name", None):
        options = copy.deepcopy(options)
        options.setdefault("service", {})["name"] = name
    validate_options(options, ns.options or "the default options")
    try:
        described = cosmos.describe_package(ns.package_version)
    except CliError as exc:
        if exc.code != errors.NOT_FOUND:
            raise
        from .publish import publish
        publish(ctx, cosmos, ns.artifacts_url)
        described = cosmos.describe_package(ns.package_version)
    package = described.get("package", described)
    version = package.get("version")
    if package.get("preInstallNotes"):
        print(package["preInstallNotes"])
    confirm(f"Install {PACKAGE_NAME} {version} as service '{name}'?", ns.yes)
    result = cosmos.install(options, ns.package_version or version)
    print(f"Installing {result.get('packageName', PACKAGE_NAME)} {result.get('packageVersion', version)} "
          f"as {result.get('appId', app_id(name))}.")
    if result.get("postInstallNotes"):
        print(result["postInstallNotes"])
    if ns.no_wait:
        print(f"Follow the deployment with `dcos scaleio --name={name} status --watch`.")
        return errors.OK
    return _follow_deploy(ctx, name, ns.timeout)


def _follow_deploy(ctx, name: str, timeout) -> int:
    from .commands import plan_exit
    from .service import ServiceApi
    from .watch import follow
    api = ServiceApi(ctx.http, ctx.config, name)
    try:
        _, plan = follow(api, "deploy", timeout=timeout, interval=1.0,
                         tolerate=(errors.NOT_INSTALLED, errors.UNAVAILABLE, errors.NOT_FOUND))
    except KeyboardInterrupt:
        print(f"\nStopped watching; the deployment goes on (`dcos scaleio --name={name} status`).", file=sys.stderr)
        return errors.INTERRUPTED
    code = plan_exit(plan)
    if code == errors.OK:
        print(f"Service '{name}' is deployed.")
    else:
        print("The deploy plan is " + str(plan.get("status")) + (":" if plan.get("status") else ""), file=sys.stderr)
        for line in render.blocking(plan):
            print(f"  {line}", file=sys.stderr)
    return code


def uninstall(ctx, cosmos: Cosmos) -> int:
    from .commands import confirm
    ns = ctx.ns
    name = _service_name(ctx)
    confirm(f"Uninstall the service '{name}' (its uninstall options decide what is removed from the agents)?",
            ns.yes)
    result = cosmos.uninstall(app_id(name))
    for item in result.get("results", []):
        print(f"Uninstalling {item.get('packageName', PACKAGE_NAME)} {item.get('packageVersion', '')} "
              f"({item.get('appId', app_id(name))}).")
        if item.get("postUninstallNotes"):
            print(item["postUninstallNotes"])
    if ns.no_wait:
        return errors.OK
    return _follow_uninstall(ctx, name, ns.timeout)


def _follow_uninstall(ctx, name: str, timeout) -> int:
    """Until the Marathon app is gone (Cosmos deletes it once the uninstall plan is COMPLETE),
    showing the scheduler's plan while it answers."""
    import time
    from .service import ServiceApi
    from .watch import _LineView, StallDetector
    api = ServiceApi(ctx.http, ctx.config, name)
    marathon = f"{ctx.config.require_dcos_url()}/service/marathon/v2/apps{app_id(name)}"
    view = _LineView("uninstall", sys.stdout)
    stall = StallDetector()
    deadline = None if timeout is None else time.monotonic() + timeout
    plan = None
    try:
        while True:
            resp = ctx.http.request("GET", marathon)
            if resp.status == 404:
                print(f"Service '{name}' is uninstalled.")
                return errors.OK
            ctx.http.check(resp)
            app = resp.json().get("app") or {}
            env = app.get("env") or {}
            if app.get("deployments"):
                # Until Marathon has replaced it, the scheduler answering is the old one, and its plan
                # is the finished deploy plan, not the uninstall plan.
                view.waiting("Marathon is restarting the scheduler in uninstall mode")
            elif str(env.get("SDK_UNINSTALL", "")).lower() == "true":   # the scheduler runs its uninstall plan
                try:
                    _, plan = api.plan("deploy")
                    view.update(plan)
                    if stall.blocked(plan):
                        # A refused uninstall (e.g. volumes still exist at level software): Cosmos
                        # keeps waiting, the operator must act.
                        print(f"The uninstall of '{name}' is blocked:", file=sys.stderr)
                        for line in render.blocking(plan):
                            print(f"  {line}", file=sys.stderr)
                        print("Fix the cause and retry the step (`dcos scaleio plan force-restart deploy <phase>`), "
                              "or choose another uninstall.level with `dcos scaleio update start --options=FILE`.",
                              file=sys.stderr)
                        return errors.PLAN_ERROR
                except CliError as exc:
                    if exc.code not in (errors.NOT_INSTALLED, errors.UNAVAILABLE, errors.NOT_FOUND):
                        raise
                    view.waiting(exc.message)
            if deadline is not None and time.monotonic() >= deadline:
                print(f"The uninstall of '{name}' is not finished after {timeout:g} s.", file=sys.stderr)
                for line in render.blocking(plan or {}):
                    print(f"  {line}", file=sys.stderr)
                return errors.PLAN_ERROR if plan and plan.get("status") == "ERROR" else errors.PLAN_INCOMPLETE
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("\nStopped watching; the uninstall goes on.", file=sys.stderr)
        return errors.INTERRUPTED


def describe(ctx, cosmos: Cosmos) -> int:
    name = _service_name(ctx)
    doc = cosmos.service_describe(app_id(name))
    if ctx.ns.json:
        render.print_json(doc)
        return errors.OK
    from dcos_scaleio.options import redact
    package = doc.get("package") or {}
    lines = [f"{render.bold('service')}  {render.clean(name)}",
             f"{render.bold('package')}  {render.clean(package.get('name'))} {render.clean(package.get('version'))}"]
    if doc.get("upgradesTo"):
        lines.append(f"{render.bold('upgrades to')}  {', '.join(map(render.clean, doc['upgradesTo']))}")
    render.out(lines)
    for key, title in (("userProvidedOptions", "options given"), ("resolvedOptions", "resolved options")):
        if isinstance(doc.get(key), dict):
            print(f"{render.bold(title)} (secrets redacted; --json shows Cosmos's answer):")
            print(json.dumps(redact(doc[key]), indent=2))
    return errors.OK


def update_start(ctx, cosmos: Cosmos) -> int:
    from dcos_scaleio.options import deep_merge
    from .commands import confirm, load_options_file, validate_options
    ns = ctx.ns
    name = _service_name(ctx)
    options = load_options_file(ns.options)
    current = {} if ns.replace else (cosmos.service_describe(app_id(name)).get("userProvidedOptions") or {})
    # Validate what Cosmos will render: the stored options merged with the new ones (unless --replace).
    validate_options(deep_merge(current, options), ns.options)
    confirm(f"Update the options of '{name}' (the scheduler restarts with them)?", ns.yes)
    result = cosmos.service_update(app_id(name), options, ns.replace)
    if ns.json:
        render.print_json(result)
    else:
        print(f"Update of '{name}' started (Marathon deployment {result.get('marathonDeploymentId', '?')}).")
        print(f"Follow it with `dcos scaleio --name={name} update status --watch`.")
    return errors.OK


def update_status(ctx) -> int:
    """``update status [--watch]`` is ``status`` of the deploy plan, the plan an update runs."""
    from .commands import status
    ctx.ns.plan, ctx.ns.interval = "deploy", 1.0
    return status(ctx)
