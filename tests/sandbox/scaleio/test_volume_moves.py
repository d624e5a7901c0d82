"""A volume that follows its task from one agent to another, end to end inside real agent roots: the
ScaleIO packages from the mirror dir, the gateway on the MDM agent, REX-Ray as a service (the package's
unit on a plain-Mesos Ubuntu agent, DC/OS's bundled dcos-rexray on a DC/OS CentOS agent) and dvdcli
mounting through the plugin socket. The mapping really moves and the data comes along; a reboot of
the first agent loses runtime state but not the persisted SDC configuration."""
import os
import sys

import pytest

from dcos_scaleio.sandbox.scaleio import packages
from dcos_scaleio.sandbox.scaleio.hostside_agents import make_agent, run
from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.scaleio.system import System

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

PW = "Scaleio123"
VERSION = "3.0-200.104"


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res.stdout


def rexray_config(gw_ip):
    return (f"libstorage:\n  service: scaleio\n  integration:\n    volume:\n      operations:\n"
            f"        mount:\n          preempt: true\n"
            f"scaleio:\n  endpoint: https://{gw_ip}:443/api\n  insecure: false\n  userName: admin\n"
            f"  password: {PW}\n  systemName: sys1\n  protectionDomainName: pd1\n  storagePoolName: sp1\n")


def write_in_agent(root, path, text):
    """Write a file as a task inside the agent would (the mount exists only in its namespace)."""
    ok(run(root, [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, text]))


def read_in_agent(root, path):
    return ok(run(root, [sys.executable, "-c", "import sys; print(open(sys.argv[1]).read(), end='')", path]))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("moves")
    state = base / "sio"
    state.mkdir(mode=0o700)
    pkgdir = base / "pkgs"
    catalog = packages.build_all(pkgdir, scaleio_versions=(VERSION,), mesos_versions=())
    block = 200 + os.getpid() % 50   # see plain_world in conftest.py
    ip_a, ip_b = f"127.{block}.245.1", f"127.{block}.246.1"
    disks = [{"name": "sdb", "size_gb": 200, "fs": None}]
    a = make_agent(base / "agents", "move-a", ip_a, state, os_family="ubuntu", disks=disks, share=[pkgdir])
    b = None
    try:
        b = make_agent(base / "agents", "move-b", ip_b, state, os_family="rhel", flavour="dcos", disks=disks,
                       share=[pkgdir])

        def pkg(family, comp):
            return str(pkgdir / catalog[f"scaleio/{VERSION}/{family}/{comp}"])
        ok(run(a, ["apt-get", "-y", "install", *packages.scaleio_depends("gateway", "ubuntu")]))
        ok(run(b, ["yum", "-y", "install", *packages.scaleio_depends("sdc", "rhel")]))
        # agent A: MDM (1_node) + SDS + SDC + gateway + REX-Ray/dvdcli packages
        ok(run(a, ["dpkg", "-i", pkg("ubuntu", "mdm")], env={"MDM_ROLE_IS_MANAGER": "1"}))
        for argv in (["--create_mdm_cluster", "--master_mdm_ip", ip_a, "--accept_license"],
                     ["--login", "--username", "admin", "--password", "admin"],
                     ["--set_password", "--old_password", "admin", "--new_password", PW],
                     ["--login", "--username", "admin", "--password", PW],
                     ["--rename_system", "--new_name", "sys1"],
                     ["--add_protection_domain", "--protection_domain_name", "pd1"],
                     ["--add_storage_pool", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1"]):
            ok(run(a, ["scli", *argv]))
        ok(run(a, ["dpkg", "-i", pkg("ubuntu", "sds")]))
        ok(run(a, ["scli", "--add_sds", "--sds_ip", ip_a, "--protection_domain_name", "pd1", "--sds_name", "sds-a",
                   "--storage_pool_name", "sp1", "--device_path", "/dev/sdb"]))
        ok(run(a, ["dpkg", "-i", pkg("ubuntu", "sdc")], env={"MDM_IP": ip_a}))
        ok(run(a, ["dpkg", "-i", pkg("ubuntu", "gateway")], env={"GATEWAY_ADMIN_PASSWORD": PW, "MDM_IP": ip_a}))
        ok(run(a, ["dpkg", "-i", str(pkgdir / catalog["rexray/0.11.4/ubuntu"]),
                   str(pkgdir / catalog["dvdcli/0.2.1/ubuntu"])]))
        a.write_text("/etc/rexray/config.yml", rexray_config(ip_a))
        ok(run(a, ["systemctl", "enable", "--now", "rexray"]))
        # agent B (DC/OS): only the SDC package; REX-Ray and dvdcli are DC/OS's own
        ok(run(b, ["rpm", "-Uvh", pkg("rhel", "sdc")], env={"MDM_IP": ip_a}))
        b.write_text(packages.DCOS_REXRAY_CONF, rexray_config(ip_a))
        ok(run(b, ["systemctl", "restart", "dcos-rexray"]))
        yield {"a": a, "b": b, "ip_a": ip_a, "ip_b": ip_b, "system": System.open(state, actor="test")}
    finally:
        if b is not None:
            b.destroy()
        a.destroy()


# Paths the packages and tools write inside agents; none may appear on the machine itself.
MACHINE_SENTINELS = ("/opt/emc/scaleio", "/etc/emc/scaleio", "/bin/emc/scaleio", "/etc/rexray/config.yml",
                     "/usr/bin/scli", "/run/docker/plugins/rexray.sock", "/var/lib/libstorage/volumes",
                     "/run/emc/scaleio", "/opt/mesosphere/etc/rexray.conf")


@pytest.fixture(scope="module", autouse=True)
def machine_untouched():
    before = {p: os.path.lexists(p) for p in MACHINE_SENTINELS}
    yield
    assert {p: os.path.lexists(p) for p in MACHINE_SENTINELS} == before


def sdc_id(system, ip):
    return next(s.id for s in system.sdcs() if s.ip == ip and s.connected)


def test_dcos_rexray_uses_the_dcos_config(cluster):
    b = cluster["b"]
    assert b.read_text("/etc/rexray/config.yml") == rexray_config(cluster["ip_a"])
    assert "SemVer: 0.11.2" in ok(run(b, ["/opt/mesosphere/bin/rexray", "version"]))
    assert ok(run(b, ["systemctl", "is-active", "dcos-rexray"])).strip() == "active"


def test_volume_follows_the_task_from_agent_a_to_agent_b(cluster):
    a, b, system = cluster["a"], cluster["b"], cluster["system"]
    dvd = ["--volumedriver=rexray", "--volumename=pgdata"]
    path = ok(run(a, ["dvdcli", "mount", *dvd, "--volumeopts=size=10"])).strip()
    assert path == "/var/lib/libstorage/volumes/pgdata/data"
    vol = system.volume(name="pgdata")
    assert vol.size_gb == 16 and vol.mapped_sdc_ids == (sdc_id(system, cluster["ip_a"]),)
    mounts = read_in_agent(a, "/proc/self/mountinfo")
    assert " /var/lib/libstorage/volumes/pgdata " in mounts
    write_in_agent(a, path + "/PG_VERSION", "9.6\n")
    # the task moves: agent A's executor is gone, agent B mounts the same volume (preempt)
    assert ok(run(b, ["/opt/mesosphere/bin/dvdcli", "mount", *dvd])).strip() == path
    assert system.volume(name="pgdata").mapped_sdc_ids == (sdc_id(system, cluster["ip_b"]),)
    assert read_in_agent(b, path + "/PG_VERSION") == "9.6\n"
    status = ok(run(a, ["rexray", "volume", "ls", "pgdata"]))
    assert "unavailable" in status
    ok(run(b, ["/opt/mesosphere/bin/dvdcli", "unmount", *dvd]))
    assert system.volume(name="pgdata").mapped_sdc_ids == ()
    assert " /var/lib/libstorage/volumes/pgdata " not in read_in_agent(b, "/proc/self/mountinfo")


def test_reboot_loses_runtime_state_but_keeps_the_persisted_sdc(cluster):
    a, system = cluster["a"], cluster["system"]
    ip_a = cluster["ip_a"]
    guid = next(s.guid for s in system.sdcs() if s.ip == ip_a)
    a.reboot()
    assert a.read_text("/run/emc/scaleio/mdms.json") is None         # the driver's memory is gone
    assert hosts.boot(a) == []                                       # every enabled unit comes back
    # the driver reloaded drv_cfg.txt (MDM_IP at install) and reconnected
    assert f"[0]-{ip_a}" in ok(run(a, ["/opt/emc/scaleio/sdc/bin/drv_cfg", "--query_mdms"]))
    assert ip_a in a.read_text("/run/emc/scaleio/links.json") and system.sdc(guid=guid).connected
    assert "Mode: 1_node" in ok(run(a, ["scli", "--query_cluster"]))
    assert ok(run(a, ["systemctl", "is-active", "rexray"])).strip() == "active"
    path = ok(run(a, ["dvdcli", "mount", "--volumedriver=rexray", "--volumename=pgdata"])).strip()
    assert read_in_agent(a, path + "/PG_VERSION") == "9.6\n"
    ok(run(a, ["dvdcli", "unmount", "--volumedriver=rexray", "--volumename=pgdata"]))
    ok(run(a, ["rexray", "volume", "rm", "pgdata"]))
    assert [v.name for v in system.volumes()] == []
