"""AgentRoot: an isolated, copy-on-write host per emulated agent (real namespaces, real mounts)."""
import hashlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from dcos_scaleio.sandbox.agentroot import AgentRoot

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def wait_until(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def mounts_mentioning(text):
    """Every mount of every process on the machine whose mountinfo line mentions ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/mountinfo") as f:
                found += [(entry, line) for line in f if text in line]
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="module")
def agent(tmp_path_factory, shared):
    """One agent shared by the read-mostly tests of this module."""
    root = AgentRoot(tmp_path_factory.mktemp("state"), "a1", hostname="agent-one.sandbox", shared_dirs=[shared])
    root.start()
    yield root
    root.destroy()


@pytest.fixture
def fresh(tmp_path):
    """A private agent for lifecycle tests (stopped and removed afterwards whatever happens)."""
    roots = []

    def make(name="b1", **kw):
        root = AgentRoot(tmp_path / "state", name, **kw)
        roots.append(root)
        root.start()
        return root

    yield make
    for root in roots:
        root.destroy()


def test_writes_inside_land_in_upper_and_not_on_the_machine(agent):
    marker = f"/etc/dcos-scaleio-test-{uuid.uuid4().hex}"
    res = agent.run(["sh", "-c", f"echo inside > {marker} && cat {marker}"])
    assert res.returncode == 0, res.stderr
    assert res.stdout == "inside\n"
    assert not os.path.exists(marker)
    assert agent.path(marker).read_text() == "inside\n"
    assert agent.read_text(marker) == "inside\n"
    # The machine's files are visible through the lower layer.
    assert agent.read_text("/etc/os-release") == pathlib.Path("/etc/os-release").read_text()


def test_file_written_from_outside_is_seen_inside(agent):
    target = agent.path("/opt/outside-written/file.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("from outside\n")
    assert agent.run(["cat", "/opt/outside-written/file.txt"]).stdout == "from outside\n"


def test_shared_dir_is_visible_both_ways(agent, shared):
    (shared / "from-host").write_text("host\n")
    res = agent.run(["sh", "-c", f"cat {shared}/from-host && echo agent > {shared}/from-agent"])
    assert res.returncode == 0, res.stderr
    assert res.stdout == "host\n"
    assert (shared / "from-agent").read_text() == "agent\n"


def test_hostname_is_the_agents_own(agent):
    assert agent.run(["hostname"]).stdout.strip() == "agent-one.sandbox"
    assert socket.gethostname() != "agent-one.sandbox"


def test_environment_is_clean_and_cwd_is_honoured(agent, monkeypatch):
    monkeypatch.setenv("LEAKY_SECRET", "x")
    res = agent.run(["sh", "-c", "echo ${LEAKY_SECRET:-none} $PATH; pwd"], cwd="/etc")
    lines = res.stdout.splitlines()
    assert lines[0].startswith("none /usr/local/sbin")
    assert lines[1] == "/etc"
    res = agent.run(["sh", "-c", "echo $MDM_IP"], env={"MDM_IP": "127.0.1.1"})
    assert res.stdout == "127.0.1.1\n"


def test_popen_runs_in_its_own_session_inside_the_agent(agent):
    proc = agent.popen(["sleep", "30"])
    try:
        assert wait_until(lambda: proc.pid in agent.pids())
        assert os.getsid(proc.pid) == proc.pid
        assert os.readlink(f"/proc/{proc.pid}/root") != "/"  # chrooted
        assert agent.holder_pid not in agent.pids()
    finally:
        proc.kill()
        proc.wait()
    assert wait_until(lambda: proc.pid not in agent.pids())


def test_run_propagates_exit_code_and_stdin(agent):
    assert agent.run(["sh", "-c", "exit 7"]).returncode == 7
    assert agent.run(["cat"], input="fed\n").stdout == "fed\n"
    with pytest.raises(subprocess.TimeoutExpired):
        agent.run(["sleep", "30"], timeout=0.3)


def test_stop_kills_every_process_including_daemons(fresh):
    root = fresh()
    # A daemon that left its session and parent, as systemctl-started services do.
    root.run(["sh", "-c", "setsid sh -c 'sleep 300 & sleep 300' >/dev/null 2>&1 < /dev/null &"])
    assert wait_until(lambda: len(root.pids()) >= 2)
    pids = root.pids()
    root.stop()
    assert not root.running
    for pid in pids:
        assert wait_until(lambda: not os.path.exists(f"/proc/{pid}/ns/mnt"))
    assert root.pids() == []


def test_kill_all_spares_the_holder(fresh):
    root = fresh()
    proc = root.popen(["sleep", "300"])
    assert wait_until(lambda: proc.pid in root.pids())
    root.kill_all()
    proc.wait(timeout=10)
    assert root.running
    assert root.run(["true"]).returncode == 0


def test_reboot_clears_run_and_tmp_but_keeps_upper(fresh):
    root = fresh()
    res = root.run(["sh", "-c", "echo r > /run/runtime-state && echo t > /tmp/scratch && echo k > /var/lib/kept"])
    assert res.returncode == 0, res.stderr
    daemon = root.popen(["sleep", "300"])
    root.reboot()
    daemon.wait(timeout=10)
    assert root.running
    res = root.run(["sh", "-c", "ls /run/runtime-state /tmp/scratch 2>/dev/null; cat /var/lib/kept"])
    assert res.stdout == "k\n"


def test_stop_leaves_no_mounts_even_after_holder_was_sigkilled(fresh):
    root = fresh("c1")
    daemon = root.popen(["sleep", "300"])
    assert wait_until(lambda: daemon.pid in root.pids())
    assert mounts_mentioning(f"upperdir={root.upper}")  # the namespace's mounts exist while it lives
    os.kill(root.holder_pid, signal.SIGKILL)
    assert wait_until(lambda: not root.running)
    assert daemon.pid in root.pids()  # the namespace outlives its holder while processes remain
    root.stop()
    daemon.wait(timeout=10)
    assert wait_until(lambda: not mounts_mentioning(str(root.dir)))
    assert not any(str(root.dir) in line for line in open("/proc/self/mountinfo"))
    root.start()  # the upper dir is free again
    assert root.run(["true"]).returncode == 0


def test_agent_dies_with_its_owner(tmp_path):
    owner_script = textwrap.dedent(f"""
        import sys, time
        from dcos_scaleio.sandbox.agentroot import AgentRoot
        root = AgentRoot({str(tmp_path)!r}, "orphan")
        root.start()
        proc = root.popen(["sleep", "300"])
        # popen returns while nsenter may still be joining the holder's namespaces: killing the
        # holder before it is in would kill the child too, and there would be no orphan to test.
        deadline = time.monotonic() + 30
        while proc.pid not in root.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(root.holder_pid, proc.pid, flush=True)
        time.sleep(300)
    """)
    owner = subprocess.Popen([sys.executable, "-c", owner_script], stdout=subprocess.PIPE, text=True)
    try:
        holder_pid, child_pid = map(int, owner.stdout.readline().split())
    finally:
        owner.kill()
        owner.wait()
    assert wait_until(lambda: not os.path.exists(f"/proc/{child_pid}/ns/mnt"))
    assert wait_until(lambda: not os.path.exists(f"/proc/{holder_pid}/ns/mnt"))
    assert wait_until(lambda: not mounts_mentioning(str(tmp_path / "orphan")))
    AgentRoot(tmp_path, "orphan").destroy()


def test_read_text_offline_follows_overlay_rules(fresh):
    root = fresh()
    root.run(["sh", "-c", "rm /etc/os-release && echo new > /etc/issue.d-test"])
    assert root.read_text("/etc/os-release") is None
    root.stop()
    assert root.read_text("/etc/os-release") is None  # whiteout
    assert root.read_text("/etc/issue.d-test") == "new\n"
    assert root.read_text("/etc/hostname") == pathlib.Path("/etc/hostname").read_text()
    assert os.path.exists("/etc/os-release")


def test_paths_are_validated(agent):
    with pytest.raises(ValueError):
        agent.path("etc/relative")
    with pytest.raises(ValueError):
        agent.path("/etc/../../escape")
    with pytest.raises(ValueError):
        AgentRoot("/tmp", "../evil")


# ---------------------------------------------------------------------------------------- the guard
GUARDED = ("/etc", "/usr", "/opt", "/var/lib")


def fingerprint():
    """Sorted listing (mode, size, mtime) of the guarded trees' top two levels."""
    rows = []
    for top in GUARDED:
        if not os.path.isdir(top):
            rows.append((top, "absent"))
            continue
        for entry in [top] + [os.path.join(top, n) for n in os.listdir(top)]:
            paths = [entry]
            if os.path.isdir(entry) and not os.path.islink(entry):
                try:
                    paths += [os.path.join(entry, n) for n in os.listdir(entry)]
                except OSError:
                    pass
            for p in paths:
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                rows.append((p, st.st_mode, st.st_size, st.st_mtime_ns))
    return sorted(rows)


def sha(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def test_guard_whole_agent_lifecycle_leaves_the_machine_unchanged(tmp_path):
    from dcos_scaleio.sandbox import hosts
    from dcos_scaleio.sandbox.hosts.packages import build_package

    tag = uuid.uuid4().hex[:12]
    written = [f"/etc/guard-{tag}", f"/usr/bin/guard-{tag}", f"/opt/guard-{tag}/x", f"/var/lib/guard-{tag}/y"]
    existing = ["/etc/hosts", "/etc/os-release", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/systemctl",
                "/var/lib/dpkg/status"]
    existing = [p for p in existing if os.path.exists(p)]
    before = fingerprint()
    shas = {p: sha(p) for p in existing}
    shared = tmp_path / "shared"
    pkg = build_package(shared, f"guard-pkg-{tag}", "1.0", "ubuntu",
                        files={f"/opt/guard-pkg-{tag}/bin/d": (b"#!/bin/sh\nexec sleep 300\n", 0o755),
                               f"/lib/systemd/system/guard-{tag}.service":
                                   f"[Service]\nExecStart=/opt/guard-pkg-{tag}/bin/d\n"
                                   f"[Install]\nWantedBy=multi-user.target\n".encode()},
                        scripts={"postinst": f"import subprocess\nsubprocess.run(['systemctl', 'enable', '--now', 'guard-{tag}'], check=True)\n"},
                        depends=["libaio1"])
    ubuntu = AgentRoot(tmp_path, "guard", shared_dirs=[str(shared)])
    rhel = AgentRoot(tmp_path, "guard-rhel")
    try:
        ubuntu.start()
        script = " && ".join(
            [f"mkdir -p $(dirname {p}) && echo guard > {p}" for p in written]
            + ["echo '127.9.9.9 guard' >> /etc/hosts", "rm /etc/os-release", "chmod 600 /etc/hosts",
               "mkdir -p /usr/lib/guard-dir /var/lib/dpkg-guard", f"touch /usr/share/guard-{tag}"])
        res = ubuntu.run(["sh", "-c", script])
        assert res.returncode == 0, res.stderr
        res = ubuntu.run([sys.executable, "-c", f"open('/var/lib/guard-{tag}/py', 'w').write('py')"])
        assert res.returncode == 0, res.stderr
        assert ubuntu.run(["cat", written[0]]).stdout == "guard\n"
        # The host toolchain: provisioned while running, package tools, services.
        hosts.provision(ubuntu, os_family="ubuntu", disks=[{"name": "sdb", "size_gb": 10}])
        for argv in (["apt-get", "install", "-y", "libaio1", "numactl"], ["dpkg", "-i", pkg],
                     ["systemctl", "is-active", f"guard-{tag}"], ["dpkg", "-r", f"guard-pkg-{tag}"],
                     ["apt-get", "install", "-y", "linux-image-4.4.0-38-generic"], ["lsblk"], ["uname", "-a"]):
            res = ubuntu.run(argv)
            assert res.returncode == 0, (argv, res.stdout, res.stderr)
        ubuntu.reboot()
        hosts.boot(ubuntu)
        assert ubuntu.run(["cat", written[3]]).stdout == "guard\n"
        assert ubuntu.run(["test", "-e", "/etc/os-release"]).returncode == 0  # provision wrote a new one
        assert ubuntu.run(["uname", "-r"]).stdout == "4.4.0-38-generic\n"
        # RHEL provisioned while stopped: whiteouts and opaque dirs written straight into the upper dir.
        hosts.provision(rhel, os_family="rhel")
        rhel.start()
        hosts.boot(rhel)
        for argv in (["yum", "install", "-y", "libaio"], ["rpm", "-qa"], ["systemctl", "is-active", "mesos-slave"]):
            res = rhel.run(argv)
            assert res.returncode == 0, (argv, res.stdout, res.stderr)
        assert rhel.run(["test", "-e", "/usr/bin/dpkg"]).returncode == 1
    finally:
        ubuntu.destroy()
        rhel.destroy()
    for p in written:
        assert not os.path.exists(p), p
    assert {p: sha(p) for p in existing} == shas
    assert fingerprint() == before
    assert not ubuntu.dir.exists() and not rhel.dir.exists()


def test_path_never_follows_an_agent_symlink_out_to_the_machine(agent, tmp_path):
    outside = tmp_path / "machine-file"
    outside.write_text("machine\n")
    # Absolute symlinks created inside the agent (overlay and tmpfs) name the agent's files, not ours.
    res = agent.run(["sh", "-c", f"ln -sf {outside} /etc/evil-link && ln -sf {outside} /tmp/evil-link"])
    assert res.returncode == 0, res.stderr
    agent.write_text("/etc/evil-link", "via etc\n")
    agent.write_text("/tmp/evil-link", "via tmp\n")
    assert outside.read_text() == "machine\n"
    assert agent.run(["cat", str(outside)]).stdout == "via tmp\n"  # both wrote the agent's own copy


def test_next_owner_cleans_up_what_a_crashed_owner_left(tmp_path):
    owner_script = textwrap.dedent(f"""
        import time
        from dcos_scaleio.sandbox.agentroot import AgentRoot
        root = AgentRoot({str(tmp_path)!r}, "stale")
        root.start()
        proc = root.popen(["sleep", "300"])
        # popen returns while nsenter may still be joining the holder's namespaces: killing the
        # holder before it is in would kill the child too, and there would be no orphan to test.
        deadline = time.monotonic() + 30
        while proc.pid not in root.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(root.holder_pid, proc.pid, flush=True)
        time.sleep(300)
    """)
    owner = subprocess.Popen([sys.executable, "-c", owner_script], stdout=subprocess.PIPE, text=True)
    try:
        holder_pid, child_pid = map(int, owner.stdout.readline().split())
        os.kill(holder_pid, signal.SIGKILL)  # holder first: nobody is left to clean up
        assert wait_until(lambda: not os.path.exists(f"/proc/{holder_pid}/ns/mnt"))
    finally:
        owner.kill()
        owner.wait()
    assert os.path.exists(f"/proc/{child_pid}/ns/mnt")  # the orphaned agent process lingers
    root = AgentRoot(tmp_path, "stale")
    try:
        root.start()
        assert wait_until(lambda: not os.path.exists(f"/proc/{child_pid}/ns/mnt"))
        assert root.pids() == []
    finally:
        root.destroy()
    assert wait_until(lambda: not mounts_mentioning(str(tmp_path / "stale")))


def test_write_and_remove_can_act_on_a_symlink_itself(fresh):
    root = fresh()
    res = root.run(["sh", "-c", "echo target > /opt/target && ln -s /opt/target /usr/local/bin/link"])
    assert res.returncode == 0, res.stderr
    root.write_text("/usr/local/bin/link", "replaced\n", follow=False)
    assert root.run(["cat", "/opt/target"]).stdout == "target\n"
    assert root.run(["test", "-L", "/usr/local/bin/link"]).returncode == 1
    root.run(["ln", "-sf", "/opt/target", "/usr/local/bin/link2"])
    root.remove("/usr/local/bin/link2")
    assert root.run(["cat", "/opt/target"]).stdout == "target\n"
    assert root.run(["test", "-e", "/usr/local/bin/link2"]).returncode == 1


def test_stale_record_naming_another_agents_namespace_kills_nothing(fresh, tmp_path):
    other = fresh("other")
    daemon = other.popen(["sleep", "300"])
    assert wait_until(lambda: daemon.pid in other.pids())
    # A crashed owner's record whose namespace id has since been recycled by another agent.
    victim_dir = tmp_path / "state2" / "recycled"
    victim_dir.mkdir(parents=True)
    (victim_dir / "holder.json").write_text(json.dumps({"pid": 1, "ns": os.readlink(f"/proc/{daemon.pid}/ns/mnt")}))
    root = AgentRoot(tmp_path / "state2", "recycled")
    try:
        root.start()
    finally:
        root.destroy()
    assert daemon.pid in other.pids()
    daemon.kill()
    daemon.wait()
