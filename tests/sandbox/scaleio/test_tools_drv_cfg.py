"""drv_cfg and the scini driver against the reference (scaleio-commands.md section 4): the SDC
registers with the shared system through a real MDM daemon, runtime-only vs --file persistence across
a reboot, kernel without a module, MDM unreachable, rescans, and many hosts at once."""
import concurrent.futures

import pytest

from dcos_scaleio.sandbox.scaleio import sdcstate, sysview
from dcos_scaleio.sandbox.scaleio.hostside import Host

pytestmark = pytest.mark.sandbox

DRV_CFG = "/etc/emc/scaleio/drv_cfg.txt"


@pytest.fixture(scope="module")
def mdm(plain_world):
    """A 1_node cluster whose MDM daemon runs on its own plain host."""
    h = plain_world.host("mdm")
    h.start_daemon("mdm")
    h.wait_port(9011)
    plain_world.system.create_cluster(h.ip, master_name="mdm1")
    h.wait_port(6611)
    return h


def sdc_host(world, name, **kw):
    """A host with the SDC installed the way the package leaves it: drv_cfg.txt with its own GUID."""
    h = world.host(name, **kw)
    guid = sdcstate.new_guid()
    h.path(DRV_CFG).parent.mkdir(parents=True, exist_ok=True)
    h.path(DRV_CFG).write_text(sdcstate.render_drv_cfg(guid, []))
    h.guid = guid
    return h


def start_scini(h):
    h.start_daemon("scini")
    h.wait_for(lambda: sdcstate.is_loaded(Host(str(h.root))), what="scini loaded")


def connected(world, h):
    sdc = sysview.find_sdc(world.system, h.guid)
    return sdc is not None and sdc.connected and sdc.ip == h.ip


def test_commands_need_the_driver(plain_world):
    h = sdc_host(plain_world, "nodriver")
    for argv in (["--query_guid"], ["--query_mdms"], ["--add_mdm", "--ip", "127.0.0.9"], ["--rescan"]):
        proc = h.run("drv_cfg", *argv)
        assert proc.returncode == 1 and "Failed to open /dev/scini" in proc.stderr, argv


def test_slow_command_fault(plain_world, mdm):
    import time
    h = sdc_host(plain_world, "slow")
    start_scini(h)
    plain_world.system.set_fault(sysview.SLOW_COMMAND, tool="drv_cfg", command="query_guid", seconds=1.0)
    try:
        started = time.monotonic()
        assert h.run("drv_cfg", "--query_guid").stdout.strip() == h.guid
        assert time.monotonic() - started >= 1.0   # the injected delay happened (a lower bound)
    finally:
        plain_world.system.clear_fault(sysview.SLOW_COMMAND)
    h.stop()


def test_usage_errors(plain_world):
    h = sdc_host(plain_world, "usage")
    for argv in ([], ["--add_mdm"], ["--add_mdm", "--ip", "not-an-ip"], ["--query_mdms", "--bogus"],
                 ["--add_mdm", "--ip", "127.0.0.1", "--file", "relative.txt"]):
        proc = h.run("drv_cfg", *argv)
        assert proc.returncode == 1 and proc.stderr, argv


def test_scini_refuses_a_kernel_without_module(plain_world):
    h = sdc_host(plain_world, "oldkernel", kernel_supported=False)
    proc = h.start_daemon("scini")
    assert proc.wait(timeout=30) == 1
    assert "FAILED" in h.log("scini") and "no driver for kernel" in h.log("scini")
    assert h.run("drv_cfg", "--query_guid").returncode == 1


def test_runtime_registration_is_lost_on_reboot(plain_world, mdm):
    h = sdc_host(plain_world, "runtime")
    start_scini(h)
    assert h.run("drv_cfg", "--query_guid").stdout.strip() == h.guid
    assert "Retrieved 0 mdm(s)" in h.run("drv_cfg", "--query_mdms").stdout
    proc = h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip)
    assert proc.returncode == 0, proc.stderr
    h.wait_for(lambda: connected(plain_world, h), what="SDC connected")
    out = h.run("drv_cfg", "--query_mdms").stdout
    system_id = plain_world.system.cluster().system_id
    sdc_id = plain_world.system.sdc(guid=h.guid).id
    assert out.splitlines()[0] == "Retrieved 1 mdm(s)"
    assert f"MDM-ID {system_id} SDC ID {sdc_id} INSTALLATION ID " in out and f"IPs [0]-{mdm.ip}" in out
    assert "mdm " not in h.path(DRV_CFG).read_text()       # nothing persisted
    # restarting the driver (module reload) forgets it as well; the MDM sees the SDC go and come back
    h.stop_daemon("scini")
    h.wait_for(lambda: not plain_world.system.sdc(guid=h.guid).connected, what="MDM sees the SDC go")
    start_scini(h)
    assert "Retrieved 0 mdm(s)" in h.run("drv_cfg", "--query_mdms").stdout
    h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip)
    h.wait_for(lambda: connected(plain_world, h), what="SDC connected again")
    h.reboot()
    h.wait_for(lambda: not plain_world.system.sdc(guid=h.guid).connected, what="MDM sees the SDC go")
    start_scini(h)
    assert "Retrieved 0 mdm(s)" in h.run("drv_cfg", "--query_mdms").stdout
    assert not plain_world.system.sdc(guid=h.guid).connected


def test_file_registration_survives_reboot(plain_world, mdm):
    h = sdc_host(plain_world, "persisted")
    start_scini(h)
    assert h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip, "--file", DRV_CFG).returncode == 0
    assert f"mdm {mdm.ip}" in h.path(DRV_CFG).read_text().splitlines()
    h.wait_for(lambda: connected(plain_world, h), what="SDC connected")
    # adding the same system again is a no-op, not a second registration
    assert h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip, "--file", DRV_CFG).returncode == 0
    assert h.path(DRV_CFG).read_text().count("\nmdm ") == 1
    h.reboot()
    h.wait_for(lambda: not plain_world.system.sdc(guid=h.guid).connected, what="MDM sees the SDC go")
    start_scini(h)
    h.wait_for(lambda: connected(plain_world, h), what="SDC reconnected from drv_cfg.txt")
    assert f"[0]-{mdm.ip}" in h.run("drv_cfg", "--query_mdms").stdout


def test_mdm_unreachable_disconnects_the_sdc(plain_world, mdm):
    h = sdc_host(plain_world, "faulty")
    start_scini(h)
    h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip)
    h.wait_for(lambda: connected(plain_world, h), what="SDC connected")
    plain_world.system.set_fault(sysview.MDM_UNREACHABLE, ip=mdm.ip)
    try:
        h.wait_for(lambda: not plain_world.system.sdc(guid=h.guid).connected, what="SDC disconnected")
        mdm.wait_port(9011, open_=False)
    finally:
        plain_world.system.clear_fault(sysview.MDM_UNREACHABLE)
    h.wait_for(lambda: connected(plain_world, h), what="SDC reconnected")


def test_rescan_lists_mapped_volumes(plain_world, mdm, listen):
    system = plain_world.system
    h = sdc_host(plain_world, "rescan")
    start_scini(h)
    h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip)
    h.wait_for(lambda: connected(plain_world, h), what="SDC connected")
    sds_ip = plain_world.host("rescan-sds").ip
    listen(sds_ip, 7072)
    system.set_host_disks(sds_ip, [{"path": "/dev/sdb", "size_gb": 200}])
    pd = system.add_protection_domain("pd-rescan")
    sp = system.add_storage_pool("sp-rescan", pd_id=pd.id)
    system.add_sds([sds_ip], pd_id=pd.id, name="sds-rescan", devices=[("/dev/sdb", sp.id)])
    vol = system.add_volume("vol-rescan", 8, pool_id=sp.id)
    system.map_volume(volume_id=vol.id, sdc_guid=h.guid)
    assert h.run("drv_cfg", "--rescan").returncode == 0
    out = h.run("drv_cfg", "--query_vols").stdout
    assert out.splitlines()[0] == "Retrieved 1 volume(s)"
    assert f"VOL-ID {vol.id} MDM-ID {system.cluster().system_id}" in out
    assert sdcstate.volumes(Host(str(h.root))) == {vol.id: "scinia"}
    system.unmap_volume(volume_id=vol.id, all_sdcs=True)
    assert "Retrieved 0 volume(s)" in h.run("drv_cfg", "--query_vols").stdout


def test_many_hosts_register_in_parallel(plain_world, mdm):
    hosts = [sdc_host(plain_world, f"par{i}") for i in range(5)]
    for h in hosts:
        h.start_daemon("scini")
    for h in hosts:
        h.wait_for(lambda h=h: sdcstate.is_loaded(Host(str(h.root))), what="scini loaded")
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda h: h.run("drv_cfg", "--add_mdm", "--ip", mdm.ip, "--file", DRV_CFG), hosts))
    assert [r.returncode for r in results] == [0] * 5
    for h in hosts:
        h.wait_for(lambda h=h: connected(plain_world, h), what="SDC connected")
    listed = plain_world.system.sdcs()
    assert {h.guid for h in hosts} <= {s.guid for s in listed}
    for h in hosts:
        h.stop()
    assert plain_world.system.integrity_problems() == []


def test_sdc_joins_a_prebuilt_existing_cluster(tmp_path):
    """The framework's default mode: agents' SDCs join a system they did not build (3_node, 2 managers)."""
    import os
    from dcos_scaleio.sandbox.scaleio.hostside_plain import PlainHost
    from dcos_scaleio.sandbox.scaleio.prebuilt import ExistingCluster
    prefix = f"127.{200 + os.getpid() % 50}.250"   # see plain_world in conftest.py
    with ExistingCluster(tmp_path / "sio", ip_prefix=prefix) as ec:
        h = PlainHost(tmp_path / "agent", "agent", f"{prefix}.100", tmp_path / "sio")
        try:
            h.guid = sdcstate.new_guid()
            h.path(DRV_CFG).parent.mkdir(parents=True, exist_ok=True)
            h.path(DRV_CFG).write_text(sdcstate.render_drv_cfg(h.guid, []))
            start_scini(h)
            assert h.run("drv_cfg", "--add_mdm", "--ip", ",".join(ec.manager_ips), "--file", DRV_CFG).returncode == 0
            h.wait_for(lambda: (s := sysview.find_sdc(ec.system, h.guid)) is not None and s.connected,
                       timeout=10, what="SDC connected to the pre-built MDMs")
            out = h.run("drv_cfg", "--query_mdms").stdout
            assert f"MDM-ID {ec.system.cluster().system_id} " in out and f"[1]-{ec.manager_ips[1]}" in out
        finally:
            h.stop()
