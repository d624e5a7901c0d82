"""Fixtures for the host-toolchain tests: provisioned, booted agent roots shared per test module."""
import subprocess

import pytest

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.agentroot import AgentRoot

DISKS = [{"name": "sdb", "size_gb": 100, "fs": None}, {"name": "sdc", "size_gb": 50, "fs": "ext4"},
         {"name": "sdd", "size_gb": 4, "fs": None}]


class Host:
    """A provisioned agent plus a shell-like helper that returns CompletedProcess."""

    def __init__(self, root: AgentRoot, family: str, pkgdir):
        self.root, self.family, self.pkgdir = root, family, pkgdir

    def __call__(self, *argv, env=None, input=None, timeout=60) -> subprocess.CompletedProcess:
        if env is not None:
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **env}
        return self.root.run(list(argv), env=env, input=input, timeout=timeout)

    def ok(self, *argv, **kw) -> subprocess.CompletedProcess:
        res = self(*argv, **kw)
        assert res.returncode == 0, f"{argv} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
        return res


def make_host(tmp_path_factory, family: str, name: str, flavour: str = "mesos") -> Host:
    pkgdir = tmp_path_factory.mktemp(f"pkgs-{family}")
    root = AgentRoot(tmp_path_factory.mktemp(f"state-{family}"), name, shared_dirs=[str(pkgdir)])
    hosts.provision(root, os_family=family, disks=DISKS, flavour=flavour)
    root.start()
    assert hosts.boot(root) == []
    return Host(root, family, pkgdir)


@pytest.fixture(scope="module")
def ubuntu(tmp_path_factory):
    host = make_host(tmp_path_factory, "ubuntu", "ubuntu-1")
    yield host
    host.root.destroy()


@pytest.fixture(scope="module")
def rhel(tmp_path_factory):
    host = make_host(tmp_path_factory, "rhel", "rhel-1", flavour="dcos")
    yield host
    host.root.destroy()
