"""uname, lsblk, blkid, the disk table and the Mesos agent unit, on both OS families."""
import http.server
import json
import sys
import threading

import pytest

from dcos_scaleio.sandbox import hosts
from dcos_scaleio.sandbox.hosts import kmod
from dcos_scaleio.sandbox.agentroot import AgentRoot

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(params=["ubuntu", "rhel"])
def host(request):
    return request.getfixturevalue(request.param)


def test_uname(host):
    assert host.ok("uname", "-r").stdout == "4.15.0-20-generic\n"
    fields = host.ok("uname", "-a").stdout.split()
    assert fields[0] == "Linux" and fields[1] == host.root.hostname and fields[2] == "4.15.0-20-generic"
    assert fields[-1] == "GNU/Linux"
    assert host.ok("uname", "-sr").stdout == "Linux 4.15.0-20-generic\n"
    assert host.ok("uname").stdout == "Linux\n"
    assert host("uname", "-Z").returncode == 1


def test_lsblk_columns_and_shapes(host):
    res = host.ok("lsblk", "-b", "-d", "-n", "-o", "NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT")
    rows = [line.split() for line in res.stdout.splitlines()]
    assert rows == [["sda", str(40 * 1024 ** 3), "disk", "ext4", "/"],
                    ["sdb", str(100 * 1024 ** 3), "disk"],
                    ["sdc", str(50 * 1024 ** 3), "disk", "ext4"],
                    ["sdd", str(4 * 1024 ** 3), "disk"]]
    data = json.loads(host.ok("lsblk", "--json", "-b", "-d", "-o", "NAME,SIZE,FSTYPE,MOUNTPOINT").stdout)
    assert data["blockdevices"][1] == {"name": "sdb", "size": 100 * 1024 ** 3, "fstype": None, "mountpoint": None}
    human = host.ok("lsblk", "-d").stdout.splitlines()
    assert human[0].split() == ["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINT"]
    assert human[2].split()[3] == "100G"
    pairs = host.ok("lsblk", "-P", "-b", "-o", "NAME,SIZE", "/dev/sdd").stdout
    assert pairs == f'NAME="sdd" SIZE="{4 * 1024 ** 3}"\n'
    res = host("lsblk", "/dev/sdz")
    assert res.returncode == 32 and "lsblk: /dev/sdz: not a block device" in res.stderr
    assert host("lsblk", "-o", "NAME,BOGUS").returncode == 1


def test_blkid_signatures_and_disk_table_updates(host):
    res = host("blkid", "-p", "/dev/sdb")
    assert (res.returncode, res.stdout) == (2, "")
    res = host.ok("blkid", "-p", "/dev/sdc")
    assert res.stdout.startswith('/dev/sdc: UUID="') and 'TYPE="ext4" USAGE="filesystem"' in res.stdout
    assert host.ok("blkid", "-o", "value", "-s", "TYPE", "/dev/sdc").stdout == "ext4\n"
    assert host("blkid", "-p", "/dev/nonexistent").returncode == 2
    assert host.ok("blkid", "-o", "device").stdout == "/dev/sda\n/dev/sdc\n"  # every disk with a signature
    # Another tool (e.g. mkfs, or a test) gives sdd a filesystem from inside the agent.
    code = ("from dcos_scaleio.sandbox.hosts import disks\n"
            "disks.update('/dev/sdd', fstype='xfs')\n")
    host.ok(sys.executable, "-c", code)
    assert 'TYPE="xfs"' in host.ok("blkid", "/dev/sdd").stdout
    assert "xfs" in host.ok("lsblk", "-n", "-o", "FSTYPE", "/dev/sdd").stdout
    host.ok(sys.executable, "-c", code.replace("fstype='xfs'", "fstype=None"))
    assert host("blkid", "-p", "/dev/sdd").returncode == 2


@pytest.mark.parametrize("family,package,kernel", [
    ("ubuntu", "linux-image-4.4.0-38-generic", "4.4.0-38-generic"),
    ("rhel", "kernel-3.10.0-1160.el7.x86_64", "3.10.0-1160.el7.x86_64"),
])
def test_kernel_pin_takes_effect_after_reboot(tmp_path, family, package, kernel):
    root = AgentRoot(tmp_path, f"pin-{family}")
    try:
        hosts.provision(root, os_family=family, kernel="3.13.0-170-generic")
        root.start()
        hosts.boot(root)
        installer = ["apt-get", "install", "-y", package] if family == "ubuntu" else ["yum", "install", "-y", package]
        res = root.run(installer)
        assert res.returncode == 0, res.stderr
        assert root.run(["uname", "-r"]).stdout == "3.13.0-170-generic\n"  # not before a reboot
        root.reboot()
        hosts.boot(root)
        assert root.run(["uname", "-r"]).stdout == kernel + "\n"
        assert root.run(["test", "-e", f"/boot/vmlinuz-{kernel}"]).returncode == 0
    finally:
        root.destroy()


@pytest.fixture
def control_server():
    """A stand-in for the Mesos emulator's control API, recording the POSTs it gets."""
    calls = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append(self.path)
            status = 500 if self.path.endswith("/broken/start") else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/control", calls
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("family,unit", [("ubuntu", "mesos-slave"), ("rhel", "dcos-mesos-slave")])
def test_mesos_agent_unit_calls_the_control_api(request, family, unit, control_server):
    host = request.getfixturevalue(family)
    url, calls = control_server
    name = host.root.name
    host.root.write_text(hosts.AGENT_JSON, json.dumps({"name": name, "hostname": name, "ip": "127.0.0.1",
                                                       "control_url": url}))
    try:
        assert host.ok("systemctl", "is-enabled", unit).stdout == "enabled\n"
        assert host("systemctl", "is-active", unit).returncode == 0  # booted without a control url
        host.ok("systemctl", "restart", unit)
        host.ok("systemctl", "stop", unit)
        assert host("systemctl", "is-active", unit).returncode == 3
        host.ok("systemctl", "start", unit)
        assert calls == [f"/control/agents/{name}/restart", f"/control/agents/{name}/stop",
                         f"/control/agents/{name}/start"]
        host.ok("systemctl", "stop", unit)
        host.root.write_text(hosts.AGENT_JSON, json.dumps({"name": "broken", "control_url": url}))
        res = host("systemctl", "start", unit)
        assert res.returncode == 1 and f"Job for {unit}.service failed" in res.stderr
    finally:
        host.root.write_text(hosts.AGENT_JSON, json.dumps({"name": name, "control_url": None}))
        host.ok("systemctl", "start", unit)
    # provision() leaves the Mesos flag files to the emulator.
    assert host.root.read_text("/etc/mesos-slave/work_dir") is None
    assert host.root.read_text("/var/lib/dcos/mesos-slave-common") is None


def test_boot_makes_the_agent_resolve_its_own_name(tmp_path):
    root = AgentRoot(tmp_path, "resolver", hostname="node-7.sandbox")
    try:
        hosts.provision(root)
        root.write_text(hosts.AGENT_JSON, json.dumps({"name": "resolver", "hostname": "node-7.sandbox",
                                                      "ip": "127.0.77.7", "control_url": None}))
        root.start()
        hosts.boot(root)
        hosts.boot(root)  # idempotent
        code = "import socket; print(socket.gethostbyname(socket.gethostname()))"
        assert root.run([sys.executable, "-c", code]).stdout == "127.0.77.7\n"
        assert root.read_text("/etc/hosts").count("127.0.77.7") == 1
    finally:
        root.destroy()


def test_systemctl_basics_on_both_families(host):
    unit_dir = "/lib/systemd/system" if host.family == "ubuntu" else "/usr/lib/systemd/system"
    host.root.write_text(f"{unit_dir}/sleeper.service",
                         "[Unit]\nDescription=Sleeper\n[Service]\nExecStart=/bin/sleep 300\n"
                         "[Install]\nWantedBy=multi-user.target\n")
    res = host.ok("systemctl", "enable", "--now", "sleeper")
    assert f"Created symlink from /etc/systemd/system/multi-user.target.wants/sleeper.service to {unit_dir}/sleeper.service." in res.stderr
    assert host.ok("systemctl", "is-active", "sleeper").stdout == "active\n"
    assert host.ok("systemctl", "is-enabled", "sleeper").stdout == "enabled\n"
    pid = int(host.ok("systemctl", "show", "-p", "MainPID", "--value", "sleeper").stdout)
    assert pid in host.root.pids()
    host.ok("systemctl", "disable", "--now", "sleeper")
    res = host("systemctl", "is-active", "sleeper")
    assert (res.returncode, res.stdout) == (3, "inactive\n")
    assert pid not in host.root.pids()


def test_kernel_modules_load_only_for_the_running_kernel(host):
    host.root.write_bytes("/lib/modules/4.15.0-20-generic/extra/scini.ko", kmod.module_file("scini", "4.15.0-20-generic"))
    host.root.write_bytes("/opt/emc/scaleio/sdc/modules/scini-4.4.ko", kmod.module_file("scini", "4.4.0-38-generic"))
    assert "scini" not in host.ok("lsmod").stdout
    res = host("insmod", "/opt/emc/scaleio/sdc/modules/scini-4.4.ko")
    assert res.returncode == 1
    assert res.stderr == "insmod: ERROR: could not insert module /opt/emc/scaleio/sdc/modules/scini-4.4.ko: Invalid module format\n"
    host.ok("modprobe", "scini")
    line = [l for l in host.ok("lsmod").stdout.splitlines() if l.startswith("scini ")]
    assert line and line[0].split() == ["scini", "843776", "0"]
    host.ok("modprobe", "scini")  # already loaded: fine
    res = host("modprobe", "no_such_mod")
    assert res.returncode == 1
    assert res.stderr == "modprobe: FATAL: Module no_such_mod not found in directory /lib/modules/4.15.0-20-generic\n"
    host.ok("rmmod", "scini")
    res = host("rmmod", "scini")
    assert res.returncode == 1 and res.stderr == "rmmod: ERROR: Module scini is not currently loaded\n"
    host.ok("modprobe", "scini")
    host.root.reboot()  # loaded modules do not survive a reboot
    assert "scini" not in host.ok("lsmod").stdout
    hosts.boot(host.root)
