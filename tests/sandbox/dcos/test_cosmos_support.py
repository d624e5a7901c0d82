"""Helpers for the Cosmos tests (no tests here): a Universe-style repository server, a sample package,
the RPC call with Cosmos's media types, and validation against the saved Cosmos RPC schemas."""
from __future__ import annotations

import base64
import copy
import http.server
import json
import pathlib
import threading

import pytest
import requests

SCHEMAS = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "schemas" / "cosmos-rpc"
REPO_TYPE = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"

TEMPLATE = """{
  "id": "{{service.name}}",
  "instances": 1,
  "cmd": "echo {{service.greeting}}",
  "cpus": {{service.cpus}},
  "mem": 32,
  "env": {"GREETING": "{{service.greeting}}"},
  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "api"}],
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_PACKAGE_NAME": "forged"}
}"""
CONFIG = {"type": "object", "properties": {"service": {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string", "default": "hello"}, "greeting": {"type": "string", "default": "hi"},
    "cpus": {"type": "number", "default": 0.1, "minimum": 0.01}}}}}


def sample_package(version="1.0.0-1", release=0, name="hello", **extra) -> dict:
    return {"packagingVersion": "4.0", "name": name, "version": version, "releaseVersion": release,
            "maintainer": "test@example.com", "description": f"{name} says hello", "tags": ["greeting", "test"],
            "framework": False, "postInstallNotes": "installed", "postUninstallNotes": "gone",
            "marathon": {"v2AppMustacheTemplate": base64.b64encode(TEMPLATE.encode()).decode()},
            "config": copy.deepcopy(CONFIG), "resource": {"assets": {"uris": {}}}, **extra}


class RepoServer:
    """Serves ``routes[path] = (status, content_type, body bytes)`` and records each request's headers."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.requests: list[dict] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                owner.requests.append({"path": self.path, "headers": dict(self.headers)})
                status, ctype, body = owner.routes.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, path: str, packages, content_type: str = REPO_TYPE, status: int = 200) -> str:
        body = packages if isinstance(packages, bytes) else json.dumps({"packages": packages}).encode()
        self.routes[path] = (status, content_type, body)
        return self.url + path

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def rpc(base: str, path: str, kind: str, body=None, ns: str = "package", version: str = "v1",
        content_type: str | None = None, accept: str | None = None, **kw) -> requests.Response:
    """POST like the DC/OS CLI does: ``<kind>-request`` v1 in, ``<kind>-response`` ``version`` out."""
    headers = {
        "Content-Type": content_type or f"application/vnd.dcos.{ns}.{kind}-request+json;charset=utf-8;version=v1",
        "Accept": accept or f"application/vnd.dcos.{ns}.{kind}-response+json;charset=utf-8;version={version}"}
    headers.update(kw.pop("headers", {}))
    return requests.post(base + path, data=json.dumps(body if body is not None else {}), headers=headers,
                         timeout=kw.pop("timeout", 30), **kw)


def check_schema(name: str, instance, version: str = "v1") -> None:
    """Validate ``instance`` against the saved Cosmos RPC schema (skips where the schemas are absent)."""
    path = SCHEMAS / version / "model" / f"{name}-schema.json"
    if not path.is_file():
        pytest.skip(f"{path} missing (../shared/schemas is only guaranteed in CI)")
    import jsonschema
    jsonschema.Draft4Validator(json.loads(path.read_text())).validate(instance)


def error_of(r: requests.Response, status: int, type_: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/vnd.dcos.package.error+json;charset=utf-8;version=v1"
    body = r.json()
    assert body["type"] == type_, body
    assert isinstance(body["message"], str) and body["message"]
    return body
