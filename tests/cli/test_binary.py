"""The shipped CLI: the zip's layout for resource.json kind "zip", and the frozen binary run as the
DC/OS CLI runs a plugin (a clean environment, no Python), against the sandbox's Admin Router."""
import hashlib
import json
import socket
import time
import zipfile

import pytest

from dcos_scaleio.cli import errors
from dcos_scaleio.cli.main import INFO
from tests.cli.helpers import cluster_toml, write_cluster

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root,   # the sandbox isolates agent roots
              pytest.mark.timeout(900)]                    # the session may build the binary once


def test_zip_layout_and_sha256(cli_binary):
    path = cli_binary["zip"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert cli_binary["sha256"] == digest
    assert path.with_name(path.name + ".sha256").read_text() == f"{digest}  {path.name}\n"
    assert path.name == "dcos-scaleio-cli-linux-x86-64.zip"
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert (infos["bin/dcos-scaleio"].external_attr >> 16) & 0o111   # executable once extracted
    names = list(infos)
    assert all(n.startswith("bin/") for n in names)
    assert any(n.startswith("bin/_internal/libpython3") for n in names)   # onedir: nothing to unpack per run
    assert "bin/_internal/dcos_scaleio/schema/config.json" in names
    # The package this CLI belongs to, for `install` to publish (cli/publish.py).
    assert {"bin/_internal/dcos_scaleio/universe/package.json",
            "bin/_internal/dcos_scaleio/universe/marathon.json.mustache"} <= set(names)
    assert [n for n in names if "sandbox" in n.split("/")] == []
    assert not any(n.startswith("bin/_internal/dcos_scaleio/framework") for n in names)


def clean_env(tmp_path, **extra):
    """What a plugin gets from the DC/OS CLI at minimum: HOME, and no Python anywhere."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), **extra}


def test_protocol_flags_without_python(run_binary, tmp_path):
    env = clean_env(tmp_path)
    r = run_binary("--info", env=env)
    assert (r.code, r.out) == (0, INFO + "\n")
    r = run_binary("--config-schema", env=env)
    assert r.code == 0 and json.loads(r.out)["additionalProperties"] is False
    r = run_binary("--version", env=env)
    assert r.code == 0 and r.out.startswith("dcos-scaleio version")
    r = run_binary("status", "--help", env=env)
    assert r.code == 0 and "--watch" in r.out


@pytest.fixture
def dcos_dir(up, tmp_path):
    d = tmp_path / "dotdcos"
    write_cluster(d, "sandbox-id", cluster_toml(up.info["dcos_url"], up.info["dcos_acs_token"],
                                                up.info["dcos_ca_path"]), attached=True)
    return d


def test_status_through_the_cluster_config(up, run_binary, tmp_path, dcos_dir):
    env = clean_env(tmp_path, DCOS_DIR=str(dcos_dir))
    r = run_binary("status", env=env)
    assert r.code in (0, errors.PLAN_INCOMPLETE, errors.PLAN_ERROR), r.err
    assert r.out.startswith("deploy (") and ":[deps]" in r.out
    r = run_binary("status", "--json", env=env)
    assert {p["name"] for p in json.loads(r.out)["phases"]} >= {"mdm", "cluster"}
    r = run_binary("nodes", env=env)
    assert r.code == 0 and up.info["agents"][0]["hostname"] in r.out


def test_error_paths(up, run_binary, tmp_path, dcos_dir):
    env = clean_env(tmp_path, DCOS_DIR=str(dcos_dir))
    r = run_binary("nodes", "ghost.example", env=env)
    assert r.code == errors.NOT_FOUND and "unknown node 'ghost.example'" in r.err
    r = run_binary("--name=ghost", "status", env=env)
    assert r.code == errors.NOT_INSTALLED and "'ghost' is not installed" in r.err
    expired = up.front.mint("bootstrapuser", exp=int(time.time()) - 60)
    r = run_binary("status", env=dict(env, DCOS_ACS_TOKEN=expired))
    assert r.code == errors.AUTH and "expired" in r.err and "dcos auth login" in r.err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_binary("status", env=dict(env, DCOS_URL=f"https://127.0.0.1:{port}"))
    assert r.code == errors.UNREACHABLE and "connection refused" in r.err
    bad = tmp_path / "options.json"
    bad.write_text('{"scaleio": ')
    r = run_binary("preview", f"--options={bad}", env=env)
    assert r.code == errors.VALIDATION and "not valid JSON" in r.err


def test_cosmos_verbs_through_the_binary(up, run_binary, tmp_path, dcos_dir):
    env = clean_env(tmp_path, DCOS_DIR=str(dcos_dir))
    r = run_binary("describe", "--json", env=env)
    assert r.code == 0 and json.loads(r.out)["package"]["name"] == "scaleio", r.err
    r = run_binary("update", "status", env=env)
    assert r.code in (0, errors.PLAN_INCOMPLETE, errors.PLAN_ERROR) and r.out.startswith("deploy (")
    # The defaults alone: there is no default admin password, so install says which option to give
    # and sends nothing (no app for the name appears).
    r = run_binary("--name=defaults", "install", "--yes", "--no-wait", env=env)
    assert r.code == errors.VALIDATION, r.err + r.out
    assert "the default options are invalid" in r.err and "scaleio.admin_password: required" in r.err
    assert "Installing" not in r.out
    r = run_binary("--name=defaults", "describe", env=env)
    assert r.code == errors.NOT_INSTALLED, r.err
    # Not a terminal and no --yes: refuse instead of waiting for an answer nobody can type.
    r = run_binary("--name=second", "install", f"--options={up.info['options_file']}", env=env)
    assert r.code == errors.USAGE and "--yes" in r.err
