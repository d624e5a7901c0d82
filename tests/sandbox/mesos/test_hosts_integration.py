"""The emulator together with the host toolchain: an agent's own service unit (``systemctl restart
mesos-slave`` inside the agent) restarts it through the control API named in /etc/sandbox/agent.json."""
import json
import time
import urllib.request

import pytest

from dcos_scaleio.sandbox import hosts

from mesos_testfw.clusters import AgentSpec, make_cluster

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.mark.parametrize("flavour,unit,flag_file,line", [
    ("mesos", "mesos-slave", "/etc/mesos-slave/isolation", "posix/cpu,posix/mem,docker/volume\n"),
    ("dcos", "dcos-mesos-slave", "/var/lib/dcos/mesos-slave-common",
     "MESOS_ATTRIBUTES=rack:r1\nMESOS_ISOLATION=posix/cpu,posix/mem,docker/volume\n"),
])
def test_agent_unit_restarts_the_emulated_agent(tmp_path_factory, flavour, unit, flag_file, line):
    cluster = make_cluster(tmp_path_factory, [AgentSpec("h0", flavour=flavour, attributes={"rack": "r1"})])
    cluster.start()
    try:
        agent = cluster.agent("h0")
        old_id = agent.agent_id
        hosts.provision(agent.root, flavour=flavour)
        assert hosts.boot(agent.root) == []            # the unit's start is idempotent for a running agent
        assert agent.state == "running" and agent.agent_id == old_id
        agent.root.write_text(flag_file, line)
        result = agent.root.run(["systemctl", "restart", unit], timeout=60)
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            flags = json.load(urllib.request.urlopen(f"http://{agent.ip}:5051/flags", timeout=5))["flags"] \
                if agent.state == "running" else {}
            if flags.get("isolation") == "posix/cpu,posix/mem,docker/volume":
                break
            time.sleep(0.1)
        assert flags.get("isolation") == "posix/cpu,posix/mem,docker/volume"
        assert agent.agent_id == old_id
    finally:
        cluster.stop()


def test_reboot_of_a_provisioned_host_starts_the_agent_through_its_unit(tmp_path_factory, schedulers):
    from mesos_testfw.harness import executor_info
    cluster = make_cluster(tmp_path_factory, [AgentSpec("rb0")])
    cluster.start()
    try:
        agent = cluster.agent("rb0")
        hosts.provision(agent.root, flavour="mesos")
        s = schedulers(cluster.master_address, name="reboot")
        s.wait_ev("registered")
        s.send("launch", tasks=[{"task_id": "r0", "executor": executor_info("rex")}])
        s.wait_ev("status", task_id="r0", state="TASK_RUNNING", timeout=30)
        mark = s.mark()
        info = cluster.reboot_agent("rb0")
        assert info["state"] == "running" and info["id"] == agent.agent_id
        assert s.wait_ev("status", since=mark, task_id="r0")["state"] == "TASK_LOST"
        # With the unit disabled the agent stays down after a reboot, as on a real host.
        assert agent.root.run(["systemctl", "disable", "mesos-slave"], timeout=60).returncode == 0
        assert cluster.reboot_agent("rb0")["state"] == "stopped"
        s.stop(failover=False)
    finally:
        cluster.stop()
