"""(a) Provision mode end to end: ``sandbox up`` with six agents (Ubuntu/RHEL alternating), the real
scheduler, the shipped executor artifact on every agent. The deploy plan completes and the ScaleIO
world shows what the framework built: a 3_node MDM cluster on three of the agents, an SDS with its
discovered devices on all six, six SDCs connected to the managers, REX-Ray configured (0600) and
running, and the volume isolator in every agent's running flags."""
import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(600)]

AGENTS = 6
REXRAY_CONFIG = "/etc/rexray/config.yml"


@pytest.fixture(scope="module")
def deployed(e2e):
    up = e2e.start_up(AGENTS, mode="provision", os_choice="mixed")
    try:
        plan = e2e.assert_complete(up)
        yield up, plan
    finally:
        up.stop()


def test_plan_complete_on_every_agent(deployed, e2e):
    up, plan = deployed
    assert e2e.http(up, "GET", "/v1/plans/deploy")[0] == 200
    status, health = e2e.http(up, "GET", "/v1/health")
    assert status == 200 and health["value"] == "RUNNING"
    hosts = {a["hostname"] for a in up.info["agents"]}
    assert {a["os"] for a in up.info["agents"]} == {"ubuntu", "rhel"}
    phases = {ph["name"] for ph in plan["phases"]}
    assert hosts <= phases, phases
    names = {st["name"] for st in e2e.steps(plan)}
    for host in hosts:
        assert {f"{host}:[deps]", f"{host}:[sds]", f"{host}:[sdc]", f"{host}:[rexray]", f"{host}:[dvdi]"} <= names
    assert {"primary:[cluster-create]", "gateway:[reachable]"} <= names
    counters = e2e.scheduler_state(up)["counters"]
    assert counters["launched"] >= AGENTS * 5
    # The admin password never reaches the scheduler's logs.
    logs = "".join((up.state_dir / "scheduler" / f).read_text(errors="replace") for f in ("stdout", "stderr"))
    assert up.info["admin_password"] not in logs


def test_three_node_mdm_cluster_on_three_agents(deployed, e2e):
    up, _ = deployed
    cluster = e2e.system(up).cluster()
    assert cluster.created and cluster.mode == "3_node"
    assert cluster.password_changed
    agent_ips = {a["ip"] for a in up.info["agents"]}
    member_ips = [ip for m in cluster.members for ip in m.ips]
    assert len(cluster.members) == 3 and len(set(member_ips)) == 3 and set(member_ips) <= agent_ips


def test_six_sds_with_their_devices(deployed, e2e):
    up, _ = deployed
    s = e2e.system(up)
    sds = s.sds_list()
    assert len(sds) == AGENTS
    assert {ip for x in sds for ip in x.ip_list} == {a["ip"] for a in up.info["agents"]}
    for x in sds:
        assert s.sds_connected(x), x
        # The world's disks: sdb 200 GB and sdc 100 GB are unused; sdd (50 GB, xfs) is refused.
        assert sorted(d.path for d in s.devices(sds_id=x.id)) == ["/dev/sdb", "/dev/sdc"], x.name
    assert s.system_capacity().total_kb > 0


def test_six_sdcs_connected(deployed, e2e):
    up, _ = deployed
    sdcs = e2e.system(up).sdcs()
    assert sorted(c.ip for c in sdcs) == sorted(a["ip"] for a in up.info["agents"])
    assert all(c.connected for c in sdcs), sdcs


def test_rexray_configured_and_running_everywhere(deployed, e2e):
    up, _ = deployed
    for agent in up.world.mesos.agents.values():
        root = agent.root
        active = root.run(["systemctl", "is-active", "rexray"], timeout=30)
        assert active.stdout.strip() == "active", (agent.name, active.stdout, active.stderr)
        config = root.read_text(REXRAY_CONFIG)
        assert config and "scaleio" in config.lower(), (agent.name, config)
        mode = root.run(["stat", "-c", "%a", REXRAY_CONFIG], timeout=30).stdout.strip()
        assert mode == "600", (agent.name, mode)
        ls = root.run(["rexray", "volume", "ls"], timeout=60)
        assert ls.returncode == 0, (agent.name, ls.stderr)


def test_isolator_in_every_agents_running_flags(deployed, e2e):
    up, _ = deployed
    for agent in up.world.mesos.agents.values():
        assert "docker/volume" in e2e.agent_flags(agent)["isolation"].split(","), agent.name
