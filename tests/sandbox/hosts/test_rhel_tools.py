"""yum and rpm inside a real CentOS-flavoured agent root."""
import pytest

from dcos_scaleio.sandbox.hosts.packages import build_package

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

SCRIPT = """import os, sys
with open('/var/tmp/{tag}.log', 'a') as f:
    f.write(os.environ['SANDBOX_PKG_ACTION'] + ' ' + ' '.join(sys.argv[1:]) + ' ' + os.environ.get('{var}', '-') + '\\n')
sys.exit(int(os.environ.get('FAIL_{tag}', '0')))
"""


def test_fresh_host_identity(rhel):
    assert 'ID="centos"' in rhel.ok("cat", "/etc/os-release").stdout
    assert rhel.ok("cat", "/etc/redhat-release").stdout.startswith("CentOS Linux release 7")
    for tool in ("apt-get", "dpkg", "dpkg-query"):
        assert rhel("which", tool).returncode != 0, tool
    assert rhel.ok("rpm", "-q", "bash").stdout.startswith("bash-4.2.46-34.el7.x86_64")


def test_yum_installs_dependency_packages(rhel):
    res = rhel("rpm", "-q", "libaio", "numactl")
    assert res.returncode == 1
    assert res.stdout.splitlines() == ["package libaio is not installed", "package numactl is not installed"]
    res = rhel.ok("yum", "install", "-y", "libaio", "numactl")
    assert "Complete!" in res.stdout
    assert rhel.ok("rpm", "-q", "libaio").stdout == "libaio-0.3.109-13.el7.x86_64\n"
    again = rhel.ok("yum", "-y", "install", "numactl")
    assert "already installed and latest version" in again.stdout and "Nothing to do" in again.stdout
    res = rhel("yum", "install", "-y", "no-such-package")
    assert res.returncode == 1 and "No package no-such-package available." in res.stdout
    assert "libaio.x86_64" in rhel.ok("yum", "list", "installed").stdout


def test_rpm_upgrade_install_with_env_and_dependencies(rhel):
    path = build_package(rhel.pkgdir, "EMC-ScaleIO-mdm", "3.0-200.104", "rhel",
                         files={"/opt/emc/scaleio/mdm/cfg/conf.txt": b"actor_role_is_manager=1\n"},
                         scripts={"preinst": SCRIPT.format(tag="mdm-pre", var="MDM_ROLE_IS_MANAGER"),
                                  "postinst": SCRIPT.format(tag="mdm-post", var="MDM_ROLE_IS_MANAGER")},
                         depends=["python2", "bash-completion"],
                         filename="EMC-ScaleIO-mdm-3.0-200.104.el7.x86_64.rpm")
    res = rhel("rpm", "-Uvh", path)
    assert res.returncode == 1
    assert "error: Failed dependencies:\n\tpython2 is needed by EMC-ScaleIO-mdm-3.0-200.104.x86_64" in res.stderr
    assert rhel("rpm", "-q", "EMC-ScaleIO-mdm").returncode == 1
    rhel.ok("yum", "install", "-y", "python2", "bash-completion")
    res = rhel.ok("rpm", "-Uvh", path, env={"MDM_ROLE_IS_MANAGER": "0"})
    assert "Preparing..." in res.stdout and "################################# [100%]" in res.stdout
    assert rhel.ok("cat", "/var/tmp/mdm-pre.log").stdout == "install 1 0\n"
    assert rhel.ok("cat", "/var/tmp/mdm-post.log").stdout == "install 1 0\n"
    assert rhel.ok("rpm", "-q", "EMC-ScaleIO-mdm").stdout == "EMC-ScaleIO-mdm-3.0-200.104.x86_64\n"
    assert rhel.ok("rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", "EMC-ScaleIO-mdm").stdout == "3.0-200.104\n"
    res = rhel("rpm", "-Uvh", path)
    assert res.returncode == 1 and "package EMC-ScaleIO-mdm-3.0-200.104.x86_64 is already installed" in res.stderr
    assert "EMC-ScaleIO-mdm-3.0-200.104.x86_64" in rhel.ok("rpm", "-qa").stdout.splitlines()
    assert rhel.ok("rpm", "-qa", "EMC-ScaleIO-*").stdout == "EMC-ScaleIO-mdm-3.0-200.104.x86_64\n"
    older = build_package(rhel.pkgdir, "EMC-ScaleIO-mdm", "2.0-14000.231", "rhel")
    res = rhel("rpm", "-Uvh", older)
    assert res.returncode == 1 and "(which is newer than EMC-ScaleIO-mdm-2.0-14000.231.x86_64)" in res.stderr


def test_rpm_erase_and_scriptlet_failures(rhel):
    path = build_package(rhel.pkgdir, "EMC-ScaleIO-sds", "3.0-200.104", "rhel",
                         files={"/opt/emc/scaleio/sds/bin/sds": (b"x", 0o755)},
                         scripts={"prerm": SCRIPT.format(tag="sds-preun", var="I_AM_SURE")})
    rhel.ok("rpm", "-i", path)
    res = rhel("rpm", "-e", "EMC-ScaleIO-sds", env={"FAIL_sds-preun": "1"})
    assert res.returncode == 1 and "error: %preun(EMC-ScaleIO-sds-3.0-200.104.x86_64) scriptlet failed, exit status 1" in res.stderr
    rhel.ok("rpm", "-e", "EMC-ScaleIO-sds", env={"I_AM_SURE": "1"})
    assert rhel.ok("cat", "/var/tmp/sds-preun.log").stdout.splitlines()[-1] == "remove 0 1"
    assert rhel("test", "-e", "/opt/emc/scaleio/sds/bin/sds").returncode == 1
    res = rhel("rpm", "-e", "EMC-ScaleIO-sds")
    assert res.returncode == 1 and "error: package EMC-ScaleIO-sds is not installed" in res.stderr
    pre = build_package(rhel.pkgdir, "pre-fails", "1.0-1", "rhel", files={"/opt/pf": b"x"},
                        scripts={"preinst": SCRIPT.format(tag="pf", var="X")})
    res = rhel("rpm", "-ivh", pre, env={"FAIL_pf": "2"})
    assert res.returncode == 1 and "error: %pre(pre-fails-1.0-1.x86_64) scriptlet failed, exit status 2" in res.stderr
    assert rhel("rpm", "-q", "pre-fails").returncode == 1


def test_rpm_erase_refuses_while_needed(rhel):
    rhel.ok("yum", "install", "-y", "unzip")
    user = build_package(rhel.pkgdir, "unzip-user", "1.0-1", "rhel", depends=["unzip"])
    rhel.ok("rpm", "-i", user)
    res = rhel("rpm", "-e", "unzip")
    assert res.returncode == 1 and "unzip is needed by (installed) unzip-user-1.0-1.x86_64" in res.stderr
    rhel.ok("rpm", "-e", "--nodeps", "unzip")
    assert rhel("rpm", "-q", "unzip").returncode == 1


def test_yum_localinstall_resolves_catalogue_dependencies(rhel):
    path = build_package(rhel.pkgdir, "EMC-ScaleIO-gateway", "3.0-200.104", "rhel",
                         files={"/opt/emc/scaleio/gateway/webapps/ROOT.war": b"war"},
                         depends=["java-1.8.0-openjdk"])
    res = rhel.ok("yum", "install", "-y", path)
    assert "Complete!" in res.stdout
    assert rhel.ok("rpm", "-q", "java-1.8.0-openjdk").returncode == 0
    assert rhel.ok("rpm", "-q", "EMC-ScaleIO-gateway").stdout == "EMC-ScaleIO-gateway-3.0-200.104.x86_64\n"
    res = rhel.ok("yum", "remove", "-y", "EMC-ScaleIO-gateway")
    assert rhel("rpm", "-q", "EMC-ScaleIO-gateway").returncode == 1


def test_deb_file_is_not_an_rpm(rhel):
    deb = build_package(rhel.pkgdir, "dvdcli", "0.2.1", "ubuntu")
    res = rhel("rpm", "-i", deb)
    assert res.returncode == 1 and "not an rpm package" in res.stderr


def test_rpm_upgrade_runs_new_post_then_old_preun_and_postun(rhel):
    def build(version):
        return build_package(rhel.pkgdir, "EMC-ScaleIO-lia", version, "rhel", files={"/opt/emc/scaleio/lia/x": b"x"},
                             scripts={s: SCRIPT.format(tag=f"lia-{version}-{s}", var="TOKEN")
                                      for s in ("preinst", "postinst", "prerm", "postrm")})
    rhel.ok("rpm", "-i", build("2.0-14000.231"), env={"TOKEN": "t1"})
    rhel.ok("rpm", "-Uvh", build("3.0-200.104"), env={"TOKEN": "t2"})

    def log(version, script):
        return rhel.ok("cat", f"/var/tmp/lia-{version}-{script}.log").stdout
    assert log("3.0-200.104", "preinst") == "upgrade 2 t2\n"
    assert log("3.0-200.104", "postinst") == "upgrade 2 t2\n"
    assert log("2.0-14000.231", "prerm") == "upgrade 1 t2\n"
    assert log("2.0-14000.231", "postrm") == "upgrade 1 t2\n"
    assert rhel("cat", "/var/tmp/lia-3.0-200.104-prerm.log").returncode == 1
    rhel.ok("rpm", "-e", "EMC-ScaleIO-lia")
    assert log("3.0-200.104", "prerm") == "remove 0 -\n"
