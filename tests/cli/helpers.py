"""Helpers shared by the CLI tests (imported as ``tests.cli.helpers``)."""
from __future__ import annotations

import json
import pathlib
import ssl
import time
import urllib.error
import urllib.request


def write_cluster(dcos_dir: pathlib.Path, cluster_id: str, toml: str, *, attached=False, mode=0o600):
    """A DC/OS CLI cluster folder ``<dcos_dir>/clusters/<id>/dcos.toml`` (+ ``attached``)."""
    folder = dcos_dir / "clusters" / cluster_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dcos.toml"
    path.write_text(toml)
    path.chmod(mode)
    if attached:
        (folder / "attached").write_text("")
    return path


def cluster_toml(url: str, token: str | None, ca: str | None, *, name="sandbox", service="scaleio") -> str:
    lines = ["[core]", f'dcos_url = "{url}"']
    if token:
        lines.append(f'dcos_acs_token = "{token}"')
    if ca:
        lines.append(f'ssl_verify = "{ca}"')
    lines += ["[cluster]", f'name = "{name}"', "[scaleio]", f'service_name = "{service}"']
    return "\n".join(lines) + "\n"


def api_get(info: dict, path: str, token: str | None = None, prefix: str = "/service/scaleio"):
    """``(status, json)`` of ``GET <dcos_url><prefix><path>`` (the API itself, for comparisons)."""
    ctx = ssl.create_default_context(cafile=info["dcos_ca_path"])
    req = urllib.request.Request(f"{info['dcos_url']}{prefix}{path}",
                                 headers={"Authorization": f"token={token or info['dcos_acs_token']}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for_service(info: dict, timeout: float = 120.0) -> None:
    """Until Marathon has no deployment in progress and the installed scheduler answers its deploy
    plan through the Admin Router."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, deployments = api_get(info, "/v2/deployments", prefix="/service/marathon")
            if status == 200 and not deployments:
                break
        except (OSError, ValueError):
            pass
        assert time.monotonic() < deadline, "Marathon's deployment did not finish"
        time.sleep(0.5)
    while True:
        try:
            status, _ = api_get(info, "/v1/plans/deploy")
            if status in (200, 202, 417):
                return
        except (OSError, ValueError):
            pass
        assert time.monotonic() < deadline, "the installed scheduler did not answer through the Admin Router"
        time.sleep(0.5)
