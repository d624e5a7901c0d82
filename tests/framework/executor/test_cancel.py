"""The cancellation hook in framework.host.hostcmd that the executor's task kill relies on: real
commands in their own process groups, killed from another thread."""
import threading
import time

import pytest

from dcos_scaleio.framework.host import hostcmd
from dcos_scaleio.framework.host.hostcmd import CommandError, Host, allow_commands, cancel_commands


@pytest.fixture(autouse=True)
def _allowed():
    allow_commands()
    yield
    allow_commands()


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_cancel_kills_the_running_command_group_and_refuses_new_ones(tmp_path):
    pidfile = tmp_path / "pids"
    host = Host()
    outcome = {}

    def step():
        try:
            # A command with a child of its own: the whole group must go.
            host.run(["sh", "-c", f"sleep 60 & echo $$ $! > {pidfile}; wait"], timeout=120)
        except CommandError as exc:
            outcome["error"] = exc
        try:
            host.run(["true"])
        except CommandError as exc:
            outcome["next"] = exc

    worker = threading.Thread(target=step)
    worker.start()
    assert _wait(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
    pids = [int(p) for p in pidfile.read_text().split()]
    assert cancel_commands() == 1
    worker.join(10)
    assert not worker.is_alive()
    assert "cancelled" in str(outcome["error"]) and outcome["error"].rc == -9
    assert "cancelled" in str(outcome["next"])            # nothing new starts while cancelled
    assert _wait(lambda: not any(_alive(p) for p in pids))
    assert [c["argv"] for c in host.log][-1] == "true"
    assert not hostcmd._CANCEL.running


def test_commands_run_again_after_allow():
    cancel_commands()
    with pytest.raises(CommandError):
        Host().run(["true"])
    allow_commands()
    assert Host().run(["true"]).ok


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
