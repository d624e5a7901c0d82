"""The simulated ScaleIO system's Python API: cluster, storage objects, refusals, event log."""
import os
import stat

import pytest

from dcos_scaleio.sandbox.scaleio import errors
from dcos_scaleio.sandbox.scaleio.system import KB_PER_GB, System

GB = KB_PER_GB


@pytest.fixture
def cluster3(sio_cluster3):
    return sio_cluster3


@pytest.fixture
def storage(cluster3, fresh_ip, listen):
    """cluster3 + pd1/sp1 + three connected SDSs with one 100 GB device each."""
    s, _ = cluster3
    pd = s.add_protection_domain("pd1")
    sp = s.add_storage_pool("sp1", pd_id=pd.id)
    sds_ips = []
    for i in range(3):
        ip = fresh_ip()
        listen(ip, 7072)
        s.set_host_disks(ip, [{"path": "/dev/sdb", "size_gb": 100}, {"path": "/dev/sdc", "size_gb": 100},
                              {"path": "/dev/sdd", "size_gb": 200, "has_data": True},
                              {"path": "/dev/sde", "size_gb": 10}])
        s.add_sds([ip], pd_id=pd.id, name=f"sds{i}", devices=[("/dev/sdb", sp.id)])
        sds_ips.append(ip)
    return s, pd, sp, sds_ips


def test_no_cluster_before_create(sio_system):
    assert sio_system.cluster().created is False
    with pytest.raises(errors.NoCluster) as ei:
        sio_system.login("admin", "admin")
    assert ei.value.scli_line == "Error: MDM failed command.  Status: This MDM is not attached to a system."
    with pytest.raises(errors.NoCluster):
        sio_system.add_protection_domain("pd1")


def test_create_cluster_needs_running_mdm(sio_system, fresh_ip, listen):
    ip = fresh_ip()
    with pytest.raises(errors.Unreachable):
        sio_system.create_cluster(ip)
    assert not sio_system.cluster().created
    listen(ip, 9011)
    cl = sio_system.create_cluster(ip, master_name="m1")
    assert cl.created and cl.mode == "1_node" and cl.master.ips == (ip,) and len(cl.system_id) == 16
    with pytest.raises(errors.AlreadyExists):
        sio_system.create_cluster(ip)
    assert sio_system.count_events(op="create_cluster", outcome="applied") == 1
    assert sio_system.count_events(op="create_cluster", outcome="refused") == 2


def test_three_and_five_node_modes_and_back(cluster3, fresh_ip, listen):
    s, ips = cluster3
    cl = s.cluster()
    assert cl.mode == "3_node"
    assert [m.name for m in cl.slaves] == ["mdm2"] and [m.name for m in cl.tie_breakers] == ["tb1"]
    extra = [fresh_ip(), fresh_ip()]
    for ip in extra:
        listen(ip, 9011)
    s.add_standby_mdm(extra[0], role="manager", name="mdm3")
    s.add_standby_mdm(extra[1], role="tb", name="tb2")
    with pytest.raises(errors.InvalidState):   # a tb cannot become a slave
        s.switch_cluster_mode("5_node", add_slaves=["tb2"], add_tbs=["mdm3"])
    assert s.cluster().mode == "3_node" and len(s.cluster().standbys) == 2   # refusal changed nothing
    s.switch_cluster_mode("5_node", add_slaves=[extra[0]], add_tbs=["tb2"])
    assert s.cluster().mode == "5_node" and len(s.cluster().active_members) == 5
    with pytest.raises(errors.InvalidState):
        s.remove_standby_mdm(name="mdm3")
    s.switch_cluster_mode("1_node", remove_slaves=["mdm2", "mdm3"], remove_tbs=["tb1", "tb2"])
    cl = s.cluster()
    assert cl.mode == "1_node" and len(cl.standbys) == 4
    for n in ("mdm2", "mdm3", "tb1", "tb2"):
        s.remove_standby_mdm(name=n)
    assert [m.name for m in s.cluster().members] == ["mdm1"]


def test_password_default_then_change_stored_hashed(cluster3):
    s, _ = cluster3
    assert s.login("admin", "admin").password_is_default
    with pytest.raises(errors.AuthFailed):
        s.set_password("admin", "wrong", "Scaleio123")
    s.set_password("admin", "admin", "Scaleio123")
    with pytest.raises(errors.AuthFailed):
        s.login("admin", "admin")
    assert not s.login("admin", "Scaleio123").password_is_default
    assert s.cluster().password_changed
    raw = s.db_path.read_bytes() + (s.db_path.parent / (s.db_path.name + "-wal")).read_bytes()
    assert b"Scaleio123" not in raw
    assert all("Scaleio123" not in str(e.args) for e in s.events())
    for suffix in ("", "-wal", "-shm"):
        assert stat.S_IMODE(os.stat(str(s.db_path) + suffix).st_mode) == 0o600


def test_sessions_expire(cluster3):
    s, _ = cluster3
    tok = s.open_session("gateway", "admin")
    assert s.check_session("gateway", tok) == "admin"
    with pytest.raises(errors.InvalidSession):
        s.check_session("scli", tok)
    assert s.expire_sessions("gateway") == 1
    with pytest.raises(errors.InvalidSession) as ei:
        s.check_session("gateway", tok)
    assert ei.value.message == "Invalid session. Please login and try again."
    short = s.open_session("gateway", "admin", ttl_s=0.001)
    import time
    time.sleep(0.01)
    with pytest.raises(errors.InvalidSession):
        s.check_session("gateway", short)


def test_pd_pool_names_and_policies(storage):
    s, pd, sp, _ = storage
    with pytest.raises(errors.AlreadyExists):
        s.add_protection_domain("pd1")
    with pytest.raises(errors.AlreadyExists):
        s.add_storage_pool("sp1", pd_name="pd1")
    with pytest.raises(errors.InvalidState) as ei:
        s.set_zero_padding(True, id=sp.id)
    assert "only allowed when there are no devices" in ei.value.message
    sp2 = s.add_storage_pool("sp2", pd_name="pd1", zero_padding=True, spare_percentage=34, media_type="SSD")
    assert s.storage_pool(name="sp2", pd_name="pd1") == sp2
    s.set_zero_padding(False, id=sp2.id)
    assert not s.storage_pool(id=sp2.id).zero_padding
    with pytest.raises(errors.InvalidState):
        s.remove_protection_domain(name="pd1")
    s.rename_storage_pool("sp3", id=sp2.id)
    s.remove_storage_pool(name="sp3", pd_name="pd1")
    with pytest.raises(errors.NotFound):
        s.storage_pool(id=sp2.id)


def test_sds_ip_in_use_unreachable_and_devices(storage, fresh_ip):
    s, pd, sp, sds_ips = storage
    with pytest.raises(errors.AlreadyExists) as ei:
        s.add_sds([sds_ips[0]], pd_id=pd.id, name="other")
    assert ei.value.message == "SDS IP address already in use"
    down = fresh_ip()   # nothing listens on 7072: the SDS service is not running
    with pytest.raises(errors.Unreachable):
        s.add_sds([down], pd_id=pd.id, name="down")
    assert sorted(x.name for x in s.sds_list()) == ["sds0", "sds1", "sds2"]   # the refusal added nothing
    with pytest.raises(errors.AlreadyExists):
        s.add_device("/dev/sdb", sds_name="sds0", pool_id=sp.id)
    with pytest.raises(errors.InvalidState):       # carries a filesystem
        s.add_device("/dev/sdd", sds_name="sds0", pool_id=sp.id)
    with pytest.raises(errors.InvalidState):       # 10 GB < 90 GB
        s.add_device("/dev/sde", sds_name="sds0", pool_id=sp.id)
    with pytest.raises(errors.NotFound):
        s.add_device("/dev/sdz", sds_name="sds0", pool_id=sp.id)
    d = s.add_device("/dev/sdd", sds_name="sds0", pool_name="sp1", force=True, name="big")
    assert d.size_kb == 200 * GB and s.device(sds_name="sds0", path="/dev/sdd") == d
    assert s.pool_capacity(id=sp.id).total_kb == 500 * GB
    assert s.sds_connected(s.sds(name="sds0"))


def test_volume_lifecycle_and_mapping(storage):
    s, pd, sp, _ = storage
    v = s.add_volume("vol1", 10, pool_id=sp.id)
    assert v.size_gb == 16 and v.thin
    with pytest.raises(errors.AlreadyExists):
        s.add_volume("vol1", 8, pool_id=sp.id)
    a, b = System.new_guid(), System.new_guid()
    s.register_sdc(a, "127.0.9.1")
    s.register_sdc(b, "127.0.9.2")
    s.map_volume(volume_name="vol1", sdc_guid=a)
    with pytest.raises(errors.AlreadyMapped) as ei:
        s.map_volume(volume_name="vol1", sdc_guid=a)
    assert ei.value.error_code == 81
    with pytest.raises(errors.AlreadyMapped):
        s.map_volume(volume_name="vol1", sdc_ip="127.0.9.2")
    with pytest.raises(errors.InvalidState):
        s.remove_volume(name="vol1")
    with pytest.raises(errors.InvalidState):
        s.remove_sdc(guid=a)
    s.unmap_volume(volume_name="vol1", sdc_guid=a)
    with pytest.raises(errors.NotMapped) as ei:
        s.unmap_volume(volume_name="vol1", sdc_guid=a)
    assert ei.value.error_code == 84
    s.map_volume(volume_id=v.id, sdc_ip="127.0.9.2")      # the volume moves to another host
    assert s.volume(name="vol1").mapped_sdc_ids == (s.sdc(guid=b).id,)
    s.unmap_volume(volume_id=v.id, all_sdcs=True)
    s.rename_volume("vol2", id=v.id)
    s.remove_volume(name="vol2")
    with pytest.raises(errors.NotFound) as ei:
        s.volume(id=v.id)
    assert ei.value.message == "Could not find the volume" and ei.value.error_code == 3


def test_capacity_and_sds_removal_migrates_or_refuses(storage):
    s, pd, sp, _ = storage
    cap = s.pool_capacity(id=sp.id)
    assert (cap.total_kb, cap.spare_kb, cap.in_use_kb) == (300 * GB, 30 * GB, 0)
    s.add_volume("big", 96, pool_id=sp.id)            # 192 GB raw of 270 usable
    assert s.pool_capacity(id=sp.id).in_use_kb == 192 * GB
    with pytest.raises(errors.InsufficientCapacity):
        s.add_volume("more", 40, pool_id=sp.id)
    with pytest.raises(errors.InsufficientCapacity):  # 200 GB left - 20 spare < 192 in use
        s.remove_sds(name="sds0")
    assert len(s.sds_list()) == 3 and len(s.devices(pool_id=sp.id)) == 3
    s.add_device("/dev/sdc", sds_name="sds1", pool_id=sp.id)
    s.remove_sds(name="sds0")                         # 300 - 30 >= 192: the data migrates
    assert len(s.sds_list()) == 2 and s.pool_capacity(id=sp.id).total_kb == 300 * GB
    assert s.system_capacity().in_use_kb == 192 * GB
    assert s.integrity_problems() == []


def test_sdc_register_is_idempotent_and_restricted_mode(cluster3):
    s, _ = cluster3
    g = System.new_guid()
    first = s.register_sdc(g, "127.0.9.5")
    again = s.register_sdc(g.lower(), "127.0.9.5")
    assert first == again and first.connected and first.approved
    assert s.count_events(op="register_sdc", outcome="applied") == 1
    assert s.count_events(op="register_sdc", outcome="noop") == 1
    s.disconnect_sdc(guid=g)
    assert not s.sdc(guid=g).connected
    s.set_restricted_sdc_mode(True)
    other = System.new_guid()
    rec = s.register_sdc(other, "127.0.9.6")
    assert not rec.connected and not rec.approved
    s.approve_sdc(guid=other)
    assert s.register_sdc(other, "127.0.9.6").connected
    with pytest.raises(errors.InvalidParameter):
        s.register_sdc("not-a-guid", "127.0.9.7")


def test_faults_are_shared_and_counted(sio_system, sio_state_dir):
    other = System.open(sio_state_dir, actor="other")
    sio_system.set_fault("gateway_5xx", count=2, status=503)
    assert other.take_fault("gateway_5xx") == {"status": 503}
    assert other.take_fault("gateway_5xx", applies=lambda p: False) is None
    assert sio_system.take_fault("gateway_5xx") == {"status": 503}
    assert other.take_fault("gateway_5xx") is None
