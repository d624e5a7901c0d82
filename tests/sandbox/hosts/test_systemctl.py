"""The fake systemctl inside a real agent root: services really run inside the agent."""
import os
import sys
import textwrap
import time

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

PY = sys.executable
# A daemon that writes its start into a journal file (to check ordering), optionally notifies
# readiness, and runs until stopped.
DAEMON = textwrap.dedent("""
    import os, socket, sys, time
    with open('/var/tmp/order.log', 'a') as f:
        f.write(sys.argv[1] + ' ' + os.environ.get('GREETING', '-') + '\\n')
    if len(sys.argv) > 2:
        sys.exit(int(sys.argv[2]))  # fails before becoming ready
    if os.environ.get('NOTIFY_SOCKET'):
        time.sleep(0.3)  # readiness takes a while: start must wait for it
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])
    while True:
        time.sleep(1)
""")


def unit(description, exec_start, *, unit_extra="", service_extra="", install="WantedBy=multi-user.target"):
    return (f"[Unit]\nDescription={description}\n{unit_extra}\n[Service]\nExecStart={exec_start}\n{service_extra}\n"
            f"[Install]\n{install}\n")


@pytest.fixture(scope="module")
def svc(ubuntu):
    """The ubuntu agent with a daemon script and a handful of units."""
    root = ubuntu.root
    root.write_text("/usr/local/bin/daemon.py", DAEMON, mode=0o755)
    d = "/lib/systemd/system"
    root.write_text(f"{d}/scini.service", unit("ScaleIO SDC driver", f"{PY} /usr/local/bin/daemon.py scini"))
    root.write_text(f"{d}/rexray.service", unit(
        "REX-Ray", f"{PY} /usr/local/bin/daemon.py rexray",
        unit_extra="Requires=scini.service\nAfter=scini.service"))
    root.write_text(f"{d}/mdm.service", unit(
        "ScaleIO MDM", f"{PY} /usr/local/bin/daemon.py mdm",
        service_extra="Type=notify\nEnvironment=GREETING=hello\nEnvironmentFile=-/etc/default/mdm"))
    # Type=notify makes the failure deterministic: start waits for READY=1 or the process's exit
    # (a Type=simple service that dies is only caught if it dies within a short grace period).
    root.write_text(f"{d}/broken.service", unit("Broken", f"{PY} /usr/local/bin/daemon.py broken 3",
                                                service_extra="Type=notify"))
    root.write_text(f"{d}/needs-broken.service", unit(
        "Needs broken", f"{PY} /usr/local/bin/daemon.py nb", unit_extra="Requires=broken.service\nAfter=broken.service"))
    root.write_text(f"{d}/missing-binary.service", unit("Missing", "/opt/nothing/here"))
    root.write_text(f"{d}/once.service", unit(
        "One shot", "/bin/sh -c 'echo once >> /var/tmp/once.log'", service_extra="Type=oneshot\nRemainAfterExit=yes"))
    ubuntu.ok("systemctl", "daemon-reload")
    return ubuntu


def order(host):
    return [line.split()[0] for line in (host.root.read_text("/var/tmp/order.log") or "").splitlines()]


def main_pid(host, name):
    return int(host.ok("systemctl", "show", "-p", "MainPID", "--value", name).stdout.strip())


def test_start_stop_is_active(svc):
    res = svc("systemctl", "is-active", "scini")
    assert (res.returncode, res.stdout) == (3, "inactive\n")
    svc.ok("systemctl", "start", "scini")
    res = svc("systemctl", "is-active", "scini")
    assert (res.returncode, res.stdout) == (0, "active\n")
    pid = main_pid(svc, "scini")
    assert pid in svc.root.pids()  # the service runs inside the agent
    status = svc.ok("systemctl", "status", "scini").stdout
    assert "Active: active (running)" in status and f"Main PID: {pid}" in status
    svc.ok("systemctl", "stop", "scini.service")
    assert svc("systemctl", "is-active", "scini").returncode == 3
    assert pid not in svc.root.pids()
    assert svc("systemctl", "status", "scini").returncode == 3


def test_requires_and_after_start_dependencies_first_and_stop_propagates(svc):
    svc.root.write_text("/var/tmp/order.log", "")
    svc.ok("systemctl", "start", "rexray")
    assert order(svc) == ["scini", "rexray"]
    assert svc("systemctl", "is-active", "scini").returncode == 0
    svc.ok("systemctl", "stop", "scini")
    assert svc("systemctl", "is-active", "rexray").stdout == "inactive\n"


def test_notify_service_is_ready_when_start_returns_and_gets_its_environment(svc):
    svc.root.write_text("/var/tmp/order.log", "")
    svc.ok("systemctl", "start", "mdm")
    assert svc.root.read_text("/var/tmp/order.log") == "mdm hello\n"
    assert svc("systemctl", "is-active", "mdm").returncode == 0
    svc.ok("systemctl", "restart", "mdm")
    assert order(svc) == ["mdm", "mdm"]
    svc.ok("systemctl", "stop", "mdm")


def test_failing_exec_start_fails_the_job(svc):
    res = svc("systemctl", "start", "broken")
    assert res.returncode == 1
    assert res.stderr.startswith("Job for broken.service failed because the control process exited with error code.")
    res = svc("systemctl", "is-active", "broken")
    assert (res.returncode, res.stdout) == (3, "failed\n")
    assert svc("systemctl", "is-failed", "broken").returncode == 0
    res = svc("systemctl", "start", "needs-broken")
    assert res.returncode == 1 and "A dependency job for needs-broken.service failed." in res.stderr
    res = svc("systemctl", "start", "missing-binary")
    assert res.returncode == 1
    assert "Failed at step EXEC" in svc.root.read_text("/var/log/sandbox/missing-binary.service.log")


def test_unknown_unit(svc):
    res = svc("systemctl", "start", "nope")
    assert res.returncode == 5 and "Unit nope.service not found." in res.stderr
    res = svc("systemctl", "status", "nope")
    assert res.returncode == 4 and "Unit nope.service could not be found." in res.stderr
    res = svc("systemctl", "is-active", "nope")
    assert (res.returncode, res.stdout) == (3, "inactive\n")
    res = svc("systemctl", "is-enabled", "nope")
    assert res.returncode == 1 and "No such file or directory" in res.stderr


def test_crashed_service_reports_failed(svc):
    svc.ok("systemctl", "start", "scini")
    pid = main_pid(svc, "scini")
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while pid in svc.root.pids() and time.monotonic() < deadline:  # SIGKILL delivery is asynchronous
        time.sleep(0.02)
    res = svc("systemctl", "is-active", "scini")
    assert (res.returncode, res.stdout) == (3, "failed\n")
    svc.ok("systemctl", "restart", "scini")
    assert svc("systemctl", "is-active", "scini").returncode == 0
    svc.ok("systemctl", "stop", "scini")


def test_oneshot_remain_after_exit(svc):
    svc.ok("systemctl", "start", "once")
    svc.ok("systemctl", "start", "once")  # already active: not run again
    assert svc.root.read_text("/var/tmp/once.log") == "once\n"
    assert svc("systemctl", "is-active", "once").returncode == 0
    assert "active (exited)" in svc.ok("systemctl", "status", "once").stdout


def test_enable_disable_is_enabled(svc):
    res = svc("systemctl", "is-enabled", "scini")
    assert (res.returncode, res.stdout) == (1, "disabled\n")
    res = svc.ok("systemctl", "enable", "scini")
    assert ("Created symlink from /etc/systemd/system/multi-user.target.wants/scini.service to "
            "/lib/systemd/system/scini.service.") in res.stderr
    assert svc.ok("systemctl", "is-enabled", "scini").stdout == "enabled\n"
    assert svc.ok("systemctl", "enable", "scini").stderr == ""  # idempotent
    res = svc.ok("systemctl", "disable", "--now", "scini")
    assert "Removed symlink /etc/systemd/system/multi-user.target.wants/scini.service." in res.stderr
    res = svc.ok("systemctl", "enable", "--now", "scini")
    assert svc("systemctl", "is-active", "scini").returncode == 0
    svc.ok("systemctl", "disable", "--now", "scini")
    assert svc("systemctl", "is-active", "scini").returncode == 3


def test_changed_unit_file_needs_daemon_reload(svc):
    d = "/lib/systemd/system"
    svc.root.write_text(f"{d}/greeter.service", unit(
        "Greeter", f"{PY} /usr/local/bin/daemon.py greeter", service_extra="Environment=GREETING=old"))
    svc.root.write_text("/var/tmp/order.log", "")
    svc.ok("systemctl", "start", "greeter")  # a new unit loads on demand
    svc.root.write_text(f"{d}/greeter.service", unit(
        "Greeter", f"{PY} /usr/local/bin/daemon.py greeter", service_extra="Environment=GREETING=new"))
    res = svc.ok("systemctl", "restart", "greeter")
    assert "Warning: greeter.service changed on disk. Run 'systemctl daemon-reload' to refresh units." in res.stderr
    svc.ok("systemctl", "daemon-reload")
    svc.ok("systemctl", "restart", "greeter")
    assert svc.root.read_text("/var/tmp/order.log").splitlines() == ["greeter old", "greeter old", "greeter new"]
    svc.ok("systemctl", "stop", "greeter")


def test_reboot_forgets_runtime_state_and_boot_starts_enabled_units(svc):
    from dcos_scaleio.sandbox import hosts
    svc.ok("systemctl", "enable", "rexray")
    svc.ok("systemctl", "start", "mdm")
    svc.root.reboot()
    assert svc("systemctl", "is-active", "mdm").returncode == 3
    assert svc("systemctl", "is-active", "rexray").returncode == 3
    assert hosts.boot(svc.root) == []
    assert svc("systemctl", "is-active", "rexray", "scini").stdout == "active\nactive\n"  # Requires pulled scini in
    assert svc("systemctl", "is-active", "mdm").returncode == 3  # not enabled
    svc.ok("systemctl", "disable", "--now", "rexray")
    svc.ok("systemctl", "stop", "scini")


def test_sysv_init_script_gets_a_generated_unit(svc):
    svc.root.write_text("/etc/init.d/legacy", "#!/bin/sh\necho \"$1\" >> /var/tmp/legacy.log\n", mode=0o755)
    svc.ok("systemctl", "start", "legacy")
    assert svc.ok("systemctl", "is-active", "legacy").stdout == "active\n"
    svc.ok("systemctl", "stop", "legacy")
    assert svc.root.read_text("/var/tmp/legacy.log") == "start\nstop\n"
    assert svc("systemctl", "is-active", "legacy").returncode == 3


def test_exec_commands_may_call_systemctl(svc):
    svc.root.write_text("/lib/systemd/system/chain.service", unit(
        "Starts another unit from ExecStartPre", "/bin/true",
        service_extra="Type=oneshot\nRemainAfterExit=yes\nExecStartPre=/usr/bin/systemctl start once"))
    svc.ok("systemctl", "start", "chain", timeout=30)
    assert svc("systemctl", "is-active", "chain", "once").stdout == "active\nactive\n"


def test_service_command_hands_over_to_systemctl(svc):
    svc.ok("service", "scini", "start")
    assert svc("systemctl", "is-active", "scini").returncode == 0
    assert "Active: active (running)" in svc.ok("service", "scini", "status").stdout
    svc.ok("service", "scini", "stop")
    assert svc("service", "scini", "status").returncode == 3
    assert svc("service", "scini").returncode == 1


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_restart_on_failure_brings_a_killed_service_back(svc):
    svc.root.write_text("/lib/systemd/system/phoenix.service", unit(
        "Restarts", f"{PY} /usr/local/bin/daemon.py phoenix",
        service_extra="Type=notify\nRestart=on-failure\nRestartSec=0.2\nKillMode=process"))
    svc.ok("systemctl", "start", "phoenix")
    first = main_pid(svc, "phoenix")
    os.kill(first, 9)
    assert wait_for(lambda: main_pid(svc, "phoenix") not in (0, first)
                    and svc("systemctl", "is-active", "phoenix").returncode == 0)
    second = main_pid(svc, "phoenix")
    assert second in svc.root.pids()
    svc.ok("systemctl", "stop", "phoenix")
    assert svc("systemctl", "is-active", "phoenix").stdout == "inactive\n"
    assert wait_for(lambda: second not in svc.root.pids())
    assert svc.ok("systemctl", "show", "-p", "MainPID", "--value", "phoenix").stdout == "0\n"


def test_restart_gives_up_at_the_start_limit(svc):
    # Ready, then dies 0.1 s later, forever: the start limit (3 in 30 s here) ends it.
    svc.root.write_text("/usr/local/bin/flaky.py", textwrap.dedent("""
        import os, socket, time
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if os.environ.get('NOTIFY_SOCKET'):
            s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])
        time.sleep(0.1)
        raise SystemExit(1)
    """), mode=0o755)
    svc.root.write_text("/lib/systemd/system/flaky.service", unit(
        "Flaky", f"{PY} /usr/local/bin/flaky.py",
        unit_extra="StartLimitBurst=3\nStartLimitIntervalSec=30",
        service_extra="Type=notify\nRestart=always\nRestartSec=0.05"))
    svc.ok("systemctl", "start", "flaky")
    assert wait_for(lambda: svc("systemctl", "show", "-p", "Result", "--value", "flaky").stdout == "start-limit-hit\n")
    assert svc("systemctl", "is-active", "flaky").stdout == "failed\n"


def test_kill_mode_process_leaves_helpers_running(svc):
    svc.root.write_text("/lib/systemd/system/forker.service", unit(
        "Leaves a helper", "/bin/sh -c 'sleep 300 & exec sleep 301'", service_extra="KillMode=process"))
    svc.ok("systemctl", "start", "forker")
    main = main_pid(svc, "forker")
    helpers = [p for p in svc.root.pids() if os.getsid(p) == main and p != main]
    assert helpers
    svc.ok("systemctl", "stop", "forker")
    assert main not in svc.root.pids()
    assert all(p in svc.root.pids() for p in helpers)  # as real systemd leaves them with KillMode=process
    for p in helpers:
        os.kill(p, 9)
