"""The sandbox's Cosmos: the DC/OS package manager's RPC API over HTTP, on loopback.

    cosmos = Cosmos(marathon_url, mesos_url="http://127.0.0.1:5050").start()
    cosmos.mount(admin_router)     # /package, /cosmos (-> /service/...), /capabilities
    cosmos.stop()

Endpoints (all POST but ``GET /capabilities``; request ``Content-Type`` and ``Accept`` as in
:mod:`.media`; answers in the negotiated ``...-response+json;charset=utf-8;version=vN``):

================================  ==========================  =========================
path                              request kind (v1)           response versions
================================  ==========================  =========================
/package/repository/add           package.repository.add      v1 ``{repositories}``
/package/repository/list          package.repository.list     v1 ``{repositories}``
/package/repository/delete        package.repository.delete   v1 ``{repositories}``
/package/describe                 package.describe            v3, v2 ``{package}``
/package/list-versions            package.list-versions       v1 ``{results}``
/package/search                   package.search              v1 ``{packages}``
/package/render                   package.render              v1 ``{marathonJson}``
/package/install                  package.install             v2, v1 ``{packageName, packageVersion, appId, ...}``
/package/uninstall                package.uninstall           v1 ``{results}``
/package/list                     package.list                v1 ``{packages}``
/service/describe (/cosmos/...)   service.describe            v1 ``{package, resolvedOptions, ...}``
/service/update (/cosmos/...)     service.update              v1 ``{package, resolvedOptions, marathonDeploymentId}``
================================  ==========================  =========================

Errors: ``{"type", "message", "data"}`` as ``application/vnd.dcos.package.error+json;charset=utf-8;
version=v1`` with the real Cosmos status (see :mod:`.errors`). Cosmos itself does not authenticate:
the Admin Router in front does. It talks to Marathon directly, and to a service's scheduler (SDK
uninstall) at the address of the app's running task (``service_url`` overrides that).
"""
from __future__ import annotations

import http.server
import json
import logging

from dcos_scaleio.options.schema import deep_merge

from ...httpd import ServedHTTP, threading_server
from . import media
from .errors import CosmosError, package_not_installed
from .marathon import MarathonClient, normalize_app_id
from .packages import installed_package, package_details, render_app, resolve_options, user_options
from .repos import Repositories
from .uninstall import SdkUninstalls, is_sdk_app, marathon_uninstall

__all__ = ["Cosmos", "OPERATIONS"]

LOG = logging.getLogger(__name__)

# path -> (namespace, kind, response versions best first, method name)
OPERATIONS = {
    "/package/repository/add": ("package", "repository.add", ("v1",), "repository_add"),
    "/package/repository/list": ("package", "repository.list", ("v1",), "repository_list"),
    "/package/repository/delete": ("package", "repository.delete", ("v1",), "repository_delete"),
    "/package/describe": ("package", "describe", ("v3", "v2"), "describe"),
    "/package/list-versions": ("package", "list-versions", ("v1",), "list_versions"),
    "/package/search": ("package", "search", ("v1",), "search"),
    "/package/render": ("package", "render", ("v1",), "render"),
    "/package/install": ("package", "install", ("v2", "v1"), "install"),
    "/package/uninstall": ("package", "uninstall", ("v1",), "uninstall"),
    "/package/list": ("package", "list", ("v1",), "list"),
    "/service/describe": ("service", "describe", ("v1",), "service_describe"),
    "/service/update": ("service", "update", ("v1",), "service_update"),
}
V2_DESCRIBE_FIELDS = ("packagingVersion", "name", "version", "releaseVersion", "scm", "maintainer", "website",
                      "description", "framework", "preInstallNotes", "postInstallNotes", "postUninstallNotes",
                      "tags", "selected", "licenses", "minDcosReleaseVersion", "marathon", "resource", "config",
                      "command")
CAPABILITIES_TYPE = "application/vnd.dcos.capabilities+json;charset=utf-8;version=v1"


def _field(body: dict, name: str, kind, required: bool = False):
    value = body.get(name)
    if value is None:
        if required:
            raise CosmosError(400, "MalformedRequest", f"Attempt to decode value on failed cursor: field [{name}] "
                              "is required", {"field": name})
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise CosmosError(400, "MalformedRequest", f"Field [{name}] has the wrong type", {"field": name})
    return value


class Cosmos(ServedHTTP):
    def __init__(self, marathon_url: str, *, mesos_url: str | None = None, repositories=(),
                 service_url=None, host: str = "127.0.0.1", port: int = 0,
                 uninstall_poll_s: float = 1.0, uninstall_timeout_s: float = 900.0, fetch=None):
        if not (host == "localhost" or host.startswith("127.")):
            raise ValueError("Cosmos binds loopback addresses only")
        self.marathon = MarathonClient(marathon_url)
        self.mesos_url = mesos_url.rstrip("/") if mesos_url else None
        self.repositories = Repositories(repositories, **({"fetch": fetch} if fetch else {}))
        self.service_url = service_url or self._task_address
        self.sdk = SdkUninstalls(self.marathon, self.service_url, uninstall_poll_s, uninstall_timeout_s)
        self.host, self.port = host, port

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Cosmos":
        if self.running:
            return self
        return self._serve(threading_server((self.host, self.port), self._handler(_Handler)), "cosmos")

    def stop(self) -> None:
        self.sdk.stop()
        self._stop_serving()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def mount(self, router) -> None:
        """Register Cosmos's routes on an Admin Router (``register_prefix``), as DC/OS has them."""
        router.register_prefix("/package", self.url + "/package")
        router.register_prefix("/cosmos", self.url)
        router.register_prefix("/capabilities", self.url + "/capabilities")

    # ------------------------------------------------------------------ helpers
    def _task_address(self, app: dict) -> str | None:
        """Where the app's scheduler answers: its running task's host and service port."""
        from ..resolvers import resolve_from_apps
        app = app if "tasks" in app else (self.marathon.app(app["id"]) or {})
        labels = app.get("labels") or {}
        name = labels.get("DCOS_SERVICE_NAME") or app.get("id", "").strip("/")
        return resolve_from_apps(name, [dict(app, labels={**labels, "DCOS_SERVICE_NAME": name})])

    def _package_apps(self, name: str | None = None, app_id: str | None = None) -> list[dict]:
        out = []
        for app in self.marathon.apps():
            labels = app.get("labels") or {}
            if "DCOS_PACKAGE_NAME" not in labels:
                continue
            if name is not None and labels["DCOS_PACKAGE_NAME"] != name:
                continue
            if app_id is not None and normalize_app_id(app["id"]) != normalize_app_id(app_id):
                continue
            out.append(app)
        return out

    def _installed_app(self, app_id: str) -> tuple[dict, dict]:
        app = self.marathon.app(app_id)
        if app is None:
            raise CosmosError(404, "MarathonAppNotFound",
                              f"Unable to locate service with marathon appId: [{normalize_app_id(app_id)}]",
                              {"appId": normalize_app_id(app_id)})
        pkg = installed_package(app)
        if pkg is None:
            raise CosmosError(400, "ServiceNotManagedByCosmos",
                              f"Service [{normalize_app_id(app_id)}] was not installed by Cosmos",
                              {"appId": normalize_app_id(app_id)})
        return app, pkg

    def _versions(self, name: str):
        versions = {}
        for _, packages in self.repositories.indexes():
            for p in packages:
                if p["name"] == name:
                    versions.setdefault(p["version"], p["releaseVersion"])
        return versions

    # ------------------------------------------------------------------ repositories
    def repository_list(self, body, version):
        return {"repositories": [r.json() for r in self.repositories.list()]}

    def repository_add(self, body, version):
        repos = self.repositories.add(_field(body, "name", str, True), _field(body, "uri", str, True),
                                      _field(body, "index", int))
        return {"repositories": [r.json() for r in repos]}

    def repository_delete(self, body, version):
        repos = self.repositories.delete(_field(body, "name", str), _field(body, "uri", str))
        return {"repositories": [r.json() for r in repos]}

    # ------------------------------------------------------------------ catalog
    def describe(self, body, version):
        pkg, _ = self.repositories.find(_field(body, "packageName", str, True), _field(body, "packageVersion", str))
        if version == "v2":
            pkg = {k: v for k, v in pkg.items() if k in V2_DESCRIBE_FIELDS}
        return {"package": pkg}

    def list_versions(self, body, version):
        name = _field(body, "packageName", str, True)
        versions = self._versions(name)
        if not versions:
            raise CosmosError(400, "PackageNotFound", f"Package [{name}] not found", {"packageName": name})
        return {"results": {v: str(rel) for v, rel in versions.items()}}

    def search(self, body, version):
        query = (_field(body, "query", str) or "").lower().replace("*", "")
        found: dict[str, dict] = {}
        for _, packages in self.repositories.indexes():
            for p in sorted(packages, key=lambda p: -p["releaseVersion"]):
                text = " ".join([p["name"], p.get("description", ""), *p.get("tags", [])]).lower()
                if query and query not in text:
                    continue
                entry = found.get(p["name"])
                if entry is None:
                    entry = found[p["name"]] = {
                        "name": p["name"], "currentVersion": p["version"], "versions": {},
                        "description": p.get("description", ""), "framework": bool(p.get("framework")),
                        "tags": list(p.get("tags", [])), "selected": bool(p.get("selected"))}
                    images = (p.get("resource") or {}).get("images")
                    if images:
                        entry["images"] = images
                entry["versions"].setdefault(p["version"], p["releaseVersion"])
        return {"packages": list(found.values())}

    def render(self, body, version):
        pkg, repo = self.repositories.find(_field(body, "packageName", str, True), _field(body, "packageVersion", str))
        app = render_app(pkg, _field(body, "options", dict), repo.uri, _field(body, "appId", str))
        return {"marathonJson": app}

    # ------------------------------------------------------------------ install / uninstall / list
    def install(self, body, version):
        pkg, repo = self.repositories.find(_field(body, "packageName", str, True), _field(body, "packageVersion", str))
        app = render_app(pkg, _field(body, "options", dict), repo.uri, _field(body, "appId", str))
        if self.marathon.create(app) is None:
            raise CosmosError(409, "PackageAlreadyInstalled", "Package is already installed",
                              {"packageName": pkg["name"], "appId": normalize_app_id(app["id"])})
        out = {"packageName": pkg["name"], "packageVersion": pkg["version"], "appId": normalize_app_id(app["id"])}
        if version == "v2":
            if pkg.get("postInstallNotes"):
                out["postInstallNotes"] = pkg["postInstallNotes"]
            cli = (pkg.get("resource") or {}).get("cli")
            if cli:
                out["cli"] = cli
        return out

    def uninstall(self, body, version):
        name = _field(body, "packageName", str, True)
        app_id = _field(body, "appId", str)
        apps = self._package_apps(name, app_id)
        if not apps:
            raise package_not_installed(name, normalize_app_id(app_id) if app_id else None)
        if len(apps) > 1 and not _field(body, "all", bool):
            ids = sorted(normalize_app_id(a["id"]) for a in apps)
            raise CosmosError(400, "AmbiguousAppId",
                              f"Multiple apps named [{name}] are installed: [{', '.join(ids)}]",
                              {"packageName": name, "appIds": ids})
        results = []
        for app in apps:
            if is_sdk_app(app):
                self.sdk.start(app)
            else:
                marathon_uninstall(self.marathon, app, self.mesos_url)
            pkg = installed_package(app) or {}
            result = {"packageName": name, "appId": normalize_app_id(app["id"]),
                      "packageVersion": (app.get("labels") or {}).get("DCOS_PACKAGE_VERSION", pkg.get("version", ""))}
            if pkg.get("postUninstallNotes"):
                result["postUninstallNotes"] = pkg["postUninstallNotes"]
            results.append(result)
        return {"results": results}

    def list(self, body, version):
        apps = self._package_apps(_field(body, "packageName", str), _field(body, "appId", str))
        out = []
        for app in apps:
            pkg = installed_package(app)
            if pkg is None:
                continue
            info = {"packageDefinition": package_details(pkg)}
            if pkg.get("resource"):
                info["resourceDefinition"] = pkg["resource"]
            out.append({"appId": normalize_app_id(app["id"]), "packageInformation": info})
        return {"packages": out}

    # ------------------------------------------------------------------ service
    def service_describe(self, body, version):
        app, pkg = self._installed_app(_field(body, "appId", str, True))
        opts = user_options(app)
        out = {"package": pkg, "upgradesTo": [], "downgradesTo": []}
        if opts is not None:
            out["userProvidedOptions"] = opts
            out["resolvedOptions"] = resolve_options(pkg, opts)
        return out

    def service_update(self, body, version):
        app_id = normalize_app_id(_field(body, "appId", str, True))
        replace = _field(body, "replace", bool, True)
        new = _field(body, "options", dict)
        requested = _field(body, "packageVersion", str)
        app, pkg = self._installed_app(app_id)
        if requested is not None and requested != pkg["version"]:
            raise CosmosError(400, "VersionUpgradeNotSupportedInOpen",
                              f"Version Upgrades are an Enterprise DC/OS feature only (installed {pkg['version']}, "
                              f"requested {requested})", {"requested": requested, "installed": pkg["version"]})
        if replace:
            opts = new or {}
        else:
            stored = user_options(app)
            if stored is None:
                raise CosmosError(400, "OptionsNotStored",
                                  f"The options of [{app_id}] were not stored: use replace=true", {"appId": app_id})
            opts = deep_merge(stored, new or {})
        source = (app.get("labels") or {}).get("DCOS_PACKAGE_SOURCE", "")
        rendered = render_app(pkg, opts, source)
        if normalize_app_id(rendered["id"]) != app_id:
            raise CosmosError(400, "AppIdChanged",
                              f"The new appId [{normalize_app_id(rendered['id'])}] differs from the installed "
                              f"[{app_id}]", {"newAppId": normalize_app_id(rendered["id"]), "oldAppId": app_id})
        if (app.get("env") or {}).get("SDK_UNINSTALL") == "true":
            # Under an SDK uninstall the app stays in uninstall mode with its new options (a level
            # changed after a refusal); the background uninstall keeps following it.
            rendered["env"] = dict(rendered.get("env") or {}, SDK_UNINSTALL="true")
        deployment = self.marathon.update(rendered, force=True)
        return {"package": pkg, "resolvedOptions": resolve_options(pkg, opts), "marathonDeploymentId": deployment}


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: Cosmos
    protocol_version = "HTTP/1.1"
    server_version = "cosmos-sandbox"

    def log_message(self, fmt, *args):
        LOG.debug("cosmos: " + fmt, *args)

    def _send(self, status: int, body, content_type: str) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err: CosmosError) -> None:
        self._send(err.status, err.body(), media.ERROR_TYPE)

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[len("/cosmos"):] if path.startswith("/cosmos/") else path

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        self._read_body()
        if self._path() == "/capabilities":
            self._send(200, {"capabilities": [{"name": "PACKAGE_MANAGEMENT"}, {"name": "SUPPORT_CLUSTER_REPORT"},
                                              {"name": "LOGGING"}]}, CAPABILITIES_TYPE)
        elif self._path() in OPERATIONS:
            self._error(CosmosError(405, "MethodNotAllowed", f"{self._path()} accepts POST only", {}))
        else:
            self._error(CosmosError(404, "NotFound", f"No such endpoint: {self._path()}", {}))

    def do_POST(self):
        raw = self._read_body()
        op = OPERATIONS.get(self._path())
        if op is None:
            return self._error(CosmosError(404, "NotFound", f"No such endpoint: {self._path()}", {}))
        ns, kind, versions, method = op
        try:
            media.check_content_type(self.headers.get("Content-Type"), ns, kind)
            version = media.negotiate(self.headers.get("Accept"), ns, kind, versions)
            try:
                body = json.loads(raw.decode("utf-8") or "null")
            except (UnicodeDecodeError, ValueError):
                raise CosmosError(400, "MalformedRequest", "The request body is not valid JSON", {}) from None
            if not isinstance(body, dict):
                raise CosmosError(400, "MalformedRequest", "The request body must be a JSON object", {})
            result = getattr(self.owner, method)(body, version)
        except CosmosError as err:
            return self._error(err)
        except Exception as exc:   # never drop the connection without an answer
            LOG.exception("cosmos %s failed", self._path())
            return self._error(CosmosError(500, "Unexpected", f"{type(exc).__name__}: {exc}", {}))
        self._send(200, result, media.response_type(ns, kind, version))
