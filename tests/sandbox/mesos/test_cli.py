"""``python -m dcos_scaleio.sandbox mesos``: one JSON line when ready, SIGTERM stops everything."""
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def mounts_mentioning(text):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/mountinfo") as f:
                    found += [line for line in f if text in line]
            except OSError:
                continue
    return found


def read_line(proc, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            raise AssertionError(f"no ready line; got {buf!r}; stderr: {proc.stderr.read()[-2000:]!r}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                continue
            buf += chunk
    return buf.split(b"\n", 1)[0]


HOST_PATHS = ("/etc/mesos-slave", "/etc/sandbox", "/opt/mesosphere", "/var/lib/dcos")


def test_cli_prints_ready_line_and_stops_cleanly_on_sigterm(tmp_path):
    # The agents' flag files and agent.json exist only inside their roots, never on this machine.
    assert not any(os.path.exists(p) for p in HOST_PATHS)
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "dcos_scaleio.sandbox", "mesos", "--agents", "2",
                             "--public-agents", "1", "--port", "0", "--state-dir", str(state), "--flavour", "dcos"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        info = json.loads(read_line(proc, 60))
        assert [a["role"] for a in info["agents"]] == ["*", "*", "slave_public"]
        assert all(a["id"] and a["ip"].startswith("127.") and a["root"] for a in info["agents"])
        version = json.load(urllib.request.urlopen(f"http://{info['master']}/version", timeout=10))
        assert version["version"] == "1.11.0"
        control = json.load(urllib.request.urlopen(f"{info['control_url']}/state", timeout=10))
        assert control["master"] == info["master"]
        agent_json = json.loads((state / "roots" / "agent-1" / "upper" / "etc" / "sandbox" / "agent.json").read_text())
        assert agent_json == {"name": "agent-1", "hostname": info["agents"][0]["hostname"],
                              "ip": info["agents"][0]["ip"], "control_url": info["control_url"]}
        assert mounts_mentioning(str(state))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert mounts_mentioning(str(state)) == []
        assert not any(os.path.exists(p) for p in HOST_PATHS)
        assert (state / "roots" / "agent-1" / "upper" / "var" / "lib" / "dcos" / "mesos-slave-common").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_cli_agent_specs_file(tmp_path):
    specs = tmp_path / "agents.json"
    specs.write_text(json.dumps([{"name": "old", "version": "1.4.3", "attributes": {"rack": "a"}},
                                 {"name": "pub", "role": "slave_public", "flavour": "dcos"}]))
    proc = subprocess.Popen([sys.executable, "-m", "dcos_scaleio.sandbox", "mesos", "--agent-specs", str(specs),
                             "--port", "0", "--state-dir", str(tmp_path / "state"), "--update-retry", "1,5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        info = json.loads(read_line(proc, 60))
        assert [(a["name"], a["version"], a["role"], a["flavour"]) for a in info["agents"]] == [
            ("old", "1.4.3", "*", "mesos"), ("pub", "1.11.0", "slave_public", "dcos")]
        assert info["agents"][0]["attributes"] == {"rack": "a"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
