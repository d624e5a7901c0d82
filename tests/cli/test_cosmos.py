"""The Cosmos-backed verbs against the sandbox's Cosmos and Marathon through the Admin Router.
(The package-scoped ``up`` fixture itself installs through ``dcos scaleio install``, publishing the
embedded package, and uninstalls at the end; end-to-end deploys are tests/e2e's.)"""
import json

import pytest

from dcos_scaleio.cli import errors
from tests.cli.helpers import wait_for_service

# needs_root: the sandbox isolates agent roots; timeout: the first test may wait for the artifacts to build.
pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(900)]


def test_install_published_the_package_the_cli_carries(up):
    out = up.install_output
    assert "publishing the package this CLI carries" in out
    assert "Added the package repository scaleio-embedded" in out
    assert "Installing scaleio " in out and "as /scaleio" in out


def test_install_validates_options_locally_first(run_cli, cluster_env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scaleio": {"mode": "bogus"}, "nope": 1}))
    r = run_cli("--name=other", "install", f"--options={bad}", "--yes", env=cluster_env)
    assert r.code == errors.VALIDATION
    assert "scaleio.mode:" in r.err and "nope: unknown option" in r.err
    assert "Installing" not in r.out


def test_install_again_is_refused_with_what_to_do(up, run_cli, cluster_env):
    r = run_cli("install", f"--options={up.info['options_file']}", "--yes", "--no-wait", env=cluster_env)
    assert r.code == errors.ERROR
    assert "PackageAlreadyInstalled" in r.err and "dcos scaleio update start" in r.err


def test_describe(run_cli, cluster_env, up):
    r = run_cli("describe", "--json", env=cluster_env)
    assert r.code == 0 and r.json()["package"]["name"] == "scaleio"
    r = run_cli("describe", env=cluster_env)
    assert r.code == 0 and "package  scaleio " in r.out
    password = json.loads(open(up.info["options_file"]).read())["scaleio"]["admin_password"]
    assert password not in r.out                     # secrets redacted in the human view


def test_not_installed_service(run_cli, cluster_env):
    r = run_cli("--name=ghost", "describe", env=cluster_env)
    assert r.code == errors.NOT_INSTALLED, r
    r = run_cli("--name=ghost", "uninstall", "--yes", env=cluster_env)
    assert r.code == errors.NOT_INSTALLED, r


def test_update_start_validates_then_updates(up, run_cli, cluster_env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scaleio": {"protection_domain": 7}}))
    r = run_cli("update", "start", f"--options={bad}", "--yes", env=cluster_env)
    assert r.code == errors.VALIDATION and "scaleio.protection_domain" in r.err
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"service": {"log_level": "DEBUG"}}))
    r = run_cli("update", "start", f"--options={good}", "--yes", env=cluster_env)
    assert r.code == 0, r.err
    assert "Update of 'scaleio' started" in r.out
    r = run_cli("describe", "--json", env=cluster_env)
    assert r.json()["userProvidedOptions"]["service"]["log_level"] == "DEBUG"
    wait_for_service(up.info)   # Marathon relaunched the scheduler with the new options


def test_install_without_a_repository_needs_an_artifacts_url(up, run_cli, cluster_env):
    """No repository offers the package and no --artifacts-url: say how to publish it. The repository
    list is put back afterwards."""
    from dcos_scaleio.cli.commands import Context
    from dcos_scaleio.cli.cosmos import Cosmos

    class Args:
        verbose = 0
    ctx = Context(Args(), cluster_env)
    cosmos = Cosmos(ctx.http, ctx.config)
    saved = cosmos.repositories()
    for repo in saved:
        cosmos.delete_repository(repo["name"])
    try:
        r = run_cli("--name=another", "install", f"--options={up.info['options_file']}", "--yes", env=cluster_env)
        assert r.code == errors.NOT_FOUND
        assert "no package repository configured in Cosmos offers 'scaleio'" in r.err and "--artifacts-url" in r.err
    finally:
        for n, repo in enumerate(saved):
            cosmos.add_repository(repo["name"], repo["uri"], n)
