"""The ScaleIO, REX-Ray and dvdcli packages installed and removed inside real agent roots, on both OS
families (Ubuntu with ScaleIO 3.x, CentOS with 2.x): install-time variables, files, units, services
listening where the real ones do, registration with the shared system, and what removal leaves."""
import hashlib
import os
import socket

import pytest
import requests

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.mirror import Mirror
from dcos_scaleio.sandbox.scaleio import packages
from dcos_scaleio.sandbox.scaleio.hostside_agents import make_agent, run
from dcos_scaleio.sandbox.scaleio.system import System

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

PW = "Scaleio123"
CASES = {"ubuntu": "3.0-200.104", "rhel": "2.0-14000.231"}


@pytest.fixture(scope="module")
def pkgdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sio-pkgs")
    return d, packages.build_all(d, scaleio_versions=tuple(CASES.values()), mesos_versions=("1.0.1",))


@pytest.fixture(scope="module", params=sorted(CASES))
def agent(request, tmp_path_factory, pkgdir):
    """One freshly booted agent of the family, attached to its own empty ScaleIO system."""
    family = request.param
    d, catalog = pkgdir
    base = tmp_path_factory.mktemp(f"pkg-{family}")
    state = base / "sio"
    state.mkdir(mode=0o700)
    ip = f"127.{200 + os.getpid() % 50}.{240 + sorted(CASES).index(family)}.1"   # see plain_world
    root = make_agent(base / "agents", f"pkg-{family}", ip, state, os_family=family, share=[d])
    system = System.open(state, actor="test")

    class Agent:
        pass
    a = Agent()
    a.family, a.version, a.root, a.ip, a.system = family, CASES[family], root, ip, system

    def pkg(comp):
        key = f"scaleio/{a.version}/{family}/{comp}" if comp in packages.pkgscripts.SCALEIO_COMPONENTS else comp
        return str(d / catalog[key])
    a.pkg = pkg
    a.install = (lambda path, **env: run(root, ["dpkg", "-i", path] if family == "ubuntu" else ["rpm", "-Uvh", path],
                                         env=env))
    a.name = lambda comp: packages.package_name(comp, family)
    a.remove = (lambda comp, **env: run(root, ["dpkg", "-r", a.name(comp)] if family == "ubuntu"
                                        else ["rpm", "-e", a.name(comp)], env=env))
    yield a
    system.close()
    root.destroy()


def installed(a, comp) -> bool:
    if a.family == "ubuntu":
        res = run(a.root, ["dpkg-query", "-W", "-f=${Status} ${Version}", a.name(comp)])
        return res.returncode == 0 and res.stdout.startswith("install ok installed") and a.version in res.stdout
    res = run(a.root, ["rpm", "-q", a.name(comp)])
    return res.returncode == 0 and a.version in res.stdout


def active(a, unit) -> bool:
    return run(a.root, ["systemctl", "is-active", unit]).stdout.strip() == "active"


def listening(ip, port) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res.stdout


def test_mirror_publishes_every_artifact_with_its_sha256(pkgdir):
    d, catalog = pkgdir
    names = set(catalog.values())
    assert "EMC-ScaleIO-sdc-2.0-14000.231.el7.x86_64.rpm" in names
    assert "EMC-ScaleIO-gateway-2.0-14000.231.x86_64.rpm" in names
    assert "EMC-ScaleIO-mdm-3.0-200.104.Ubuntu.16.04.x86_64.deb" in names
    assert "emc-scaleio-gateway_3.0-200.104_amd64.deb" in names
    assert {"rexray_0.11.4-1_amd64.deb", "rexray-0.11.4-1.x86_64.rpm", "dvdcli-0.2.1-x86_64.rpm",
            "libmesos_dvdi_isolator-1.0.1.so"} <= names
    assert b"com_emccode_mesos_DockerVolumeDriverIsolator" in (d / "libmesos_dvdi_isolator-1.0.1.so").read_bytes()
    mirror = Mirror(d).start()
    try:
        for name in names:
            assert mirror.sha256(name) == hashlib.sha256((d / name).read_bytes()).hexdigest()
        sdc = "EMC-ScaleIO-sdc-2.0-14000.231.el7.x86_64.rpm"
        assert requests.get(mirror.url_for(sdc), timeout=30).content == (d / sdc).read_bytes()
    finally:
        mirror.stop()


def test_packages_need_their_os_dependencies(agent):
    a = agent
    res = a.install(a.pkg("sds"))
    assert res.returncode != 0 and not installed(a, "sds")
    assert ("libaio1" if a.family == "ubuntu" else "libaio") in res.stdout + res.stderr
    deps = packages.scaleio_depends("gateway", a.family)
    ok(run(a.root, ["apt-get", "-y", "install", *deps] if a.family == "ubuntu" else ["yum", "-y", "install", *deps]))


def test_mdm_needs_its_role_then_runs_and_creates_the_cluster(agent):
    a = agent
    res = a.install(a.pkg("mdm"))
    assert res.returncode != 0 and "MDM_ROLE_IS_MANAGER" in res.stdout + res.stderr
    assert not installed(a, "mdm")
    ok(a.install(a.pkg("mdm"), MDM_ROLE_IS_MANAGER="1"))
    assert installed(a, "mdm") and active(a, "mdm") and listening(a.ip, 9011)
    assert "actor_role_is_manager=1" in a.root.read_text("/opt/emc/scaleio/mdm/cfg/conf.txt")
    assert not listening(a.ip, 6611)       # management opens once the cluster exists
    ok(run(a.root, ["scli", "--create_mdm_cluster", "--master_mdm_ip", a.ip, "--master_mdm_management_ip", a.ip,
                    "--master_mdm_name", "mdm1", "--accept_license", "--approve_certificate"]))
    ok(run(a.root, ["scli", "--login", "--username", "admin", "--password", "admin"]))
    ok(run(a.root, ["scli", "--set_password", "--old_password", "admin", "--new_password", PW]))
    assert a.system.cluster().created


def test_sds_listens_and_publishes_its_disks(agent):
    a = agent
    ok(a.install(a.pkg("sds")))
    assert installed(a, "sds") and active(a, "sds") and listening(a.ip, 7072)
    deadline_disks = {d.path: d for d in a.system.host_disks(a.ip)}
    assert not deadline_disks["/dev/sdb"].has_data and deadline_disks["/dev/sdc"].has_data
    ok(run(a.root, ["scli", "--login", "--username", "admin", "--password", PW]))
    ok(run(a.root, ["scli", "--add_protection_domain", "--protection_domain_name", "pd1"]))
    ok(run(a.root, ["scli", "--add_storage_pool", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1"]))
    ok(run(a.root, ["scli", "--add_sds", "--sds_ip", a.ip, "--protection_domain_name", "pd1", "--sds_name",
                    "sds-1", "--storage_pool_name", "sp1", "--device_path", "/dev/sdb"]))
    res = run(a.root, ["scli", "--add_sds_device", "--sds_name", "sds-1", "--device_path", "/dev/sdc",
                       "--storage_pool_name", "sp1"])
    assert res.returncode == 7 and "contains data" in res.stderr


def test_sdc_writes_drv_cfg_and_connects(agent):
    a = agent
    ok(a.install(a.pkg("sdc"), MDM_IP=a.ip))
    assert installed(a, "sdc") and active(a, "scini")
    assert "scini" in [line.split()[0] for line in ok(run(a.root, ["lsmod"])).splitlines()[1:]]
    path = "/bin/emc/scaleio/drv_cfg.txt" if a.version.startswith("2.") else "/etc/emc/scaleio/drv_cfg.txt"
    text = a.root.read_text(path)
    assert f"mdm {a.ip}" in text.splitlines()
    guid = next(line.split()[1] for line in text.splitlines() if line.startswith("ini_guid "))
    drv_cfg = "/opt/emc/scaleio/sdc/bin/drv_cfg"
    assert ok(run(a.root, [drv_cfg, "--query_guid"])).strip() == guid
    sdc = a.system.sdc(guid=guid)
    assert sdc.connected and sdc.ip == a.ip
    assert f"[0]-{a.ip}" in ok(run(a.root, [drv_cfg, "--query_mdms"]))


def test_lia_and_gateway_need_their_secrets(agent):
    a = agent
    res = a.install(a.pkg("lia"))
    assert res.returncode != 0 and "TOKEN" in res.stdout + res.stderr
    ok(a.install(a.pkg("lia"), TOKEN=PW))
    assert active(a, "lia") and listening(a.ip, 9099)
    conf = a.root.path("/opt/emc/scaleio/lia/cfg/conf.txt")
    assert (conf.stat().st_mode & 0o777) == 0o600 and PW not in conf.read_text()
    res = a.install(a.pkg("gateway"), MDM_IP=a.ip)
    assert res.returncode != 0 and "GATEWAY_ADMIN_PASSWORD" in res.stdout + res.stderr
    out = ok(a.install(a.pkg("gateway"), GATEWAY_ADMIN_PASSWORD=PW, MDM_IP=a.ip))
    assert "The EMC ScaleIO Gateway is running" in out and active(a, "scaleio-gateway")
    props = a.root.read_text("/opt/emc/scaleio/gateway/webapps/ROOT/WEB-INF/classes/gatewayUser.properties")
    assert f"mdm.ip.addresses={a.ip}" in props.splitlines() and PW not in props
    assert "ssl.port=443" in a.root.read_text("/opt/emc/scaleio/gateway/conf/catalina.properties")
    ca = a.system.state_dir / "tls" / "ca.pem"
    resp = requests.get(f"https://{a.ip}:443/api/login", auth=("admin", PW), verify=str(ca), timeout=30)
    assert resp.status_code == 200 and resp.text.startswith('"')


def test_rexray_and_dvdcli_packages(agent):
    a = agent
    ok(a.install(a.pkg(f"rexray/0.11.4/{a.family}")))
    ok(a.install(a.pkg(f"dvdcli/0.2.1/{a.family}")))
    assert "SemVer: 0.11.4" in ok(run(a.root, ["rexray", "version"]))
    assert "SemVer: 0.2.1" in ok(run(a.root, ["dvdcli", "version"]))
    unit = a.root.read_text(("/lib" if a.family == "ubuntu" else "/usr/lib") + "/systemd/system/rexray.service")
    assert "Wants=scini.service" in unit and "After=network.target scini.service" in unit
    # no config yet: the service refuses to start
    assert run(a.root, ["systemctl", "start", "rexray"]).returncode != 0
    ok(run(a.root, ["rpm", "-e", "rexray"] if a.family == "rhel" else ["dpkg", "-r", "rexray"]))
    assert a.root.read_text("/usr/bin/rexray") is None


def test_upgrade_keeps_the_service_running_without_confirmation(agent, pkgdir):
    """rpm -U of a newer build: the old package's removal scripts neither ask for I_AM_SURE nor stop it."""
    a = agent
    newer = [v for v in CASES.values() if v > a.version]
    if not newer:
        pytest.skip(f"no build newer than {a.version} in this test's mirror")
    d, catalog = pkgdir
    ok(a.install(str(d / catalog[f"scaleio/{newer[0]}/{a.family}/sds"])))
    res = run(a.root, ["rpm", "-q", a.name("sds")] if a.family == "rhel"
              else ["dpkg-query", "-W", "-f=${Version}", a.name("sds")])
    assert newer[0] in res.stdout
    assert active(a, "sds") and listening(a.ip, 7072)
    assert "sds-1" in ok(run(a.root, ["scli", "--query_all_sds"]))


def test_kernel_upgrade_without_scini_module_then_reboot(agent):
    """A kernel the SDC package has no module for: after the reboot scini cannot load, the rest comes back."""
    a = agent
    kernel_pkg = "linux-image-5.4.0-99-generic" if a.family == "ubuntu" else "kernel-3.10.0-1199.el7.x86_64"
    ok(run(a.root, ["apt-get", "-y", "install", kernel_pkg] if a.family == "ubuntu"
           else ["yum", "-y", "install", kernel_pkg]))
    a.root.reboot()
    failed = hosts.boot(a.root)
    assert failed == ["scini.service"]
    assert not active(a, "scini") and active(a, "mdm") and active(a, "sds") and listening(a.ip, 443)
    log = a.root.read_text("/var/log/sandbox/scini.service.log") or ""
    assert "no driver for kernel" in log and "Module scini not found in directory /lib/modules/" in log
    assert "scini" not in ok(run(a.root, ["lsmod"]))
    res = run(a.root, ["/opt/emc/scaleio/sdc/bin/drv_cfg", "--query_guid"])
    assert res.returncode == 1 and "Failed to open /dev/scini" in res.stderr


def test_removal_needs_i_am_sure_and_leaves_config_behind(agent):
    a = agent
    res = a.remove("sdc")
    assert res.returncode != 0 and "I_AM_SURE" in res.stdout + res.stderr
    assert installed(a, "sdc")
    ok(a.remove("sdc", I_AM_SURE="1"))
    assert not installed(a, "sdc") and not active(a, "scini")
    assert a.root.read_text("/lib/systemd/system/scini.service" if a.family == "ubuntu"
                            else "/usr/lib/systemd/system/scini.service") is None
    assert a.root.read_text("/opt/emc/scaleio/sdc/bin/drv_cfg") is None
    path = "/bin/emc/scaleio/drv_cfg.txt" if a.version.startswith("2.") else "/etc/emc/scaleio/drv_cfg.txt"
    assert "ini_guid" in a.root.read_text(path)     # the real package leaves drv_cfg.txt too
    ok(a.remove("gateway", I_AM_SURE="1"))
    assert not listening(a.ip, 443)
    ok(a.remove("mdm", I_AM_SURE="1"))
    assert not listening(a.ip, 9011) and a.root.read_text("/usr/bin/scli") is None
    assert "actor_role_is_manager=1" in a.root.read_text("/opt/emc/scaleio/mdm/cfg/conf.txt")
