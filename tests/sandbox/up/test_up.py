"""``sandbox up``: the world, the real scheduler under supervision, one JSON line, clean SIGTERM."""
import glob
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from support.waiting import pid_alive, wait_for

# The timeout covers the one-time artifact builds (both programs) on a loaded machine.
pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(900)]

UP = "import sys; from dcos_scaleio.sandbox.up import main; sys.exit(main(sys.argv[1:]))"


def _descendants(root_pid: int) -> set[int]:
    """Every live process below ``root_pid`` (by parent links in /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _working_in(directory: str) -> set[int]:
    """Live processes whose working directory is inside ``directory``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if (cwd == directory or cwd.startswith(directory + "/")) and pid_alive(int(entry)):
                found.add(int(entry))
    return found


def _argv0(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def _tail(state_dir: str, name: str, size: int = 3000) -> str:
    try:
        with open(os.path.join(state_dir, name), errors="replace") as fh:
            return fh.read()[-size:]
    except OSError as exc:
        return f"({exc})"


def _get(url: str):
    """(status, JSON body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def up_process(tmp_path):
    """Run ``up`` in existing mode with 2 agents, running what ships: the scheduler and executor
    artifacts; yield (proc, info)."""
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-c", UP, "--agents", "2", "--mode", "existing",
                             "--state-dir", str(state), "--frozen-scheduler"], stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "up.stderr", "wb"), text=True)
    try:
        line = proc.stdout.readline()   # bounded by the world's own ready timeouts (and pytest's)
        if not line:
            proc.wait(30)
            pytest.fail(f"up exited {proc.returncode}:\n{(tmp_path / 'up.stderr').read_text()[-3000:]}")
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def test_up_serves_the_scheduler_restarts_it_and_cleans_up_on_sigterm(up_process):
    proc, info = up_process
    state_dir = info["state_dir"]
    for key in ("master", "control_url", "scheduler_api", "scheduler_pid", "gateway_url", "ca_path",
                "admin_password", "state_dir", "mirror_url", "pid_file", "options_file",
                "dcos_url", "dcos_ca_path", "dcos_acs_token", "users", "api_token"):
        assert info[key], key
    assert [a["os"] for a in info["agents"]] == ["ubuntu", "rhel"]

    # The operator options: private, pointing at this world, with the served executor's sha256.
    options_file = info["options_file"]
    assert stat.S_IMODE(os.stat(options_file).st_mode) == 0o600
    options = json.loads(open(options_file).read())
    assert options["service"]["mesos_master"] == info["master"]
    assert options["scaleio"]["mode"] == "existing"
    assert options["scaleio"]["admin_password"] == info["admin_password"]
    assert options["scaleio"]["gateway"]["ca_file"] == info["ca_path"]
    executor = options["artifacts"]["executor"]
    assert executor == info["executor_artifact"]
    with urllib.request.urlopen(executor["url"], timeout=30) as resp:
        assert hashlib.sha256(resp.read()).hexdigest() == executor["sha256"]

    # The scheduler is the frozen artifact, and so are the executors it launched (from the mirror).
    assert os.readlink(f"/proc/{info['scheduler_pid']}/exe").endswith("/scheduler-bin/dcos-scaleio-scheduler")
    # (found by its fetched + extracted artifact in an executor run dir, even if it already exited)
    runs = os.path.join(state_dir, "mesos", "agents", "*", "work", "slaves", "*", "frameworks", "*", "executors", "*",
                        "runs", "*", "dcos-scaleio-executor")
    try:
        wait_for(lambda: glob.glob(runs), 60, "an executor launched from the artifact")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; scheduler log:\n{_tail(state_dir, 'scheduler/stderr')}") from None

    # The real scheduler answers its deploy plan (SDK shape).
    status, plan = wait_for(lambda: _get(info["scheduler_api"] + "/v1/plans/deploy"), 30, "the deploy plan")
    assert status in (200, 202, 417)
    assert plan["phases"] and plan["phases"][0]["steps"] and isinstance(plan["status"], str)

    # SIGKILL the scheduler: the supervisor starts a new one, the pid file follows, the API comes back.
    first = info["scheduler_pid"]
    assert int(open(info["pid_file"]).read()) == first
    os.kill(first, signal.SIGKILL)
    second = wait_for(lambda: (lambda p: p if p != first else None)(int(open(info["pid_file"]).read() or 0)),
                       30, "a new scheduler pid")
    assert pid_alive(second) and second in _descendants(proc.pid)
    # (503 "starting" while the new scheduler still waits for the dead one's store lock)
    status, _ = wait_for(lambda: (lambda r: r if r and r[0] != 503 else None)(
        _safe_get(info["scheduler_api"] + "/v1/plans/deploy")), 90, "the restarted scheduler's plan")
    assert status in (200, 202, 417)

    # SIGTERM: everything it started goes away: processes (scheduler, executors), mounts, pid file.
    # Executors may be reparented away from `up` (agent restarts), so also find them by working dir.
    in_world = _working_in(state_dir)
    assert any(_argv0(p) == "./dcos-scaleio-executor" for p in in_world), "no executor runs in the world"
    started = _descendants(proc.pid) | in_world
    assert second in started
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    wait_for(lambda: not [p for p in started if pid_alive(p)], 15, "every started process to exit")
    assert _working_in(state_dir) == set()
    with open("/proc/mounts") as fh:
        assert [line for line in fh if state_dir in line] == []
    assert not os.path.exists(info["pid_file"])


def _safe_get(url):
    try:
        return _get(url)
    except OSError:
        return None
