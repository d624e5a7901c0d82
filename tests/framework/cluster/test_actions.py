"""Each cluster action against the real sandbox gateway: the first run acts, the second is a no-op
(the system's event log shows the effect applied exactly once), refusals carry the reason."""
import pytest

from dcos_scaleio.framework.cluster import (ActionRefused, DeviceSpec, GatewayRefused, GatewayUnavailable,
                                            InvalidParameters, OwnedObject, ProtectionDomainSpec,
                                            SdsSpec, StoragePoolSpec, VolumeScope, add_device, check_no_volumes,
                                            ensure_protection_domain, ensure_storage_pool, register_sds, remove_device,
                                            remove_protection_domain, remove_sds, remove_storage_pool)
from dcos_scaleio.sandbox.scaleio.records import KB_PER_GB

pytestmark = pytest.mark.sandbox

PD, SP = "pd1", "sp1"


def twice(fn, *args):
    """Run an action twice; the first must act, the second must not."""
    first, second = fn(*args), fn(*args)
    assert first.changed and first.details.get("created", True) is True
    assert not second.changed and second.details.get("created", False) is False
    return first, second


@pytest.fixture
def layout(world):
    """pd1/sp1, set up directly in the system (the actions for them are tested on their own)."""
    pd = world.system.add_protection_domain(PD)
    return pd.id, world.system.add_storage_pool(SP, pd_id=pd.id).id


def test_protection_domain_find_or_create(world, gw):
    first, second = twice(ensure_protection_domain, gw, ProtectionDomainSpec(PD))
    assert first.details["protection_domain_id"] == second.details["protection_domain_id"] \
        == world.system.protection_domain(name=PD).id
    assert world.applied("add_protection_domain") == 1 == world.attempts("add_protection_domain")
    assert first.to_json()["details"]["created"] is True


def test_storage_pool_with_zero_padding_and_spare_policy(world, gw):
    ensure_protection_domain(gw, ProtectionDomainSpec(PD))
    spec = StoragePoolSpec(PD, SP, media_type="SSD", zero_padding=True, spare_percentage=34)
    first, second = twice(ensure_storage_pool, gw, spec)
    pool = world.system.storage_pool(name=SP, pd_name=PD)
    assert (pool.zero_padding, pool.spare_percentage, pool.media_type) == (True, 34, "SSD")
    assert first.details["storage_pool_id"] == second.details["storage_pool_id"] == pool.id
    assert second.details["policy_differences"] == []
    assert world.applied("add_storage_pool") == 1 == world.attempts("add_storage_pool")
    # Policies were set at creation: no separate policy change ever reached the MDM.
    assert world.attempts("set_zero_padding") == world.attempts("set_spare_percentage") == 0


def test_existing_pool_is_reported_never_modified(world, gw):
    pd = world.system.add_protection_domain(PD)
    world.system.add_storage_pool(SP, pd_id=pd.id, spare_percentage=10)
    res = ensure_storage_pool(gw, StoragePoolSpec(PD, SP, zero_padding=True, spare_percentage=34))
    assert not res.changed and res.details["created"] is False
    assert sorted(d.split(":")[0] for d in res.details["policy_differences"]) == ["spare_percentage", "zero_padding"]
    assert "left as is" in res.message
    assert world.system.storage_pool(name=SP).spare_percentage == 10
    assert world.attempts("set_spare_percentage") == world.attempts("set_zero_padding") == 0


def test_pool_in_a_missing_protection_domain_is_refused(world, gw):
    with pytest.raises(ActionRefused) as ei:
        ensure_storage_pool(gw, StoragePoolSpec("nope", SP))
    assert "protection domain 'nope' does not exist" in ei.value.reason and not ei.value.retryable
    assert world.attempts("add_storage_pool") == 0


def test_sds_register_and_device_add_apply_once(world, gw, layout):
    ip = world.sds_host([{"path": "/dev/sdb", "size_gb": 120}])
    first, _ = twice(register_sds, gw, SdsSpec("sds-a1", ip, PD))
    assert first.details["ips"] == [ip] and first.details["connected"] is True
    assert first.details["sds_id"] == world.system.sds(name="sds-a1").id
    dev, _ = twice(add_device, gw, DeviceSpec("sds-a1", "/dev/sdb", PD, SP))
    assert dev.details["path"] == "/dev/sdb" and dev.details["storage_pool_id"] == layout[1]
    assert dev.details["capacity_kb"] == 120 * KB_PER_GB
    assert world.applied("add_sds") == 1 == world.attempts("add_sds")
    assert world.applied("add_device") == 1 == world.attempts("add_device")   # no duplicate ever sent
    assert [d.path for d in world.system.devices(sds_id=first.details["sds_id"])] == ["/dev/sdb"]


def test_sds_found_by_ip_under_another_name_is_a_clear_error(world, gw, layout):
    ip = world.sds_host()
    other = world.system.add_sds([ip], pd_id=layout[0], name="someone-else")
    with pytest.raises(ActionRefused) as ei:
        register_sds(gw, SdsSpec("sds-a1", ip, PD))
    assert not ei.value.retryable
    assert f"SDS IP {ip} is already in use by SDS 'someone-else' (id {other.id})" in ei.value.reason
    assert world.system.count_events(op="add_sds", actor=world.gateway_actor) == 0


def test_sds_name_taken_with_other_ips_is_refused(world, gw, layout):
    ip1, ip2 = world.sds_host(), world.sds_host()
    world.system.add_sds([ip1], pd_id=layout[0], name="sds-a1")
    with pytest.raises(ActionRefused) as ei:
        register_sds(gw, SdsSpec("sds-a1", ip2, PD))
    assert f"already exists with IPs {ip1}, not {ip2}" in ei.value.reason


def test_sds_service_not_running_is_retryable(world, gw, layout):
    ip = "127.254.254.254"          # nothing listens on 7072 there
    with pytest.raises(GatewayUnavailable) as ei:
        register_sds(gw, SdsSpec("sds-a1", ip, PD))
    assert ei.value.retryable and "Could not connect to the SDS" in ei.value.reason


def test_device_refusals_are_permanent_with_the_mdms_reason(world, gw, layout, no_secret):
    cases = [({"path": "/dev/sdb", "size_gb": 100, "has_data": True}, "contains data"),
             ({"path": "/dev/sdb", "size_gb": 50}, "too small"),
             ({"path": "/dev/sdx", "size_gb": 100}, "no such device")]
    for i, (disk, words) in enumerate(cases):
        world.system.add_sds([world.sds_host([disk])], pd_id=layout[0], name=f"sds-{i}")
        with pytest.raises(GatewayRefused) as ei:
            add_device(gw, DeviceSpec(f"sds-{i}", "/dev/sdb", PD, SP))
        err = ei.value
        assert not err.retryable and words in err.reason and err.error_code, words
        assert "/dev/sdb" in str(err)
        no_secret(err)
    assert world.applied("add_device") == 0


def test_device_already_in_another_pool_is_refused(world, gw, layout):
    sp2 = world.system.add_storage_pool("sp2", pd_id=layout[0])
    world.system.add_sds([world.sds_host()], pd_id=layout[0], name="sds-a1", devices=[("/dev/sdb", sp2.id)])
    with pytest.raises(ActionRefused) as ei:
        add_device(gw, DeviceSpec("sds-a1", "/dev/sdb", PD, SP))
    assert "already added to SDS sds-a1 in another storage pool" in ei.value.reason
    assert world.attempts("add_device") == 0


def test_device_of_an_unregistered_sds_is_refused(world, gw, layout):
    with pytest.raises(ActionRefused, match="SDS 'sds-zz' is not registered"):
        add_device(gw, DeviceSpec("sds-zz", "/dev/sdb", PD, SP))


def _cluster_of_three(world, layout):
    """Three SDSs with one 100 GB device each in sp1, set up directly in the system; their IDs."""
    return [world.system.add_sds([world.sds_host()], pd_id=layout[0], name=f"sds-{i}",
                                 devices=[("/dev/sdb", layout[1])]).id for i in range(3)]


def test_uninstall_removes_only_what_we_created_once(world, gw):
    pd = ensure_protection_domain(gw, ProtectionDomainSpec(PD)).details
    sp = ensure_storage_pool(gw, StoragePoolSpec(PD, SP)).details
    ip = world.sds_host()
    sds = register_sds(gw, SdsSpec("sds-a1", ip, PD)).details
    dev = add_device(gw, DeviceSpec("sds-a1", "/dev/sdb", PD, SP)).details
    # An SDS that existed before us, in the same domain: never removed.
    foreign = world.system.add_sds([world.sds_host()], pd_id=pd["protection_domain_id"], name="theirs")
    kept = remove_sds(gw, OwnedObject(foreign.id, created=False))
    assert not kept.changed and "not created by this framework" in kept.message
    world.system.remove_sds(id=foreign.id)   # the operator removes theirs, so the domain can go

    steps = [(remove_device, dev["device_id"], "remove_device"), (remove_sds, sds["sds_id"], "remove_sds"),
             (remove_storage_pool, sp["storage_pool_id"], "remove_storage_pool"),
             (remove_protection_domain, pd["protection_domain_id"], "remove_protection_domain")]
    for fn, oid, op in steps:
        first, second = fn(gw, OwnedObject(oid)), fn(gw, OwnedObject(oid))
        assert first.changed and first.details["removed"] and not second.changed and "already gone" in second.message
        assert world.system.count_events(op=op, actor=world.gateway_actor) == 1
    assert world.system.protection_domains() == [] and world.system.integrity_problems() == []


def test_removing_a_pool_that_still_has_devices_is_refused_with_the_reason(world, gw, layout):
    _cluster_of_three(world, layout)
    with pytest.raises(GatewayRefused) as ei:
        remove_storage_pool(gw, OwnedObject(layout[1]))
    assert "still has devices" in ei.value.reason and not ei.value.retryable


def test_remove_sds_refused_when_the_rest_cannot_hold_its_data(world, gw, layout):
    ids = _cluster_of_three(world, layout)
    # 3 x 100 GB, 10% spare: 270 GB usable. A 104 GB volume uses 208 GB (two copies); without one SDS
    # only 180 GB would remain usable.
    world.system.add_volume("vol1", 104, pool_id=layout[1])
    with pytest.raises(ActionRefused) as ei:
        remove_sds(gw, OwnedObject(ids[0]))
    assert "cannot hold its data" in ei.value.reason and "sp1" in ei.value.reason and not ei.value.retryable
    assert world.attempts("remove_sds") == 0 and len(world.system.sds_list()) == 3


def test_remove_sds_migrates_when_the_rest_can_hold_it(world, gw, layout):
    ids = _cluster_of_three(world, layout)
    world.system.add_volume("vol1", 48, pool_id=layout[1])
    assert remove_sds(gw, OwnedObject(ids[0])).changed
    assert world.applied("remove_sds") == 1 and len(world.system.sds_list()) == 2


def test_volumes_check(world, gw, layout):
    assert check_no_volumes(gw).details == {"volumes": 0, "mapped": 0, "names": []}
    _cluster_of_three(world, layout)
    vol = world.system.add_volume("vol1", 8, pool_id=layout[1])
    sdc = world.system.register_sdc(world.system.new_guid(), "127.253.0.1")
    world.system.map_volume(volume_id=vol.id, sdc_id=sdc.id)
    with pytest.raises(ActionRefused) as ei:
        check_no_volumes(gw)
    assert "1 volume(s) exist (1 mapped to SDCs): vol1" in ei.value.reason
    assert check_no_volumes(gw, VolumeScope(("0123abcd",))).details["volumes"] == 0


@pytest.mark.parametrize("build", [
    lambda: ProtectionDomainSpec("bad name"), lambda: ProtectionDomainSpec("x" * 32),
    lambda: SdsSpec("sds-a", "10.0.0.300", PD), lambda: DeviceSpec("s", "/dev/../etc/passwd", PD, SP),
    lambda: DeviceSpec("s", "/dev/sdb;rm", PD, SP), lambda: StoragePoolSpec(PD, SP, spare_percentage=100),
    lambda: StoragePoolSpec(PD, SP, media_type="TAPE"), lambda: OwnedObject("not an id!"),
    lambda: VolumeScope("abc"),
])
def test_specs_refuse_malformed_parameters(build):
    with pytest.raises(InvalidParameters):
        build()
