"""Docker volumes: dvdcli mount/unmount inside the agent root when the agent's flags enable the
docker/volume isolator (or a DVDI module built for its Mesos version), a real agent's failure otherwise."""
import json
import pathlib
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from dcos_scaleio.sandbox.workload import GONE_STATES, VolumeWorkload, WorkloadError, run_volume_task
from mesos_testfw.clusters import AgentSpec, make_cluster
from mesos_testfw.harness import executor_info

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

DVDCLI = (pathlib.Path(__file__).resolve().parents[2] / "mesos_testfw" / "dvdcli_fixture.sh").read_text()
DVDI_LIB = "/usr/lib/libmesos_dvdi_isolator-1.0.1.so"
PERSISTENT_CHECKPOINT = "/var/lib/mesos/isolators/docker/volume"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    dvdcli = {"/usr/bin/dvdcli": [DVDCLI, 0o755]}
    module_files = {DVDI_LIB: "not really a shared object\n", "/usr/lib/dvdi-mod.json": json.dumps({"libraries": [{
        "file": DVDI_LIB, "modules": [{"name": "com_emccode_mesos_DockerVolumeDriverIsolator",
                                       "parameters": [{"key": "isolator_command", "value": "/emc/dvdi_isolator"}]}]}]})}
    specs = [
        AgentSpec("dv", isolation="posix/cpu,posix/mem,docker/volume", files=dvdcli),
        AgentSpec("nodvdcli", isolation="posix/cpu,posix/mem,docker/volume"),
        AgentSpec("noiso", files=dvdcli),
        AgentSpec("dvdi", version="1.0.1", flags={"modules": "file:///usr/lib/dvdi-mod.json"},
                  isolation="com_emccode_mesos_DockerVolumeDriverIsolator,posix/cpu,posix/mem",
                  files=dict(dvdcli, **module_files)),
        # The isolator's checkpoint in /var/run (default: lost on reboot) and on disk (what the
        # framework's dvdi step configures).
        AgentSpec("ckrun", isolation="posix/cpu,posix/mem,docker/volume", files=dvdcli),
        AgentSpec("ckdisk", isolation="posix/cpu,posix/mem,docker/volume", files=dvdcli,
                  flags={"docker_volume_checkpoint_dir": PERSISTENT_CHECKPOINT}),
    ]
    c = make_cluster(tmp_path_factory, specs)
    c.start()
    yield c
    c.stop()


def volume_executor(eid, name):
    ex = executor_info(eid)
    ex["container"] = {"type": "MESOS", "volumes": [{"container_path": "data", "mode": "RW", "source": {
        "type": "DOCKER_VOLUME", "docker_volume": {"driver": "rexray", "name": name}}}]}
    return ex


def dvdcli_log(cluster, name):
    return (cluster.agent(name).root.read_text("/var/log/dvdcli.log") or "").splitlines()


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_docker_volume_mounted_and_unmounted_with_dvdcli(cluster, schedulers):
    agent = cluster.agent("dv")
    s = schedulers(cluster.master_address, name="vol")
    s.wait_ev("registered")
    s.send("launch", tasks=[{"task_id": "v0", "agent": agent.hostname, "executor": volume_executor("vex", "vol1")}])
    s.wait_ev("status", task_id="v0", state="TASK_RUNNING", timeout=30)
    assert dvdcli_log(cluster, "dv") == ["mount --volumedriver=rexray --volumename=vol1"]
    ex = agent.executors[(s.framework_id, "vex")]
    link = pathlib.Path(ex.directory) / "data"
    assert str(link.readlink()) == "/var/lib/dvdcli/volumes/vol1"
    s.stop(failover=False)           # TEARDOWN: the container goes, the volume is released
    assert wait_until(lambda: len(dvdcli_log(cluster, "dv")) == 2)
    assert dvdcli_log(cluster, "dv")[1] == "unmount --volumedriver=rexray --volumename=vol1"


@pytest.mark.parametrize("agent_name,why", [("noiso", "docker/volume"), ("nodvdcli", "dvdcli")])
def test_docker_volume_task_fails_without_support(cluster, schedulers, agent_name, why):
    s = schedulers(cluster.master_address, name=f"novol-{agent_name}")
    s.wait_ev("registered")
    s.send("launch", tasks=[{"task_id": "nv", "agent": cluster.agent(agent_name).hostname,
                             "executor": volume_executor("nvex", "vol2")}])
    ev = s.wait_ev("status", task_id="nv", state="TASK_FAILED", timeout=30)
    assert ev["reason"] == "REASON_CONTAINER_LAUNCH_FAILED" and why in ev["message"]
    assert ev["source"] == "SOURCE_AGENT"
    s.stop(failover=False)


def test_dvdi_module_volume_from_environment(cluster, schedulers):
    s = schedulers(cluster.master_address, name="dvdi")
    s.wait_ev("registered")
    ex = executor_info("dvdiex")
    ex["command"]["environment"] = {"variables": [{"name": "DVDI_VOLUME_NAME", "value": "vol3"},
                                                  {"name": "DVDI_VOLUME_DRIVER", "value": "rexray"},
                                                  {"name": "DVDI_VOLUME_OPTS", "value": "size=5"}]}
    s.send("launch", tasks=[{"task_id": "d0", "agent": cluster.agent("dvdi").hostname, "executor": ex}])
    s.wait_ev("status", task_id="d0", state="TASK_RUNNING", timeout=30)
    assert dvdcli_log(cluster, "dvdi") == ["mount --volumedriver=rexray --volumename=vol3 --volumeopts=size=5"]
    s.stop(failover=False)
    assert wait_until(lambda: len(dvdcli_log(cluster, "dvdi")) == 2)


def test_agent_refuses_to_start_with_unloadable_isolators(cluster):
    agent = cluster.agent("noiso")
    old_id = agent.agent_id
    # An isolator nobody provides.
    agent.root.write_text("/etc/mesos-slave/isolation", "posix/cpu,com_emccode_mesos_DockerVolumeDriverIsolator\n")
    info = cluster.restart_agent("noiso")
    assert info["state"] == "failed" and "Unknown or unsupported isolator" in info["failure"]
    # The module built for Mesos 1.0 does not load into this 1.11 agent.
    agent.root.write_text(DVDI_LIB, "not really a shared object\n")
    agent.root.write_text("/usr/lib/dvdi-mod.json", json.dumps({"libraries": [{
        "file": DVDI_LIB, "modules": [{"name": "com_emccode_mesos_DockerVolumeDriverIsolator"}]}]}))
    agent.root.write_text("/etc/mesos-slave/modules", "file:///usr/lib/dvdi-mod.json\n")
    info = cluster.restart_agent("noiso")
    assert info["state"] == "failed" and "not compatible" in info["failure"]
    # Back to loadable flags: the same agent recovers (isolation is not part of the agent info).
    agent.root.remove("/etc/mesos-slave/modules")
    agent.root.write_text("/etc/mesos-slave/isolation", "posix/cpu,posix/mem\n")
    info = cluster.start_agent("noiso")
    assert info["state"] == "running" and info["id"] == old_id


# ------------------------------------------------------------------------------------------------
# The workload framework (sandbox.workload) against these agents, the agent's /files API and the
# docker/volume isolator's checkpoint. Volume names are unique per test: the dvdcli logs are shared.
# ------------------------------------------------------------------------------------------------
def agent_get(agent, endpoint, **query):
    url = f"http://{agent.ip}:{agent.port}{endpoint}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def volume_lines(cluster, agent_name, volume):
    return [line.split()[0] for line in dvdcli_log(cluster, agent_name) if f"--volumename={volume}" in line]


def test_workload_task_output_comes_from_the_agents_files_api(cluster):
    agent = cluster.agent("ckrun")
    result = run_volume_task(cluster.master_address, agent.hostname, "wl1",
                             "echo out; echo err >&2; echo kept > data/f; cat data/f", timeout=30)
    assert result.state == "TASK_FINISHED" and result.message == "Command exited with status 0", result
    assert (result.stdout, result.stderr) == ("out\nkept\n", "err\n")
    assert result.states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert wait_until(lambda: volume_lines(cluster, "ckrun", "wl1") == ["mount", "unmount"])
    # The executor is gone but /state still lists it (completed), with its sandbox.
    _, state = agent_get(agent, "/state")
    done = [ex for fw in state["frameworks"] + state["completed_frameworks"]
            for ex in fw.get("completed_executors", []) if ex["id"] == result.task_id]
    assert [ex["directory"] for ex in done] == [result.directory]
    assert done[0]["completed_tasks"] == [{"id": result.task_id, "state": "TASK_FINISHED"}]
    stdout = f"{result.directory}/stdout"
    assert agent_get(agent, "/files/read", path=stdout) == (200, {"data": "", "offset": len("out\nkept\n")})
    assert agent_get(agent, "/files/read", path=stdout, offset=4, length=2) == (200, {"data": "ke", "offset": 4})
    status, listing = agent_get(agent, "/files/browse", path=result.directory)
    assert status == 200 and {"stdout", "stderr", "data"} <= {e["path"].rsplit("/", 1)[1] for e in listing}
    assert agent_get(agent, "/files/read")[0] == 400
    assert agent_get(agent, "/files/read", path=stdout, offset="x")[0] == 400
    assert agent_get(agent, "/files/read", path="/etc/passwd")[0] == 404
    # The volume symlink leads out of the sandbox: not readable through it.
    assert agent_get(agent, "/files/read", path=f"{result.directory}/data/f")[0] == 404


def test_workload_dvdi_environment_form(cluster):
    agent = cluster.agent("dvdi")
    result = run_volume_task(cluster.master_address, agent.hostname, "wl2", "echo dv > data/f && cat data/f",
                             form="dvdi", options={"size": 3}, timeout=30)
    assert result.state == "TASK_FINISHED" and result.stdout == "dv\n", result
    assert [line for line in dvdcli_log(cluster, "dvdi") if "wl2" in line][0] == \
        "mount --volumedriver=rexray --volumename=wl2 --volumeopts=size=3"


def test_workload_refuses_values_that_would_reach_dvdcli(cluster):
    for kwargs in ({"volume": "bad name"}, {"volume": "v", "options": {"size": "1,x=2"}},
                   {"volume": "v", "container_path": "../escape"}, {"volume": "v", "driver": "rex ray"},
                   {"volume": "v", "colour": "red"}, {"volume": "v", "task_id": "../x"}):
        with pytest.raises(WorkloadError):
            run_volume_task(cluster.master_address, cluster.agent("ckrun").hostname, command="true", timeout=5,
                            **kwargs)


def _running_volume_task(wl, agent, volume):
    tid = wl.launch(agent.hostname, volume, "echo UP; exec sleep 600")
    wl.wait(tid, {"TASK_RUNNING"}, timeout=30)
    wl.wait_output(tid, "UP", timeout=30)
    return tid, wl.result(tid).directory.rsplit("/", 1)[1]     # .../runs/<container id>


@pytest.mark.parametrize("agent_name,checkpoint_dir,released", [
    ("ckrun", "/var/run/mesos/isolators/docker/volume", False),
    ("ckdisk", PERSISTENT_CHECKPOINT, True)])
def test_a_rebooted_host_releases_its_volumes_only_with_a_persistent_checkpoint(cluster, agent_name,
                                                                                 checkpoint_dir, released):
    agent = cluster.agent(agent_name)
    volume = f"ck-{agent_name}"
    with VolumeWorkload(cluster.master_address, name=f"ck-{agent_name}") as wl:
        tid, container = _running_volume_task(wl, agent, volume)
        checkpoint = json.loads(agent.root.read_text(f"{checkpoint_dir}/{container}/volumes"))
        assert checkpoint == {"volumes": [{"driver": "rexray", "name": volume}]}
        info = cluster.reboot_agent(agent_name)       # the host crashes and comes back
        assert info["state"] == "running"
        # Nothing was unmounted while the host went down; at boot the isolator cleans up what it knows.
        assert volume_lines(cluster, agent_name, volume) == (["mount", "unmount"] if released else ["mount"])
        assert agent.root.read_text(f"{checkpoint_dir}/{container}/volumes") is None
        assert wl.wait(tid, GONE_STATES, timeout=30)["state"] in GONE_STATES


def test_volumes_are_released_once_when_a_task_ends_normally(cluster):
    agent = cluster.agent("ckdisk")
    with VolumeWorkload(cluster.master_address, name="ck-normal") as wl:
        tid, container = _running_volume_task(wl, agent, "ck-normal")
        wl.kill(tid)
        assert wl.wait(tid, timeout=30)["state"] == "TASK_KILLED"
        assert wait_until(lambda: volume_lines(cluster, "ckdisk", "ck-normal") == ["mount", "unmount"])
        assert wait_until(lambda: agent.root.read_text(f"{PERSISTENT_CHECKPOINT}/{container}/volumes") is None)
        # A later agent restart finds nothing to clean up.
        assert cluster.restart_agent("ckdisk")["state"] == "running"
        assert volume_lines(cluster, "ckdisk", "ck-normal") == ["mount", "unmount"]


@pytest.mark.parametrize("command,grace,message,printed", [
    # A task that shuts down on SIGTERM (a database flushing its volume) gets the chance to.
    ("trap 'echo TERM; exit 0' TERM; echo UP; while true; do sleep 0.1; done", None,
     "Command exited with status 0", "UP\nTERM\n"),
    # One that ignores it is SIGKILLed after the task's grace period.
    ("trap '' TERM; echo UP; exec sleep 600", 0.5, "Command terminated with signal Killed", "UP\n")])
def test_killing_a_command_task_sends_sigterm_then_sigkill(cluster, command, grace, message, printed):
    agent = cluster.agent("ckrun")
    with VolumeWorkload(cluster.master_address, name="killer") as wl:
        tid = wl.launch(agent.hostname, f"kill-{grace}", command, kill_grace_s=grace)
        wl.wait_output(tid, "UP", timeout=30)
        wl.kill(tid)
        status = wl.wait(tid, timeout=30)
        assert (status["state"], status["message"]) == ("TASK_KILLED", message)
        result = wl.result(tid)
        assert result.stdout == printed and result.states[-2:] == ["TASK_KILLING", "TASK_KILLED"]


def test_an_app_replaces_its_task_until_max_launches(cluster):
    agent = cluster.agent("ckrun")
    with VolumeWorkload(cluster.master_address, name="apps") as wl:
        wl.start_app("crashy", "app-vol", "echo try; exit 3", [agent.hostname], max_launches=3)
        third = wl.wait_app_task("crashy", 2, timeout=30)
        status = wl.wait(third, timeout=30)
        assert (status["state"], status["message"]) == ("TASK_FAILED", "Command exited with status 3")
        tasks = wl.app_tasks("crashy")
        assert len(tasks) == 3 and all(t.startswith("crashy.") for t in tasks)
        assert [wl.state(t) for t in tasks] == ["TASK_FAILED"] * 3
        assert all(wl.result(t).stdout == "try\n" for t in tasks)
        with pytest.raises(WorkloadError):
            wl.start_app("crashy", "app-vol", "true", [agent.hostname])
        # A stopped app is not replaced.
        wl.start_app("steady", "app-vol2", "echo UP; exec sleep 600", [agent.hostname])
        first = wl.wait_app_task("steady", 0)
        wl.wait_output(first, "UP", timeout=30)
        wl.stop_app("steady")
        assert wl.wait(first, timeout=30)["state"] == "TASK_KILLED"
        assert wl.app_tasks("steady") == [first]
