"""(b) Existing-cluster mode: ``sandbox up --mode existing`` brings a pre-built ScaleIO system (3-node
MDM cluster, gateway, protection domain and pool with three SDSs of its own) and three agents; the
framework deploys against it. The ScaleIO world's event log is the witness that the framework
touched nothing it did not create beyond registering its SDSs and their devices and connecting the
agents' SDCs: no MDM, cluster, password, domain or pool change, no pre-existing object renamed,
removed or re-tuned."""
import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(600)]

AGENTS = 3
# What deploying onto an existing system may do to it (besides logging in).
ALLOWED_OPS = {"add_sds", "add_device", "register_sdc", "approve_sdc"}
PREBUILT_ACTOR = "prebuilt"


@pytest.fixture(scope="module")
def deployed(e2e):
    # The pre-built system's domain and pool are "default": the framework is told to use them.
    up = e2e.start_up(AGENTS, mode="existing", os_choice="mixed",
                      options={"scaleio": {"protection_domain": "default", "storage_pool": "default"}})
    try:
        plan = e2e.assert_complete(up)
        yield up, plan
    finally:
        up.stop()


def test_plan_complete_without_mdm_phase(deployed, e2e):
    up, plan = deployed
    assert "mdm" not in {ph["name"] for ph in plan["phases"]}
    assert e2e.http(up, "GET", "/v1/health")[1]["value"] == "RUNNING"


def test_framework_only_registered_its_sds_devices_and_sdcs(deployed, e2e):
    up, _ = deployed
    s = e2e.system(up)
    events = s.events()
    prebuilt_end = max(e.seq for e in events if e.actor == PREBUILT_ACTOR)
    later = [e for e in events if e.seq > prebuilt_end and e.outcome == "applied"]
    assert later, "the deploy changed nothing in the world"
    touched = sorted({(e.op, e.actor) for e in later if e.op not in ALLOWED_OPS})
    assert touched == [], touched
    # Its SDSs are exactly the agents', one add each; the pre-built ones are untouched.
    agent_ips = {a["ip"] for a in up.info["agents"]}
    added = [e for e in later if e.op == "add_sds"]
    # ips: [ip, ...] or [[ip, role], ...] as the gateway passed them on.
    ips = [ip[0] if isinstance(ip, list) else ip for e in added for ip in e.args["ips"]]
    assert sorted(ips) == sorted(agent_ips), added
    sds = {x.name: x for x in s.sds_list()}
    assert {"sds1", "sds2", "sds3"} <= set(sds)
    for name in ("sds1", "sds2", "sds3"):
        assert [d.path for d in s.devices(sds_id=sds[name].id)] == ["/dev/sdb"]
    ours = [x for x in sds.values() if set(x.ip_list) & agent_ips]
    assert len(ours) == AGENTS
    for x in ours:
        assert sorted(d.path for d in s.devices(sds_id=x.id)) == ["/dev/sdb", "/dev/sdc"], x.name
    # Devices were added only to the framework's own SDSs.
    ours_ids = {x.id for x in ours}
    for e in later:
        if e.op == "add_device":
            assert e.args.get("sds_id") in ours_ids or e.args.get("sds_name") in {x.name for x in ours}, e


def test_cluster_identity_and_storage_layout_unchanged(deployed, e2e):
    up, _ = deployed
    s = e2e.system(up)
    info = up.world.scaleio.info()
    cluster = s.cluster()
    assert cluster.mode == "3_node" and cluster.system_name == info["system_name"]
    assert cluster.system_id == info["system_id"]
    assert [pd.name for pd in s.protection_domains()] == ["default"]
    assert [sp.name for sp in s.storage_pools()] == ["default"]
    sdcs = s.sdcs()
    assert sorted(c.ip for c in sdcs) == sorted(a["ip"] for a in up.info["agents"])
    assert all(c.connected for c in sdcs)
    assert s.integrity_problems() == []
