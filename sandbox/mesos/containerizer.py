"""Launching executor processes inside an agent's isolated root, as the Mesos containerizer does.

Blocking helpers (the agent calls them from worker threads):
- :func:`sandbox_path` - ``<work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>``
  (plus the ``runs/latest`` symlink);
- :func:`executor_environment` - the exact ``MESOS_*`` environment of slave.cpp ``executorEnvironment()``;
- :func:`command_argv` - ``/bin/sh -c value`` for shell commands, else ``value`` + ``arguments[1:]``;
- :func:`launch` - fetch the URIs, then ``AgentRoot.popen`` in the sandbox (own session) with
  ``stdout``/``stderr`` files in the sandbox;
- :func:`kill_session` - SIGKILL an executor's whole session (it may have forked).
"""
import os
import signal
import subprocess

from . import fetcher
from .protocol import format_duration


class LaunchError(Exception):
    """A container cannot be launched (the agent reports REASON_CONTAINER_LAUNCH_FAILED)."""


def sandbox_path(work_dir, agent_id, fid, eid, container_id):
    base = os.path.join(work_dir, "slaves", agent_id, "frameworks", fid, "executors", eid, "runs")
    path = os.path.join(base, container_id)
    os.makedirs(path, exist_ok=True)
    latest = os.path.join(base, "latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(container_id, latest)
    except OSError:
        pass
    return path


def executor_environment(*, agent, fid, eid, directory, checkpoint, grace_period, base_env, command_env):
    """``agent`` provides ``id``, ``ip``, ``port`` and ``config`` (flags)."""
    env = dict(base_env)
    env.update({
        "MESOS_FRAMEWORK_ID": fid,
        "MESOS_EXECUTOR_ID": eid,
        "MESOS_DIRECTORY": directory,
        "MESOS_SANDBOX": directory,
        "MESOS_SLAVE_ID": agent.agent_id,
        "MESOS_SLAVE_PID": f"slave(1)@{agent.ip}:{agent.port}",
        "MESOS_AGENT_ENDPOINT": f"{agent.ip}:{agent.port}",
        "MESOS_CHECKPOINT": "1" if checkpoint else "0",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": format_duration(grace_period),
        "LIBPROCESS_PORT": "0",
        "LIBPROCESS_IP": agent.ip,
    })
    if checkpoint:
        env["MESOS_RECOVERY_TIMEOUT"] = "15mins"
        env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = format_duration(agent.config.executor_reregistration_timeout)
    for var in (command_env or {}).get("variables", []):
        if isinstance(var, dict) and var.get("name") and var.get("type", "VALUE") == "VALUE":
            env[var["name"]] = var.get("value", "")
    return env


def command_argv(command):
    value = command.get("value", "")
    if command.get("shell", True):
        return ["/bin/sh", "-c", value]
    args = list(command.get("arguments", []))
    return [value] + args[1:]


def launch(root, command, env, directory, resolve_local):
    """Fetch, then start the command inside ``root``; returns the Popen (pid = session id)."""
    fetcher.fetch_all(command.get("uris", []), directory, resolve_local)
    with open(os.path.join(directory, "stdout"), "ab") as out, open(os.path.join(directory, "stderr"), "ab") as err:
        return root.popen(command_argv(command), cwd=directory, env=env, stdin=subprocess.DEVNULL,
                          stdout=out, stderr=err)


def session_pids(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                pids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def kill_session(sid, sig=signal.SIGKILL):
    """Signal every process of session ``sid`` (the executor and anything it forked)."""
    for pid in session_pids(sid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_status(returncode):
    """A Popen returncode as the int wait status Mesos reports in FAILURE events."""
    if returncode is None:
        return 0
    if returncode < 0:
        return -returncode & 0x7F
    return (returncode & 0xFF) << 8
