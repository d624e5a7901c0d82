"""The CLI carries the package it belongs to: when no repository configured in Cosmos offers
``scaleio``, ``dcos scaleio install --artifacts-url=URL`` publishes it.

1. The package source (``universe/``, bundled in the binary as ``_internal/dcos_scaleio/universe``)
   is filled in by ``packaging/universe.py``'s :func:`build_entry` (U's module, bundled too), with the
   artifacts' sha256 read from ``<URL>/<artifact>.sha256`` (the scheduler and executor tarballs are
   required, the CLI zip optional): a one-package v4 repository index.
2. A small Marathon app ``/scaleio-universe`` serves that index: it fetches the CLI zip from the
   same mirror and runs ``bin/dcos-scaleio scaleio serve-repo`` (this very program), with the index
   in its environment (``SCALEIO_REPO_JSON``, base64), on ``$PORT0``, health-checked on ``/repo.json``.
3. Once its task is healthy, the repository ``scaleio-embedded`` = ``http://<task host>:<port>/repo.json``
   is added to Cosmos at index 0 (replacing an older one of that name).
"""
from __future__ import annotations

import base64
import functools
import json
import os
import pathlib
import sys
import time

from . import errors
from .errors import CliError

REPO_APP_ID = "/scaleio-universe"
REPO_NAME = "scaleio-embedded"
REPO_ENV = "SCALEIO_REPO_JSON"
READY_TIMEOUT_S = 120.0


def package_source() -> pathlib.Path:
    """The Universe package source: bundled in the frozen binary, else the checkout's ``universe/``."""
    if getattr(sys, "frozen", False):
        return pathlib.Path(sys._MEIPASS) / "dcos_scaleio" / "universe"
    return pathlib.Path(__file__).resolve().parent.parent / "universe"


@functools.cache
def _builder():
    """``packaging/universe.py`` (U's): a top-level module in the binary, a file in a checkout. Its
    constants name the artifacts and the repository media type."""
    if getattr(sys, "frozen", False):
        import universe
        return universe
    import importlib.util
    path = pathlib.Path(__file__).resolve().parent.parent / "packaging" / "universe.py"
    spec = importlib.util.spec_from_file_location("scaleio_universe_builder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def artifact_digests(http, artifacts_url: str) -> dict:
    """``{file: sha256}`` from the mirror's ``.sha256`` files (sha256sum format)."""
    builder = _builder()
    shas = {}
    for name in builder.REQUIRED_ARTIFACTS + (builder.CLI_ZIP,):
        resp = http.request("GET", f"{artifacts_url}/{name}.sha256")
        if resp.status == 404 and name == builder.CLI_ZIP:
            continue
        if resp.status != 200:
            raise CliError(errors.VALIDATION, f"--artifacts-url: {artifacts_url}/{name}.sha256 answered {resp.status}",
                           "Point --artifacts-url at a mirror of build/artifacts (make artifacts cli).")
        digest = resp.text.split()[0] if resp.text.split() else ""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise CliError(errors.VALIDATION, f"{artifacts_url}/{name}.sha256 is not in sha256sum format")
        shas[name] = digest
    return shas


def repository_index(artifacts_url: str, shas: dict) -> dict:
    builder = _builder()
    try:
        entry, _ = builder.build_entry(artifacts_url, shas, source=package_source())
    except builder.BuildError as exc:
        raise CliError(errors.VALIDATION, f"cannot publish the embedded package: {exc}")
    return {"packages": [entry]}


def repo_app(index: dict, artifacts_url: str) -> dict:
    """The Marathon app that serves ``index`` (runs this CLI from the mirror's zip)."""
    return {
        "id": REPO_APP_ID, "instances": 1, "cpus": 0.1, "mem": 128,
        "cmd": "chmod +x bin/dcos-scaleio && exec bin/dcos-scaleio scaleio serve-repo",
        "env": {REPO_ENV: base64.b64encode(json.dumps(index).encode()).decode("ascii")},
        "fetch": [{"uri": f"{artifacts_url}/{_builder().CLI_ZIP}", "extract": True, "cache": False}],
        "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
        "healthChecks": [{"protocol": "HTTP", "path": "/repo.json", "portIndex": 0, "gracePeriodSeconds": 60,
                          "intervalSeconds": 5, "timeoutSeconds": 5, "maxConsecutiveFailures": 3}],
        "upgradeStrategy": {"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
        "labels": {"DCOS_SCALEIO_EMBEDDED_REPO": "true"},
    }


def _marathon(ctx, method: str, path: str, body: dict | None = None):
    url = f"{ctx.config.require_dcos_url()}/service/marathon/v2/apps{path}"
    return ctx.http.request(method, url, json=body)


def _deploy_app(ctx, app: dict) -> None:
    resp = _marathon(ctx, "GET", REPO_APP_ID)
    if resp.status == 404:
        ctx.http.check(_marathon(ctx, "POST", "", app), ok=(200, 201))
    else:
        ctx.http.check(resp)
        ctx.http.check(_marathon(ctx, "PUT", f"{REPO_APP_ID}?force=true", app), ok=(200, 201))


def _wait_healthy(ctx, index_b64: str) -> str:
    """``http://host:port/repo.json`` of the app's task once it runs this index and is healthy."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no task yet"
    while time.monotonic() < deadline:
        resp = _marathon(ctx, "GET", REPO_APP_ID)
        ctx.http.check(resp)
        app = resp.json().get("app") or {}
        current = (app.get("env") or {}).get(REPO_ENV) == index_b64
        for task in app.get("tasks") or []:
            healthy = all(h.get("alive") for h in task.get("healthCheckResults") or [{"alive": False}])
            if current and task.get("state") == "TASK_RUNNING" and healthy and task.get("ports"):
                return f"http://{task['host']}:{task['ports'][0]}/repo.json"
            last = f"task {task.get('state')}, healthy={healthy}"
        failure = app.get("lastTaskFailure") or {}
        if failure.get("message"):
            last += f"; last failure: {failure['message']}"
        time.sleep(0.5)
    raise CliError(errors.UNAVAILABLE, f"the package repository app {REPO_APP_ID} did not become healthy within "
                                       f"{READY_TIMEOUT_S:.0f} s ({last})",
                   "Check that --artifacts-url serves the CLI zip and the app's logs in Marathon.")


def publish(ctx, cosmos, artifacts_url: str | None) -> None:
    """Make Cosmos offer the embedded package (see the module docstring). Prints what it does."""
    if not artifacts_url:
        raise CliError(errors.NOT_FOUND, "no package repository configured in Cosmos offers 'scaleio'",
                       "Pass --artifacts-url=<mirror of build/artifacts> to publish the package this CLI carries, "
                       "or add a repository with `dcos package repo add --index=0 <name> <url>`.")
    artifacts_url = artifacts_url.rstrip("/")
    shas = artifact_digests(ctx.http, artifacts_url)
    cli_zip = _builder().CLI_ZIP
    if cli_zip not in shas:
        raise CliError(errors.VALIDATION, f"{artifacts_url}/{cli_zip} is needed to serve the package repository",
                       "Build it with `make cli` and put it on the mirror.")
    index = repository_index(artifacts_url, shas)
    app = repo_app(index, artifacts_url)
    print(f"No repository offers 'scaleio': publishing the package this CLI carries "
          f"({index['packages'][0].get('version')}) as the Marathon app {REPO_APP_ID}.")
    _deploy_app(ctx, app)
    uri = _wait_healthy(ctx, app["env"][REPO_ENV])
    if any(r.get("name") == REPO_NAME for r in cosmos.repositories()):
        cosmos.delete_repository(REPO_NAME)
    cosmos.add_repository(REPO_NAME, uri, 0)
    print(f"Added the package repository {REPO_NAME} ({uri}) to Cosmos at index 0.")


def serve(port: int | None = None) -> int:
    """``dcos-scaleio scaleio serve-repo``: serve the index in ``$SCALEIO_REPO_JSON`` (base64) at
    ``/repo.json`` (and ``/``) on ``$PORT0``, with the v4 repository media type, until killed."""
    import http.server
    media_type = _builder().REPO_MEDIA_TYPE
    body = base64.b64decode(os.environ[REPO_ENV])
    json.loads(body)   # refuse to serve garbage
    port = port or int(os.environ.get("PORT0") or os.environ.get("PORT_HTTP") or 0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] not in ("/", "/repo.json", "/repo"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, fmt, *args):
            sys.stderr.write("repo: " + (fmt % args) + "\n")

    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"serving the scaleio package repository on port {server.server_address[1]}", flush=True)
    server.serve_forever()
    return errors.OK
