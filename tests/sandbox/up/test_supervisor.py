"""The Marathon-like supervisor restarts a SIGKILLed child and keeps the pid file current."""
import os
import signal
import sys
import time

import pytest

from dcos_scaleio.sandbox.supervisor import Supervisor

pytestmark = pytest.mark.sandbox

# A trivial child: records its pid, then waits to be killed.
CHILD = ["-c", "import os, time; open('incarnations', 'a').write(f'{os.getpid()}\\n'); time.sleep(600)"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ", 1)[1][0] != "Z"


def _wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def supervisor(tmp_path):
    sup = Supervisor([sys.executable, *CHILD], pid_file=tmp_path / "child.pid", log_dir=tmp_path / "logs",
                     cwd=tmp_path, backoff_initial=0.1, backoff_max=0.5, name="trivial")
    yield sup
    sup.stop()


def test_sigkilled_child_is_restarted_and_pid_file_follows(supervisor, tmp_path):
    supervisor.start()
    first = supervisor.pid
    assert int((tmp_path / "child.pid").read_text()) == first
    _wait_until(lambda: (tmp_path / "incarnations").exists(), 30, "the child to run")

    os.kill(first, signal.SIGKILL)
    second = supervisor.wait_for_new_pid(first, timeout=30)
    assert second != first
    assert int((tmp_path / "child.pid").read_text()) == second
    assert supervisor.restarts == 1
    assert (first, -signal.SIGKILL) in supervisor.exits
    _wait_until(lambda: len((tmp_path / "incarnations").read_text().split()) == 2, 30, "the second child")
    assert (tmp_path / "incarnations").read_text().split() == [str(first), str(second)]

    os.kill(second, signal.SIGKILL)   # and again: supervision goes on
    third = supervisor.wait_for_new_pid(second, timeout=30)
    assert int((tmp_path / "child.pid").read_text()) == third
    assert "--- start pid %d" % third in (tmp_path / "logs" / "stdout").read_text()


def test_stop_terminates_the_child_and_does_not_restart_it(supervisor, tmp_path):
    supervisor.start()
    pid = supervisor.pid
    supervisor.stop()
    assert not _alive(pid)
    assert not (tmp_path / "child.pid").exists()
    assert supervisor.restarts == 0
    assert supervisor.exits == [(pid, -signal.SIGTERM)]


def test_a_child_that_cannot_start_is_reported(tmp_path):
    sup = Supervisor([str(tmp_path / "missing-program")], pid_file=tmp_path / "p.pid", log_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        sup.start()
    assert not (tmp_path / "p.pid").exists()


def test_a_restart_that_cannot_exec_is_retried_until_the_program_is_back(tmp_path):
    program = tmp_path / "prog"
    program.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    program.chmod(0o755)
    sup = Supervisor([str(program)], pid_file=tmp_path / "p.pid", log_dir=tmp_path / "logs",
                     backoff_initial=0.05, backoff_max=0.2)
    try:
        first = sup.start().pid
        saved = program.read_text()
        program.unlink()
        os.kill(first, signal.SIGKILL)
        _wait_until(lambda: len(sup.spawn_failures) >= 2, 30, "failed restarts")
        assert int((tmp_path / "p.pid").read_text()) == first   # no child: the file still names the dead one
        program.write_text(saved)
        program.chmod(0o755)
        second = sup.wait_for_new_pid(first, timeout=30)
        assert int((tmp_path / "p.pid").read_text()) == second
        assert sup.restarts == 1
    finally:
        sup.stop()


def test_hooks_give_each_incarnation_its_own_launch_and_kill_child_replaces_it(tmp_path):
    """prepare() picks argv/cwd per launch (a failing one is retried with retry_start),
    on_spawn/on_exit see every incarnation, kill_child() ends one and supervision goes on."""
    launches, spawned, exited = [], [], []

    def prepare():
        n = len(launches) + 1
        launches.append(n)
        if n == 1:
            raise OSError("first launch fails (a fetch, say)")
        cwd = tmp_path / f"run{n}"
        cwd.mkdir()
        return {"argv": [sys.executable, *CHILD], "cwd": str(cwd), "log_dir": str(cwd)}

    sup = Supervisor(["/bin/false"], pid_file=None, log_dir=tmp_path / "logs", backoff_initial=0.05,
                     backoff_max=0.2, prepare=prepare, on_spawn=spawned.append,
                     on_exit=lambda pid, code: exited.append((pid, code)), retry_start=True)
    try:
        sup.start()   # returns after the failed first attempt
        assert sup.spawn_failures == ["OSError: first launch fails (a fetch, say)"]
        first = sup.wait_for_new_pid(None, timeout=30)
        _wait_until(lambda: (tmp_path / "run2" / "incarnations").exists(), 30, "the second launch to run")
        assert spawned == [first]
        assert sup.kill_child(grace=5) == first
        second = sup.wait_for_new_pid(first, timeout=30)
        _wait_until(lambda: (tmp_path / "run3" / "incarnations").exists(), 30, "the third launch to run")
        assert exited == [(first, -signal.SIGTERM)] and spawned == [first, second]
        assert "--- start pid %d" % second in (tmp_path / "run3" / "stdout").read_text()
    finally:
        sup.stop()
    assert not _alive(second)
