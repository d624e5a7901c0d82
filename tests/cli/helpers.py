"""Helpers shared by the CLI tests (imported as ``tests.cli.helpers``)."""
from __future__ import annotations

import pathlib


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
