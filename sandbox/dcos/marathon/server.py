"""The sandbox's Marathon: ``/v2/apps`` and ``/v2/deployments`` over HTTP, apps run as real processes.

    marathon = Marathon(work_dir, task_env={...}).start()
    marathon.url                      # http://127.0.0.1:P (the Admin Router serves it at /marathon
                                      # and /service/marathon)
    marathon.apps_json()              # app dicts with their tasks (the Admin Router's resolver reads them)
    marathon.stop()                   # kills every task

REST (Marathon 1.x shapes; errors ``{"message": ...}``, 422 ``{"message", "details": [{"path", "errors"}]}``):

- ``GET /v2/apps[?embed=apps.tasks&embed=apps.lastTaskFailure&label=<selector>&id=<substring>]`` -> ``{"apps": [...]}``
- ``POST /v2/apps`` -> 201 app JSON with ``deployments: [{"id"}]`` (409 when the id exists)
- ``GET /v2/apps/<id>`` -> ``{"app": {..., "tasks": [...], "lastTaskFailure"}}``
- ``PUT|PATCH /v2/apps/<id>[?force=true&partialUpdate=false]`` -> 200 ``{"version", "deploymentId"}``
  (201 when it creates the app). The given fields replace the stored ones (``partialUpdate=false``:
  the body is the whole new definition). The running task is stopped, then the new one started
  (single-instance replacement, whatever ``upgradeStrategy`` says: see ../README.md, deviations).
- ``DELETE /v2/apps/<id>[?force=true]`` -> 200 ``{"version", "deploymentId"}``: the app is gone at
  once, its task is killed by the deployment.
- ``POST /v2/apps/<id>/restart``, ``GET /v2/apps/<id>/tasks``, ``DELETE /v2/apps/<id>/tasks`` (kill: the
  task is replaced), ``GET /v2/apps/<id>/versions``.
- An app with a deployment in progress is locked: PUT/PATCH/DELETE/restart without ``force=true``
  answer 409 with its ``deployments``; with it, the running deployment is cancelled.
- ``GET /v2/deployments`` -> ``[{"id", "version", "affectedApps", "affectedPods", "steps",
  "currentActions", "currentStep", "totalSteps"}]``; ``DELETE /v2/deployments/<id>``: rollback (a new
  deployment restoring the previous definition, or removing an app it created) -> 200
  ``{"version", "deploymentId"}``; with ``?force=true``: just cancel -> 202.
- ``GET /v2/info``, ``GET /v2/leader``, ``GET /ping``.

A deployment ends when its app's task runs and passes its health checks (or, for a removal or
``instances: 0``, when the task is gone). State lives in memory (Marathon keeps it in ZooKeeper);
the apps' processes run on this host, not through Mesos.
"""
from __future__ import annotations

import copy
import http.server
import json
import os
import pathlib
import threading
import traceback
import urllib.parse
import uuid

from ...httpd import ServedHTTP, threading_server
from .appdef import Invalid, matches_selector, normalize, normalize_id
from .tasks import AppRunner, iso_now

MAX_BODY = 4 * 1024 * 1024
VERSION = "1.7.236-sandbox"


class HttpError(Exception):
    def __init__(self, status: int, body, headers: dict | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _message(status: int, message: str, **extra) -> HttpError:
    return HttpError(status, {"message": message, **extra})


class _App:
    """One app's stored definition, its version history and its running version."""

    def __init__(self, definition: dict, version: str):
        self.definition = definition
        self.version = version
        self.versions = [version]
        self.runner: AppRunner | None = None
        self.op_lock = threading.Lock()       # serialises runner swaps between deployments
        self.last_scaling_at = version


class _Deployment:
    def __init__(self, app_id: str, action: str, version: str, previous: tuple[dict, str] | None):
        self.id = str(uuid.uuid4())
        self.app_id, self.action, self.version = app_id, action, version
        self.previous = previous              # (definition, version) before, None when it created the app
        self.cancelled = threading.Event()
        self.thread: threading.Thread | None = None
        self.goal = None                      # set once the runners are swapped: () -> reached?

    def reached(self) -> bool:
        return self.goal is not None and self.goal()

    def to_json(self) -> dict:
        actions = [{"action": self.action, "app": self.app_id}]
        return {"id": self.id, "version": self.version, "affectedApps": [self.app_id], "affectedPods": [],
                "steps": [{"actions": actions}],
                "currentActions": [dict(a, readinessCheckResults=[]) for a in actions],
                "currentStep": 1, "totalSteps": 1}


class Marathon(ServedHTTP):
    """Apps, deployments and the HTTP API. Thread-safe."""

    def __init__(self, work_dir, *, host: str = "127.0.0.1", port: int = 0, task_env: dict | None = None):
        if not host.startswith("127."):
            raise ValueError(f"Marathon binds loopback addresses only, not {host!r}")
        self.work_dir = pathlib.Path(work_dir)
        self.host, self.port = host, port
        # What every task's environment starts from (an agent passes its own environment on).
        self.task_env = dict(os.environ if task_env is None else task_env)
        self.task_env.setdefault("LIBPROCESS_IP", "127.0.0.1")
        self.framework_id = f"{uuid.uuid4()}-0000"
        self._lock = threading.RLock()
        self._apps: dict[str, _App] = {}
        self._deployments: dict[str, _Deployment] = {}
        self._retired: list[AppRunner] = []
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Marathon":
        if self.running:
            return self
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self._serve(threading_server((self.host, self.port), self._handler(_Handler)), "marathon")

    def stop(self) -> None:
        """Stop serving, cancel every deployment and kill every task."""
        self._stopping.set()
        self._stop_serving()
        with self._lock:
            deployments = list(self._deployments.values())
            apps = list(self._apps.values())
        for dep in deployments:
            dep.cancelled.set()
        for dep in deployments:
            if dep.thread is not None:
                dep.thread.join(timeout=60)
        for app in apps:
            with app.op_lock:
                if app.runner is not None:
                    app.runner.stop()
                    app.runner = None

    @property
    def url(self) -> str:
        return self._base_url("http", "Marathon is not started")

    # ------------------------------------------------------------------ views
    def _app_json(self, app: _App, *, tasks: bool, failure: bool) -> dict:
        out = copy.deepcopy(app.definition)
        runner = app.runner
        counts = runner.counts() if runner is not None and runner.version == app.version else \
            {"tasksRunning": 0, "tasksStaged": 0, "tasksHealthy": 0, "tasksUnhealthy": 0}
        out.update(version=app.version, versionInfo={"lastScalingAt": app.last_scaling_at,
                                                     "lastConfigChangeAt": app.version}, **counts)
        out["deployments"] = [{"id": d.id} for d in self._active() if d.app_id == app.definition["id"]]
        if tasks:
            out["tasks"] = runner.tasks_json() if runner is not None else []
        if failure and runner is not None and runner.last_failure is not None:
            out["lastTaskFailure"] = dict(runner.last_failure)
        return out

    def apps_json(self, *, tasks: bool = True, failure: bool = False) -> list[dict]:
        """Every app (sorted by id) as ``GET /v2/apps`` shows it, with its tasks by default."""
        with self._lock:
            return [self._app_json(self._apps[k], tasks=tasks, failure=failure) for k in sorted(self._apps)]

    def app_json(self, app_id: str) -> dict | None:
        with self._lock:
            app = self._apps.get(normalize_id(app_id))
            return self._app_json(app, tasks=True, failure=True) if app is not None else None

    def _active(self) -> list[_Deployment]:
        """Deployments in progress (caller holds ``_lock``). One whose goal is reached ends here and
        now, not at its thread's next poll: whoever saw the app healthy may update it at once."""
        for dep in [d for d in self._deployments.values() if d.reached()]:
            self._deployments.pop(dep.id, None)
        return list(self._deployments.values())

    def deployments_json(self) -> list[dict]:
        with self._lock:
            return [d.to_json() for d in self._active()]

    def runner(self, app_id: str) -> AppRunner | None:
        """The running version's runner (tests use it to find the task's process)."""
        with self._lock:
            app = self._apps.get(normalize_id(app_id))
            return app.runner if app is not None else None

    # ------------------------------------------------------------------ operations
    def _get(self, app_id: str) -> _App:
        app = self._apps.get(app_id)
        if app is None:
            raise _message(404, f"App '{app_id}' does not exist")
        return app

    def _check_unlocked(self, app_id: str, force: bool) -> None:
        active = [d for d in self._active() if d.app_id == app_id]
        if active and not force:
            raise _message(409, "App is locked by one or more deployments. Override with the option "
                                f"'?force=true'. View details at '/v2/deployments/{active[0].id}'.",
                           deployments=[{"id": d.id} for d in active])
        for dep in active:
            dep.cancelled.set()
            self._deployments.pop(dep.id, None)

    def create(self, body) -> dict:
        try:
            definition = normalize(body)
        except Invalid as exc:
            raise HttpError(422, {"message": "Object is not valid", "details": exc.details})
        with self._lock:
            if definition["id"] in self._apps:
                raise _message(409, f"An app with id [{definition['id']}] already exists.")
            app = _App(definition, iso_now())
            self._apps[definition["id"]] = app
            self._deploy(app, "StartApplication", None)
            return self._app_json(app, tasks=False, failure=False)

    def update(self, app_id: str, body, *, force: bool, partial: bool) -> tuple[int, dict]:
        app_id = normalize_id(app_id)
        with self._lock:
            existing = self._apps.get(app_id)
            if existing is None:
                return 201, self._created_by_put(app_id, body)
            if not isinstance(body, dict):
                raise HttpError(422, {"message": "Object is not valid",
                                      "details": [{"path": "/", "errors": ["error.expected.jsobject"]}]})
            merged = {**existing.definition, **body} if partial else dict(body)
            if partial:   # a field given in its older form replaces the stored newer one
                for old, new in (("ports", "portDefinitions"), ("uris", "fetch")):
                    if old in body and new not in body:
                        merged.pop(new, None)
            try:
                definition = normalize(merged, app_id)
            except Invalid as exc:
                raise HttpError(422, {"message": "Object is not valid", "details": exc.details})
            self._check_unlocked(app_id, force)
            previous = (existing.definition, existing.version)
            existing.definition, existing.version = definition, iso_now()
            existing.versions.append(existing.version)
            if definition["instances"] != previous[0]["instances"]:
                existing.last_scaling_at = existing.version
            dep = self._deploy(existing, "RestartApplication", previous)
            return 200, {"version": existing.version, "deploymentId": dep.id}

    def _created_by_put(self, app_id: str, body) -> dict:
        app = self.create(dict(body or {}, id=app_id) if isinstance(body, dict) else body)
        return {"version": app["version"], "deploymentId": app["deployments"][0]["id"]}

    def delete(self, app_id: str, *, force: bool) -> dict:
        app_id = normalize_id(app_id)
        with self._lock:
            app = self._get(app_id)
            self._check_unlocked(app_id, force)
            del self._apps[app_id]
            version = iso_now()
            dep = self._deploy(app, "StopApplication", (app.definition, app.version), version=version, remove=True)
            return {"version": version, "deploymentId": dep.id}

    def restart(self, app_id: str, *, force: bool) -> dict:
        app_id = normalize_id(app_id)
        with self._lock:
            app = self._get(app_id)
            self._check_unlocked(app_id, force)
            previous = (app.definition, app.version)
            app.version = iso_now()
            app.versions.append(app.version)
            dep = self._deploy(app, "RestartApplication", previous)
            return {"version": app.version, "deploymentId": dep.id}

    def kill_tasks(self, app_id: str) -> list[dict]:
        with self._lock:
            app = self._get(normalize_id(app_id))
            runner = app.runner
        killed = runner.tasks_json() if runner is not None else []
        if runner is not None:
            runner.kill_task("killed through the API")
        return killed

    def cancel_deployment(self, dep_id: str, *, force: bool) -> tuple[int, dict]:
        with self._lock:
            dep = self._deployments.pop(dep_id, None)
            if dep is None:
                raise _message(404, f"DeploymentPlan {dep_id} does not exist")
            dep.cancelled.set()
            if force:
                return 202, {}
            if dep.previous is None:   # it created the app: the rollback removes it
                app = self._apps.pop(dep.app_id, None)
                if app is None:
                    return 202, {}
                version = iso_now()
                back = self._deploy(app, "StopApplication", None, version=version, remove=True)
                return 200, {"version": version, "deploymentId": back.id}
            definition, _ = dep.previous
            app = self._apps.get(dep.app_id)
            if app is None:            # a removal rolled back: the app comes back
                app = _App(definition, iso_now())
                self._apps[dep.app_id] = app
            else:
                app.definition, app.version = definition, iso_now()
                app.versions.append(app.version)
            back = self._deploy(app, "RestartApplication", None)
            return 200, {"version": app.version, "deploymentId": back.id}

    # ------------------------------------------------------------------ deployments
    def _deploy(self, app: _App, action: str, previous, *, version: str | None = None,
                remove: bool = False) -> _Deployment:
        """Record a deployment and run it on its own thread (caller holds ``_lock``)."""
        dep = _Deployment(app.definition["id"], action, version or app.version, previous)
        self._deployments[dep.id] = dep
        definition, app_version = copy.deepcopy(app.definition), app.version
        dep.thread = threading.Thread(target=self._run_deployment, args=(dep, app, definition, app_version, remove),
                                      name=f"deployment-{dep.id[:8]}", daemon=True)
        dep.thread.start()
        return dep

    def _run_deployment(self, dep: _Deployment, app: _App, definition: dict, version: str, remove: bool) -> None:
        with app.op_lock:
            if dep.cancelled.is_set() or self._stopping.is_set():
                return
            # Single-instance replacement: the old task is gone before the new one starts.
            if app.runner is not None:
                app.runner.stop()
                app.runner = None
            if not remove and definition["instances"] >= 1:
                key = definition["id"].strip("/").replace("/", "_")
                runner = AppRunner(definition, version, self.work_dir / key, self.task_env)
                app.runner = runner.start()
            runner = app.runner
            dep.goal = (lambda: True) if remove or definition["instances"] == 0 else runner.ready
        while not dep.cancelled.wait(0.1):
            if dep.reached():
                break
        with self._lock:
            self._deployments.pop(dep.id, None)


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: Marathon
    # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "marathon-sandbox"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def _send(self, status: int, body, headers: dict | None = None) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            raise _message(413, f"Request bodies are limited to {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise _message(400, "Invalid JSON")

    def _handle(self) -> None:
        try:
            status, body, headers = self._route()
        except HttpError as err:
            status, body, headers = err.status, err.body, err.headers
        except Invalid as exc:
            status, body, headers = 422, {"message": "Object is not valid", "details": exc.details}, {}
        except ValueError as exc:
            status, body, headers = 400, {"message": str(exc)}, {}
        except OSError:
            raise
        except Exception as exc:   # a bug: answer 500 and keep serving
            traceback.print_exc()
            status, body, headers = 500, {"message": f"Internal error: {type(exc).__name__}"}, {}
        self._send(status, body, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _route(self):
        m = self.owner
        target = urllib.parse.urlsplit(self.path)
        path = target.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(target.query)
        force = (query.get("force") or ["false"])[-1].lower() == "true"
        method = self.command
        if path == "/ping" and method == "GET":
            return 200, "pong", {}
        if path == "/v2/info" and method == "GET":
            return 200, {"name": "marathon", "version": VERSION, "frameworkId": m.framework_id,
                         "leader": f"{m.host}:{m.port}", "elected": True,
                         "http_config": {"http_port": m.port}, "marathon_config": {"master": "sandbox"}}, {}
        if path == "/v2/leader" and method == "GET":
            return 200, {"leader": f"{m.host}:{m.port}"}, {}
        if path == "/v2/deployments" and method == "GET":
            return 200, m.deployments_json(), {}
        if path.startswith("/v2/deployments/") and method == "DELETE":
            status, body = m.cancel_deployment(path[len("/v2/deployments/"):], force=force)
            return status, body, {}
        if path == "/v2/apps":
            if method == "GET":
                return 200, {"apps": self._list_apps(query)}, {}
            if method == "POST":
                app = m.create(self._body())
                return 201, app, {"Location": f"/v2/apps{app['id']}"}
            raise _message(405, "Method not allowed")
        if path.startswith("/v2/apps/"):
            return self._app_route(path[len("/v2/apps"):], method, query, force)
        raise _message(404, f"Not found: {path}")

    def _list_apps(self, query) -> list[dict]:
        embed = set(query.get("embed") or [])
        apps = self.owner.apps_json(tasks="apps.tasks" in embed, failure="apps.lastTaskFailure" in embed)
        for selector in query.get("label") or []:
            apps = [a for a in apps if matches_selector(a.get("labels") or {}, selector)]
        for fragment in query.get("id") or []:
            apps = [a for a in apps if fragment in a["id"]]
        return apps

    def _app_route(self, rest: str, method: str, query, force: bool):
        m = self.owner
        for suffix in ("/tasks", "/restart", "/versions"):
            if rest.endswith(suffix) and len(rest) > len(suffix):
                app_id = rest[: -len(suffix)]
                if suffix == "/tasks" and method == "GET":
                    app = m.app_json(app_id)
                    if app is None:
                        raise _message(404, f"App '{normalize_id(app_id)}' does not exist")
                    return 200, {"tasks": app["tasks"]}, {}
                if suffix == "/tasks" and method == "DELETE":
                    return 200, {"tasks": m.kill_tasks(app_id)}, {}
                if suffix == "/restart" and method == "POST":
                    return 200, m.restart(app_id, force=force), {}
                if suffix == "/versions" and method == "GET":
                    with m._lock:
                        return 200, {"versions": list(reversed(m._get(normalize_id(app_id)).versions))}, {}
        if method == "GET":
            app = m.app_json(rest)
            if app is None:
                raise _message(404, f"App '{normalize_id(rest)}' does not exist")
            return 200, {"app": app}, {}
        if method in ("PUT", "PATCH"):
            partial = method == "PATCH" or (query.get("partialUpdate") or ["true"])[-1].lower() != "false"
            status, body = m.update(rest, self._body(), force=force, partial=partial)
            return status, body, {}
        if method == "DELETE":
            return 200, m.delete(rest, force=force), {}
        raise _message(405, "Method not allowed")
