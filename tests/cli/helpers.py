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
    plan through the Admin Router (``timeout`` for both together)."""
    from support.waiting import wait_for

    def read(path, prefix):
        try:
            return api_get(info, path, prefix=prefix)
        except (OSError, ValueError):   # not up yet, or an answer that is not JSON
            return None, None

    def deployed():
        status, deployments = read("/v2/deployments", "/service/marathon")
        return status == 200 and not deployments

    def serving():
        return read("/v1/plans/deploy", "/service/scaleio")[0] in (200, 202, 417)

    started = time.monotonic()
    wait_for(deployed, timeout, "Marathon's deployment to finish", interval=0.5)
    wait_for(serving, max(0.0, timeout - (time.monotonic() - started)),
             "the installed scheduler to answer through the Admin Router", interval=0.5)
