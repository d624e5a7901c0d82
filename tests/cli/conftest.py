"""Fixtures for the CLI tests: one sandbox (1 agent, the real scheduler behind the real Admin Router)
shared by every CLI test module, a clean DC/OS CLI environment, and the built CLI binary.

``run_cli(*argv, env=...)`` calls ``dcos_scaleio.cli.main.main`` in-process and returns
``Result(code, out, err)``; ``run_binary(...)`` (tests/conftest.py) does the same through the shipped binary.
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
import shutil

import pytest

from support.cli_plugin import Result
from tests.cli.helpers import wait_for_service


@pytest.fixture(scope="package")
def up(tmp_path_factory, cli_binary):
    """A DC/OS-like sandbox (1 agent; ZooKeeper, Admin Router + IAM, Marathon, Cosmos) with the service
    installed the way users install it: ``dcos scaleio install --artifacts-url=...`` publishes the
    package the CLI carries (no repository is configured), Cosmos installs it, Marathon runs the
    scheduler. ``up.install_output`` is what install printed. Teardown uninstalls through the CLI and
    checks that the service is gone (exit 0, then status exit 9).

    info has dcos_url, dcos_ca_path, dcos_acs_token, users, agents, artifacts_url, options_file.
    """
    from dcos_scaleio.cli.main import main
    from dcos_scaleio.sandbox.up import SandboxUp, build_artifact
    with SandboxUp(agents=1, dcos=True, dev_executor=True, state_dir=tmp_path_factory.mktemp("cli-up"),
                   ready_timeout=120) as sandbox:
        # The mirror serves the scheduler; the package also names the executor and the CLI zip.
        framework = sandbox.world.mirror.directory / "framework"
        for path in (pathlib.Path(build_artifact("executor")["path"]), cli_binary["zip"]):
            for item in (path, path.with_name(path.name + ".sha256")):
                shutil.copyfile(item, framework / item.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCOS_")}
        env.update({"HOME": str(tmp_path_factory.mktemp("home")), "DCOS_URL": sandbox.info["dcos_url"],
                    "DCOS_ACS_TOKEN": sandbox.info["dcos_acs_token"], "DCOS_TLS_CA_PATH": sandbox.info["dcos_ca_path"]})
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["scaleio", "install", f"--options={sandbox.info['options_file']}", "--yes", "--no-wait",
                         f"--artifacts-url={sandbox.info['artifacts_url']}"], environ=env)
        assert code == 0, err.getvalue() + out.getvalue()
        sandbox.install_output = out.getvalue()
        wait_for_service(sandbox.info)
        yield sandbox
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["scaleio", "uninstall", "--yes", "--timeout", "90"], environ=env)
            gone = main(["scaleio", "status"], environ=env)
        assert (code, gone) == (0, 9), err.getvalue() + out.getvalue()
        assert "is uninstalled" in out.getvalue()


@pytest.fixture
def home(tmp_path):
    """An empty HOME (no ~/.dcos of the machine leaks into a test)."""
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def base_env(home):
    """The process environment minus every DC/OS variable, with a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCOS_")}
    env["HOME"] = str(home)
    return env


@pytest.fixture
def cluster_env(up, base_env):
    """Environment variables the Go DC/OS CLI passes to plugins, for the sandbox's cluster."""
    env = dict(base_env)
    env.update({"DCOS_URL": up.info["dcos_url"], "DCOS_ACS_TOKEN": up.info["dcos_acs_token"],
                "DCOS_TLS_CA_PATH": up.info["dcos_ca_path"]})
    return env


@pytest.fixture
def run_cli(capsys):
    """In-process: main(argv, environ) with stdout/stderr captured."""
    from dcos_scaleio.cli.main import main

    def run(*argv, env) -> Result:
        capsys.readouterr()
        code = main(["scaleio", *argv], environ=env)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    return run
