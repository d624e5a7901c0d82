"""The whole provision-mode deploy on three agents (Ubuntu, RHEL, Ubuntu) provisioned as hosts:
real executors run every host step, the scheduler runs the cluster actions against the gateway the
plan installed, and the agents are restarted (by their executors) for the volume isolator, then
verified through their /flags. The plan ends COMPLETE and /v1/health says RUNNING."""

import pytest
import requests

from sched_support import PASSWORD, AgentSpec, base_options, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

FAMILIES = ("ubuntu", "rhel", "ubuntu")
KERNELS = {"ubuntu": "4.15.0-20-generic", "rhel": "3.10.0-1160.el7.x86_64"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from dcos_scaleio.sandbox.demo import World, demo_options
    from dcos_scaleio.sandbox.scaleio.hostside_agents import prepare_host
    base = tmp_path_factory.mktemp("deploy")
    w = World(str(base))
    try:
        w.start_mirror()
        sio = base / "scaleio"
        sio.mkdir()
        specs = [AgentSpec(f"a{i + 1}", hostname=f"node-{i + 1}", shared_dirs=(str(sio),)) for i in range(3)]
        w.mesos = make_cluster(tmp_path_factory, specs)
        w.mesos.start()
        for i, agent in enumerate(w.mesos.agents.values()):
            family = FAMILIES[i]
            prepare_host(agent.root, str(sio), os_family=family, kernel=KERNELS[family],
                         disks=[{"name": "sdb", "size_gb": 200, "fs": None}])
        w.options = demo_options(w)
        yield w
    finally:
        w.stop()


def test_provision_deploy_completes_with_agent_restarts(world, schedulers, tmp_path):
    opts = base_options(world.mesos.master_address, tmp_path / "state.sqlite",
                        **{"agents.allow_restart": True, "scaleio.gateway.tls_verify": False,
                           "devices.discovery.enabled": True, "service.step_timeout_s": 120})
    opts["artifacts"] = world.options["artifacts"]
    s = schedulers(tmp_path / "run", opts)
    plan = wait_for(lambda: (lambda p: p if p["status"] in ("COMPLETE", "ERROR") else None)(
        s.get("/v1/plans/deploy").json()), timeout=150, interval=0.5, what="the deploy plan to finish")
    failed = [(st["name"], st["reason"]) for ph in plan["phases"] for st in ph["steps"] if st["status"] != "COMPLETE"]
    assert plan["status"] == "COMPLETE", failed
    assert s.get("/v1/plans/deploy").status_code == 200
    health = s.get("/v1/health")
    assert health.status_code == 200 and health.json()["value"] == "RUNNING"
    names = {st["name"] for ph in plan["phases"] for st in ph["steps"]}
    assert {"primary:[cluster-create]", "gateway:[reachable]", "node-2:[device:/dev/sdb]", "node-3:[dvdi]"} <= names
    for agent in world.mesos.agents.values():
        flags = requests.get(f"http://{agent.ip}:5051/flags", timeout=10).json()["flags"]
        assert "docker/volume" in flags["isolation"].split(",")
    assert s.state()["counters"]["launched"] >= 3 * 5
    assert PASSWORD not in s.log()
