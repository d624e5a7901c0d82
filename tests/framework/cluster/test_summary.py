"""The read-only cluster summary (GET /v1/cluster) and the dispatcher's contract."""
import json

import pytest

from dcos_scaleio.framework.cluster import ACTIONS, cluster_summary, run_action
from dcos_scaleio.sandbox.scaleio.records import KB_PER_GB

pytestmark = pytest.mark.sandbox


def test_summary_reports_the_system_as_the_gateway_sees_it_and_changes_nothing(world, gw):
    s = world.system
    pd = s.add_protection_domain("pd1")
    sp = s.add_storage_pool("sp1", pd_id=pd.id, spare_percentage=10, zero_padding=True)
    sds_ips = [world.sds_host() for _ in range(3)]
    for i, ip in enumerate(sds_ips):
        s.add_sds([ip], pd_id=pd.id, name=f"sds-{i}", devices=[("/dev/sdb", sp.id)])
    vol = s.add_volume("vol1", 8, pool_id=sp.id)
    up = s.register_sdc(s.new_guid(), "127.253.1.1")
    down = s.register_sdc(s.new_guid(), "127.253.1.2")
    s.disconnect_sdc(id=down.id)
    s.map_volume(volume_id=vol.id, sdc_id=up.id)
    before = len(s.events())

    summary = cluster_summary(gw)
    json.dumps(summary)
    assert len(s.events()) == before                       # read-only
    assert summary["system"]["id"] == s.cluster().system_id and summary["system"]["name"] == "sio-test"
    assert summary["system"]["mode"] == "3_node" and summary["system"]["cluster_state"] == "ClusteredNormal"
    roles = {m["name"]: (m["role"], m["ips"]) for m in summary["mdms"]}
    assert roles == {"mdm1": ("master", [world.mdm_ips[0]]), "mdm2": ("slave", [world.mdm_ips[1]]),
                     "tb1": ("tiebreaker", [world.mdm_ips[2]])}
    (domain,) = summary["protection_domains"]
    assert (domain["name"], domain["sds"]) == ("pd1", 3)
    (pool,) = domain["storage_pools"]
    assert (pool["name"], pool["zero_padding"], pool["spare_percentage"]) == ("sp1", True, 10)
    cap = pool["capacity"]
    assert cap["total_kb"] == 300 * KB_PER_GB and cap["in_use_kb"] == 2 * 8 * KB_PER_GB
    assert cap["spare_kb"] == 30 * KB_PER_GB and (cap["devices"], cap["volumes"]) == (3, 1)
    assert summary["capacity"]["total_kb"] == cap["total_kb"]
    assert summary["sds"] == {"total": 3, "connected": 3, "disconnected": []}
    assert summary["sdc"] == {"total": 2, "connected": 1, "disconnected": ["127.253.1.2"]}
    assert summary["volumes"] == {"total": 1, "mapped": 1}
    assert summary["health"]["status"] == "DEGRADED"
    assert summary["health"]["problems"] == ["1 SDC disconnected: 127.253.1.2"]

    # An SDS whose service stops shows as disconnected.
    next(lst for lst in world.listeners if lst.ip == sds_ips[0]).stop()
    s.disconnect_sdc(id=up.id)
    s.remove_sdc(id=down.id)
    again = cluster_summary(gw)
    assert again["sds"] == {"total": 3, "connected": 2, "disconnected": ["sds-0"]}
    assert again["health"]["problems"][0] == "1 SDS disconnected: sds-0"


def test_run_action_outcomes_are_json_and_never_raise(world, gw, password):
    out = run_action(gw, "protection-domain", {"name": "pd1", "gateway_endpoint": "ignored", "hostname": "x"})
    assert out.ok and out.result["details"]["created"] is True and not out.retryable
    assert json.loads(json.dumps(out.to_json()))["result"]["action"] == "protection-domain"

    unknown = run_action(gw, "verify-agent", {})
    assert not unknown.ok and not unknown.retryable and "unknown cluster action" in unknown.message

    missing = run_action(gw, "sds-register", {"ip": "127.0.0.1", "protection_domain": "pd1"})
    assert not missing.ok and not missing.retryable and "missing parameter 'sds_name'" in missing.message
    assert missing.result["error"]["error"] == "params"

    # Removal without the 'created' record leaves the object in place.
    pd_id = out.result["details"]["protection_domain_id"]
    kept = run_action(gw, "protection-domain-remove", {"protection_domain_id": pd_id})
    assert kept.ok and kept.result["changed"] is False and world.system.protection_domains()
    gone = run_action(gw, "protection-domain-remove", {"protection_domain_id": pd_id, "created": True})
    assert gone.ok and gone.result["changed"] is True and not world.system.protection_domains()

    world.system.set_fault("gateway_5xx", status=503, message="maintenance")
    busy = run_action(gw, "gateway-reachable", {})
    assert not busy.ok and busy.retryable and "maintenance" in busy.message
    assert password not in json.dumps(busy.to_json())


def test_deploy_action_names_match_the_plan_engine():
    """Every cluster action the engine emits for a deploy (except the agent check after a restart,
    which is not a gateway action) is served here."""
    from dcos_scaleio.plan import decisions
    doc = decisions.RunClusterAction.__doc__
    for name in ("gateway-reachable", "protection-domain", "storage-pool", "sds-register", "device"):
        assert name in doc and name in ACTIONS
