"""``systemctl reboot`` inside an emulated agent reboots its host through the Mesos emulator's control
API (what the executor does when the operator allowed a reboot for a new kernel)."""
import time

import pytest

from dcos_scaleio.sandbox import hosts

from mesos_testfw.clusters import AgentSpec, make_cluster

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def test_systemctl_reboot_reboots_the_agent_host(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory, [AgentSpec("rbt0")])
    cluster.start()
    try:
        agent = cluster.agent("rbt0")
        hosts.provision(agent.root, flavour="mesos")
        agent.root.write_text("/run/before-reboot", "x\n")      # runtime state: gone after a reboot
        result = agent.root.run(["systemctl", "reboot"], timeout=60)
        # It returns at once (0), or the reboot's SIGKILL of every process in the host gets it first.
        assert result.returncode in (0, -9), result.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if agent.state == "running" and agent.root.read_text("/run/before-reboot") is None:
                break
            time.sleep(0.1)
        assert agent.root.read_text("/run/before-reboot") is None
        assert agent.state == "running"                        # its unit started it again
    finally:
        cluster.stop()


def test_systemctl_reboot_without_an_emulator_fails_like_an_unreachable_init(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory, [AgentSpec("rbt1")])
    cluster.start()
    try:
        root = cluster.agent("rbt1").root
        hosts.provision(root, flavour="mesos")
        root.write_text("/etc/sandbox/agent.json", '{"name": "rbt1", "control_url": null}\n')
        result = root.run(["systemctl", "reboot"], timeout=60)
        assert result.returncode == 1 and "Failed to talk to init daemon." in result.stderr
    finally:
        cluster.stop()
