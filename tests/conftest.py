"""Suite-wide fixtures and markers. Folder-specific fixtures live in each folder's conftest.py."""
import os
import pathlib
import sys

import pytest

# Shared test frameworks (mesos_testfw, support) are imported by name from any test folder.
_TESTS = str(pathlib.Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(scope="session")
def cli_binary(tmp_path_factory):
    """The shipped CLI zip, built once per session (reused when its inputs are unchanged), unpacked
    as the DC/OS CLI does into a plugin ``env/``: ``{"binary", "zip", "sha256"}``."""
    from dcos_scaleio.sandbox.up import install_cli_plugin
    return install_cli_plugin(tmp_path_factory.mktemp("plugin") / "env")


@pytest.fixture
def run_binary(cli_binary):
    """``run_binary(*argv, env=..., timeout=60)`` -> ``Result``: ``dcos-scaleio scaleio <argv>``."""
    from support.cli_plugin import run_plugin

    def run(*argv, env, timeout=60):
        return run_plugin(cli_binary["binary"], argv, env=env, timeout=timeout)
    return run


def pytest_collection_modifyitems(config, items):
    # Tests that build isolated agent roots need root for mount namespaces. Say so loudly rather
    # than skipping: CI runs as root, so a failure here means the machine is not what we expect.
    if os.geteuid() != 0:
        for item in items:
            if "needs_root" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="needs root: isolated agent roots use mount namespaces"))
