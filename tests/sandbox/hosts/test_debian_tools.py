"""apt-get, dpkg and dpkg-query inside a real Ubuntu-flavoured agent root."""
import os

import pytest

from dcos_scaleio.sandbox.hosts.packages import build_package

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

# A postinst that records its argv and the env vars the real ScaleIO packages read.
RECORDING_SCRIPT = """import os, sys
with open('/var/tmp/{name}.{script}.log', 'a') as f:
    f.write(' '.join(sys.argv[1:]) + '|' + os.environ.get('MDM_IP', '-') + '|' + os.environ['SANDBOX_PKG_ACTION'] + '\\n')
sys.exit(int(os.environ.get('FAIL_{script_upper}', '0')))
"""


def recording(name, *scripts):
    return {s: RECORDING_SCRIPT.format(name=name, script=s, script_upper=s.upper()) for s in scripts}


def test_fresh_host_identity_and_hidden_machine_state(ubuntu):
    assert "ID=ubuntu" in ubuntu.ok("cat", "/etc/os-release").stdout
    # The machine's real package database is not visible: only the family's base packages.
    res = ubuntu.ok("dpkg-query", "-W")
    names = [line.split("\t")[0] for line in res.stdout.splitlines()]
    assert "base-files" in names and "libaio1" not in names and len(names) < 20
    assert ubuntu("which", "yum").returncode != 0


def test_apt_get_installs_dependency_packages(ubuntu):
    res = ubuntu("dpkg-query", "-W", "-f=${Status}", "numactl")
    assert res.returncode == 1 and "no packages found matching numactl" in res.stderr
    res = ubuntu.ok("apt-get", "install", "-y", "libaio1", "numactl")
    assert "The following NEW packages will be installed:\n  libaio1 numactl" in res.stdout
    assert "Setting up numactl:amd64" in res.stdout
    res = ubuntu.ok("dpkg-query", "-W", "-f", "${Status} ${Version}\\n", "libaio1", "numactl")
    assert res.stdout.splitlines() == ["install ok installed 0.3.110-2", "install ok installed 2.0.11-1ubuntu1.1"]
    again = ubuntu.ok("apt-get", "-y", "install", "libaio1")
    assert "libaio1 is already the newest version (0.3.110-2)." in again.stdout
    assert "0 newly installed" in again.stdout


def test_apt_get_unknown_package_and_versions(ubuntu):
    res = ubuntu("apt-get", "install", "-y", "no-such-package")
    assert res.returncode == 100
    assert "E: Unable to locate package no-such-package" in res.stderr
    res = ubuntu("apt-get", "install", "-y", "unzip=9.9")
    assert res.returncode == 100 and "E: Version '9.9' for 'unzip' was not found" in res.stderr
    ubuntu.ok("apt-get", "install", "-y", "unzip=6.0-20ubuntu1.1")
    assert ubuntu.ok("dpkg-query", "-W", "-f=${Version}", "unzip").stdout == "6.0-20ubuntu1.1"


def test_dpkg_install_runs_scripts_with_callers_env_and_installs_files(ubuntu):
    path = build_package(ubuntu.pkgdir, "emc-scaleio-sdc", "3.0-200.104", "ubuntu",
                         files={"/opt/emc/scaleio/sdc/bin/drv_cfg": (b"#!/bin/sh\necho drv\n", 0o755)},
                         scripts=recording("sdc", "preinst", "postinst"), depends=["libaio1"])
    ubuntu.ok("apt-get", "install", "-y", "libaio1")
    res = ubuntu.ok("dpkg", "-i", path, env={"MDM_IP": "127.0.1.1,127.0.1.2"})
    assert "Selecting previously unselected package emc-scaleio-sdc." in res.stdout
    assert "Setting up emc-scaleio-sdc (3.0-200.104) ..." in res.stdout
    assert ubuntu.ok("/opt/emc/scaleio/sdc/bin/drv_cfg").stdout == "drv\n"
    assert ubuntu.ok("cat", "/var/tmp/sdc.preinst.log").stdout == "install|127.0.1.1,127.0.1.2|install\n"
    assert ubuntu.ok("cat", "/var/tmp/sdc.postinst.log").stdout == "configure|127.0.1.1,127.0.1.2|install\n"
    status = ubuntu.ok("dpkg", "-s", "emc-scaleio-sdc").stdout
    assert "Status: install ok installed" in status and "Version: 3.0-200.104" in status
    assert "/opt/emc/scaleio/sdc/bin/drv_cfg" in ubuntu.ok("dpkg", "-L", "emc-scaleio-sdc").stdout
    assert not os.path.exists("/opt/emc/scaleio/sdc/bin/drv_cfg")
    # Upgrade: preinst gets "upgrade <old>", postinst "configure <old>".
    newer = build_package(ubuntu.pkgdir, "emc-scaleio-sdc", "3.0-300.1", "ubuntu",
                          files={"/opt/emc/scaleio/sdc/bin/drv_cfg": (b"#!/bin/sh\necho drv2\n", 0o755)},
                          scripts=recording("sdc", "preinst", "postinst"), depends=["libaio1"])
    res = ubuntu.ok("dpkg", "-i", newer)
    assert "Unpacking emc-scaleio-sdc (3.0-300.1) over (3.0-200.104) ..." in res.stdout
    assert ubuntu.ok("cat", "/var/tmp/sdc.postinst.log").stdout.splitlines()[-1] == "configure 3.0-200.104|-|upgrade"
    assert ubuntu.ok("/opt/emc/scaleio/sdc/bin/drv_cfg").stdout == "drv2\n"


def test_dpkg_missing_dependency_leaves_package_unconfigured_until_apt_fixes_it(ubuntu):
    path = build_package(ubuntu.pkgdir, "needs-python", "1.0", "ubuntu", files={"/opt/np/x": b"x"},
                         scripts=recording("np", "postinst"), depends=["python2.7"])
    res = ubuntu("dpkg", "-i", path)
    assert res.returncode == 1
    assert "dependency problems prevent configuration of needs-python:" in res.stderr
    assert "Package python2.7 is not installed." in res.stderr
    assert "Errors were encountered while processing:\n needs-python" in res.stderr
    assert ubuntu.ok("dpkg-query", "-W", "-f=${Status}", "needs-python").stdout == "install ok unpacked"
    res = ubuntu.ok("apt-get", "-f", "install", "-y")
    assert ubuntu.ok("dpkg-query", "-W", "-f=${Status}", "needs-python").stdout == "install ok installed"
    assert ubuntu.ok("cat", "/var/tmp/np.postinst.log").stdout == "configure|-|install\n"


def test_apt_get_installs_local_deb_with_catalogue_dependencies(ubuntu):
    path = build_package(ubuntu.pkgdir, "emc-scaleio-gateway", "3.0-200.104", "ubuntu",
                         files={"/opt/emc/scaleio/gateway/bin/gw": b"gw"}, depends=["openjdk-8-jre", "binutils"])
    res = ubuntu.ok("apt-get", "install", "-y", path)
    assert "The following additional packages will be installed:\n  openjdk-8-jre binutils" in res.stdout
    assert ubuntu.ok("dpkg-query", "-W", "-f=${Status}", "emc-scaleio-gateway").stdout == "install ok installed"
    bad = build_package(ubuntu.pkgdir, "broken-deps", "1.0", "ubuntu", depends=["not-in-any-repo"])
    res = ubuntu("apt-get", "install", "-y", bad)
    assert res.returncode == 100
    assert "broken-deps : Depends: not-in-any-repo but it is not installable" in res.stdout


def test_failing_maintainer_scripts(ubuntu):
    pre = build_package(ubuntu.pkgdir, "pre-fails", "1.0", "ubuntu", files={"/opt/pf/x": b"x"},
                        scripts=recording("pf", "preinst"))
    res = ubuntu("dpkg", "-i", pre, env={"FAIL_PREINST": "3"})
    assert res.returncode == 1
    assert "new pre-fails package pre-installation script subprocess returned error exit status 3" in res.stderr
    assert ubuntu("dpkg", "-s", "pre-fails").returncode == 1
    assert ubuntu("test", "-e", "/opt/pf/x").returncode == 1
    post = build_package(ubuntu.pkgdir, "post-fails", "1.0", "ubuntu", files={"/opt/pof/x": b"x"},
                         scripts=recording("pof", "postinst"))
    res = ubuntu("dpkg", "-i", post, env={"FAIL_POSTINST": "1"})
    assert res.returncode == 1
    assert "installed post-fails package post-installation script subprocess returned error exit status 1" in res.stderr
    assert ubuntu.ok("dpkg-query", "-W", "-f=${Status}", "post-fails").stdout == "install ok half-configured"
    ubuntu.ok("dpkg", "--configure", "-a")
    assert ubuntu.ok("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "post-fails").stdout == "ii "


def test_remove_keeps_conffiles_and_purge_drops_them(ubuntu):
    path = build_package(ubuntu.pkgdir, "emc-scaleio-lia", "3.0-200.104", "ubuntu",
                         files={"/opt/emc/scaleio/lia/bin/lia": (b"lia", 0o755),
                                "/opt/emc/scaleio/lia/cfg/conf.txt": b"lia_token=\n"},
                         conffiles=["/opt/emc/scaleio/lia/cfg/conf.txt"], scripts=recording("lia", "prerm", "postrm"))
    ubuntu.ok("dpkg", "-i", path)
    res = ubuntu.ok("dpkg", "-r", "emc-scaleio-lia", env={"I_AM_SURE": "1"})
    assert "Removing emc-scaleio-lia (3.0-200.104) ..." in res.stdout
    assert ubuntu("test", "-e", "/opt/emc/scaleio/lia/bin/lia").returncode == 1
    assert ubuntu.ok("cat", "/opt/emc/scaleio/lia/cfg/conf.txt").stdout == "lia_token=\n"
    assert ubuntu.ok("dpkg-query", "-W", "-f=${Status}", "emc-scaleio-lia").stdout == "deinstall ok config-files"
    assert ubuntu.ok("cat", "/var/tmp/lia.prerm.log").stdout == "remove|-|remove\n"
    ubuntu.ok("dpkg", "-P", "emc-scaleio-lia")
    assert ubuntu("test", "-e", "/opt/emc/scaleio/lia").returncode == 1
    assert ubuntu.ok("cat", "/var/tmp/lia.postrm.log").stdout.splitlines() == ["remove|-|remove", "purge|-|purge"]
    res = ubuntu("dpkg-query", "-W", "emc-scaleio-lia")
    assert res.returncode == 1
    res = ubuntu.ok("dpkg", "-r", "emc-scaleio-lia")
    assert "ignoring request to remove emc-scaleio-lia which isn't installed" in res.stderr


def test_dependents_block_removal(ubuntu):
    ubuntu.ok("apt-get", "install", "-y", "zip")
    user = build_package(ubuntu.pkgdir, "zip-user", "1.0", "ubuntu", depends=["zip"])
    ubuntu.ok("dpkg", "-i", user)
    res = ubuntu("dpkg", "-r", "zip")
    assert res.returncode == 1 and "dependency problems prevent removal of zip:" in res.stderr
    res = ubuntu.ok("apt-get", "remove", "-y", "zip")
    assert "The following packages will be REMOVED:\n  zip-user zip" in res.stdout
    assert ubuntu("dpkg", "-s", "zip").returncode == 1


def test_locked_database(ubuntu):
    holder = ubuntu.root.popen(["python3", "-c", (
        "import fcntl, os, sys, time\n"
        "fd = os.open('/var/lib/dpkg/lock-frontend', os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n")],
        stdout=__import__("subprocess").PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        res = ubuntu("apt-get", "install", "-y", "wget")
        assert res.returncode == 100 and "E: Could not get lock /var/lib/dpkg/lock" in res.stderr
        res = ubuntu("dpkg", "-r", "wget")
        assert res.returncode == 2 and "dpkg status database is locked" in res.stderr
    finally:
        holder.kill()
        holder.wait()
    ubuntu.ok("apt-get", "install", "-y", "wget")


def test_wrong_family_archive_is_not_a_debian_archive(ubuntu):
    rpm = build_package(ubuntu.pkgdir, "rexray", "0.11.4-1", "rhel")
    res = ubuntu("dpkg", "-i", rpm)
    assert res.returncode == 1 and "is not a Debian format archive" in res.stderr
    res = ubuntu("dpkg", "-i", "/nonexistent.deb")
    assert res.returncode == 1 and "cannot access archive" in res.stderr


def test_package_fetched_from_the_mirror_inside_the_agent_then_installed(ubuntu, tmp_path):
    from dcos_scaleio.sandbox.mirror import Mirror
    build_package(tmp_path, "dvdcli", "0.2.1", "ubuntu", files={"/usr/bin/dvdcli": (b"#!/bin/sh\necho 0.2.1\n", 0o755)})
    with Mirror(tmp_path) as mirror:
        fetch = ("import hashlib, json, sys, urllib.request\n"
                 "base = sys.argv[1]\n"
                 "index = json.load(urllib.request.urlopen(base + '/index.json'))\n"
                 "data = urllib.request.urlopen(base + '/dvdcli-0.2.1.deb').read()\n"
                 "assert hashlib.sha256(data).hexdigest() == index['dvdcli-0.2.1.deb']['sha256']\n"
                 "open('/var/tmp/dvdcli.deb', 'wb').write(data)\n")
        ubuntu.ok("python3", "-c", fetch, mirror.url)
        assert mirror.hits["dvdcli-0.2.1.deb"] == 1
    ubuntu.ok("dpkg", "-i", "/var/tmp/dvdcli.deb")
    assert ubuntu.ok("dvdcli").stdout == "0.2.1\n"
    assert not os.path.exists("/usr/bin/dvdcli")
