"""scli against the reference (scaleio-commands.md section 3): flags, output shapes, exit codes and
effects on the shared system, run as real subprocesses on plain hosts with real MDM daemons."""
import concurrent.futures
import time

import pytest

from dcos_scaleio.sandbox.scaleio import sysview

pytestmark = pytest.mark.sandbox

PW = "Scaleio123"
ERR = "Error: MDM failed command.  Status: "


def ok(proc):
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def mdms(plain_world):
    """Three MDM hosts (mdm1, mdm2, tb1) with their mdm daemons running, no cluster yet."""
    hosts = [plain_world.host(n) for n in ("mdm1", "mdm2", "tb1")]
    for h, role in zip(hosts, "110"):   # what MDM_ROLE_IS_MANAGER wrote at install
        conf = h.path("/opt/emc/scaleio/mdm/cfg/conf.txt")
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(f"actor_role_is_manager={role}\n")
        h.start_daemon("mdm")
    for h in hosts:
        h.wait_port(9011)
    return hosts


@pytest.fixture(scope="module")
def cluster(mdms, plain_world):
    """The documented bootstrap (section 3.1), each step checked, leaving a 3_node cluster logged in."""
    m1, m2, tb = mdms
    proc = m1.run("scli", "--query_cluster", "--approve_certificate")
    assert proc.returncode == 1 and "not attached" in proc.stderr and proc.stderr.startswith(ERR)
    out = ok(m1.run("scli", "--create_mdm_cluster", "--master_mdm_ip", m1.ip, "--master_mdm_management_ip", m1.ip,
                    "--master_mdm_name", "mdm1", "--accept_license", "--approve_certificate"))
    assert "Successfully created the MDM Cluster" in out
    m1.wait_port(6611)
    assert "Logged in" in ok(m1.run("scli", "--login", "--username", "admin", "--password", "admin"))
    assert "Password changed successfully" in ok(
        m1.run("scli", "--set_password", "--old_password", "admin", "--new_password", PW))
    ok(m1.run("scli", "--login", "--username", "admin", "--password", PW))
    assert "Successfully added a standby MDM" in ok(m1.run(
        "scli", "--add_standby_mdm", "--new_mdm_ip", m2.ip, "--mdm_role", "manager",
        "--new_mdm_management_ip", m2.ip, "--new_mdm_name", "mdm2", "--approve_certificate"))
    proc = m1.run("scli", "--add_standby_mdm", "--new_mdm_ip", tb.ip, "--mdm_role", "manager")
    assert proc.returncode == 7 and "installed as a tie-breaker" in proc.stderr
    ok(m1.run("scli", "--add_standby_mdm", "--new_mdm_ip", tb.ip, "--mdm_role", "tb", "--new_mdm_name", "tb1"))
    assert "Successfully switched the cluster mode" in ok(m1.run(
        "scli", "--switch_cluster_mode", "--cluster_mode", "3_node", "--add_slave_mdm_name", "mdm2",
        "--add_tb_name", "tb1"))
    assert "Successfully renamed system to sys1" in ok(m1.run("scli", "--rename_system", "--new_name", "sys1"))
    m2.wait_port(6611)
    return mdms


def test_bootstrap_gives_a_3_node_cluster(cluster, plain_world):
    m1, m2, tb = cluster
    out = ok(m1.run("scli", "--query_cluster", "--approve_certificate"))
    assert "Mode: 3_node, State: Normal, Active: 3/3, Replicas: 2/2" in out
    assert "Name: sys1" in out
    for section in ("Cluster:", "Master MDM:", "Slave MDMs:", "Tie-Breakers:"):
        assert section in out.splitlines()
    assert f"IPs: {m2.ip}, Management IPs: {m2.ip}, Port: 9011" in out
    assert "Mode: 3_node" in ok(m1.run("scli", "--query_cluster", "--mdm_ip", "127.0.0.1"))
    # the slave answers too (6611 is open there once it is a manager member)
    assert "Master MDM:" in ok(m2.run("scli", "--query_cluster", "--mdm_ip", m2.ip))
    # the tie-breaker has no management port: it is not attached as a manager
    proc = tb.run("scli", "--query_cluster")
    assert proc.returncode == 1 and "not attached" in proc.stderr
    cl = plain_world.system.cluster()
    assert cl.mode == "3_node" and cl.system_name == "sys1" and cl.password_changed


def test_repeated_bootstrap_steps_fail_with_rc_7(cluster, plain_world):
    m1 = cluster[0]
    before = plain_world.system.count_events(op="create_cluster", outcome="applied")
    proc = m1.run("scli", "--create_mdm_cluster", "--master_mdm_ip", m1.ip, "--master_mdm_management_ip", m1.ip,
                  "--master_mdm_name", "mdm1", "--accept_license", "--approve_certificate")
    assert proc.returncode == 7 and proc.stderr.startswith(ERR)
    proc = m1.run("scli", "--login", "--username", "admin", "--password", "admin")
    assert proc.returncode == 7 and "invalid username or password" in proc.stderr
    assert plain_world.system.count_events(op="create_cluster", outcome="applied") == before == 1
    ok(m1.run("scli", "--login", "--username", "admin", "--password", PW))


def test_usage_errors_exit_1(cluster):
    m1 = cluster[0]
    for argv in (["--bogus_command"], ["--query_cluster", "--no_such_flag"], ["--login", "--username"],
                 ["--add_protection_domain"], ["--query_cluster", "--query_all_sds"]):
        proc = m1.run("scli", *argv)
        assert proc.returncode == 1 and proc.stderr.startswith("Error: "), (argv, proc.stderr)
    proc = m1.run("scli", "--create_mdm_cluster", "--master_mdm_ip", m1.ip)
    assert proc.returncode == 1 and "accept_license" in proc.stderr
    assert ok(m1.run("scli", "--version")).startswith("EMC ScaleIO Version: R")
    assert "--add_sds_device" in ok(m1.run("scli", "--help")).split()


def test_session_is_required_and_expires(cluster, plain_world):
    m1, m2, _ = cluster
    # mdm2 never logged in: its own session store is empty
    proc = m2.run("scli", "--query_all_sds")
    assert proc.returncode == 7 and proc.stderr.strip() == ERR + "Invalid session. Please login and try again."
    ok(m2.run("scli", "--login", "--username", "admin", "--password", PW, "--mdm_ip", m1.ip,
              "--approve_certificate"))
    ok(m2.run("scli", "--query_all_sds", "--mdm_ip", m1.ip))
    assert (m2.path("/root/.scli/session").stat().st_mode & 0o777) == 0o600
    plain_world.system.expire_sessions(f"scli:{m2.name}:0")
    assert m2.run("scli", "--query_all_sds", "--mdm_ip", m1.ip).returncode == 7
    ok(m2.run("scli", "--login", "--username", "admin", "--password", PW))
    assert "Logged out" in ok(m2.run("scli", "--logout"))
    assert m2.run("scli", "--query_all_sds").returncode == 7


def test_protection_domain_pool_sds_devices(cluster, plain_world, listen):
    m1 = cluster[0]
    system = plain_world.system
    sds_hosts = [plain_world.host(f"sds{i}") for i in range(3)]
    for h in sds_hosts:
        listen(h.ip, 7072)  # the SDS service is running there
        system.set_host_disks(h.ip, [{"path": "/dev/sdb", "size_gb": 100},
                                     {"path": "/dev/sdc", "size_gb": 100, "has_data": True},
                                     {"path": "/dev/sdd", "size_gb": 10}])
    assert "Successfully created protection domain pd1" in ok(
        m1.run("scli", "--add_protection_domain", "--protection_domain_name", "pd1"))
    ok(m1.run("scli", "--query_protection_domain", "--protection_domain_name", "pd1"))
    proc = m1.run("scli", "--query_protection_domain", "--protection_domain_name", "nope")
    assert proc.returncode == 7
    proc = m1.run("scli", "--query_storage_pool", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1")
    assert proc.returncode == 8 and "Could not find the Storage Pool" in proc.stderr
    assert "Successfully created a storage pool" in ok(m1.run(
        "scli", "--add_storage_pool", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1",
        "--media_type", "HDD"))
    ok(m1.run("scli", "--modify_zero_padding_policy", "--protection_domain_name", "pd1",
              "--storage_pool_name", "sp1", "--enable_zero_padding"))
    ok(m1.run("scli", "--modify_spare_policy", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1",
              "--spare_percentage", "34", "--i_am_sure"))
    out = ok(m1.run("scli", "--query_storage_pool", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1"))
    assert "Zero padding is enabled" in out and "Spare policy: 34% of total" in out

    a, b, c = sds_hosts
    assert "Successfully created SDS sds-a" in ok(m1.run(
        "scli", "--add_sds", "--sds_ip", a.ip, "--protection_domain_name", "pd1", "--sds_name", "sds-a",
        "--storage_pool_name", "sp1", "--device_path", "/dev/sdb"))
    for h, name in ((b, "sds-b"), (c, "sds-c")):
        ok(m1.run("scli", "--add_sds", "--sds_ip", h.ip, "--protection_domain_name", "pd1", "--sds_name", name))
    proc = m1.run("scli", "--add_sds", "--sds_ip", a.ip, "--protection_domain_name", "pd1", "--sds_name", "dup")
    assert proc.returncode == 7 and "already in use" in proc.stderr
    # zero padding can no longer change once a device exists
    proc = m1.run("scli", "--modify_zero_padding_policy", "--protection_domain_name", "pd1",
                  "--storage_pool_name", "sp1", "--disable_zero_padding")
    assert proc.returncode == 7 and "no devices in the Storage Pool" in proc.stderr
    for name in ("sds-b", "sds-c"):
        assert "Successfully added device /dev/sdb" in ok(m1.run(
            "scli", "--add_sds_device", "--sds_name", name, "--device_path", "/dev/sdb", "--storage_pool_name", "sp1"))
    # a disk that carries data, a disk too small, a device added twice, a missing disk: all refused
    for path, text in (("/dev/sdc", "contains data"), ("/dev/sdd", "too small"), ("/dev/sdb", "already added"),
                       ("/dev/sdz", "no such device")):
        proc = m1.run("scli", "--add_sds_device", "--sds_name", "sds-a", "--device_path", path,
                      "--storage_pool_name", "sp1")
        assert proc.returncode == 7 and text in proc.stderr, (path, proc.stderr)
    ok(m1.run("scli", "--add_sds_device", "--sds_name", "sds-a", "--device_path", "/dev/sdc",
              "--storage_pool_name", "sp1", "--force_device_takeover"))

    out = ok(m1.run("scli", "--query_all_sds"))
    assert out.splitlines()[0] == "Query-all-SDS returned 3 SDS nodes."
    assert f"Name: sds-a State: Connected, Joined IP: {a.ip} Port: 7072" in out
    out = ok(m1.run("scli", "--query_sds", "--sds_name", "sds-a"))
    assert "Path: /dev/sdb  Original-path: /dev/sdb" in out and "Path: /dev/sdc" in out
    assert "Successfully removed device /dev/sdc" in ok(
        m1.run("scli", "--remove_sds_device", "--sds_name", "sds-a", "--device_path", "/dev/sdc"))
    out = ok(m1.run("scli", "--query_storage_pool", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1"))
    assert "300 GB (307200 MB) total capacity" in out
    # the parse-friendly listing
    out = ok(m1.run("scli", "--query_properties", "--object_type", "SDS", "--all_objects",
                    "--properties", "NAME,IPS,DEVICE_ID_LIST"))
    assert out.count("SDS ") == 3 and f"IPS{' ' * 48}{a.ip}" in out
    out = ok(m1.run("scli", "--query_properties", "--object_type", "DEVICE", "--all_objects",
                    "--properties", "ORIGINAL_PATH,STORAGE_POOL_ID"))
    assert out.count("ORIGINAL_PATH") == 3 and "/dev/sdb" in out
    out = ok(m1.run("scli", "--query_properties", "--object_type", "MDM", "--all_objects", "--preset", "ALL"))
    assert out.count("MDM_ROLE_MANAGER") == 2 and out.count("MDM_ROLE_TIE_BREAKER") == 1
    assert ok(m1.run("scli", "--query_properties", "--object_type", "VOLUME", "--all_objects")).strip() == \
        "No objects returned"


def test_volumes_and_sdc_mapping(cluster, plain_world):
    m1 = cluster[0]
    system = plain_world.system
    if not system.storage_pools():
        pytest.skip("needs the pool of test_protection_domain_pool_sds_devices")
    guid = system.new_guid()
    client = plain_world.host("client1")
    system.register_sdc(guid, client.ip)
    out = ok(m1.run("scli", "--query_all_sdc"))
    assert f"IP: {client.ip} State: Connected GUID: {guid}" in out
    ok(m1.run("scli", "--rename_sdc", "--sdc_ip", client.ip, "--new_name", "client-1"))
    assert "Name: client-1" in ok(m1.run("scli", "--query_all_sdc"))
    ok(m1.run("scli", "--set_restricted_sdc_mode", "--restricted_sdc_mode", "enabled"))
    assert "MDM restricted SDC mode: Enabled" in ok(m1.run("scli", "--query_all_sdc"))
    ok(m1.run("scli", "--set_restricted_sdc_mode", "--restricted_sdc_mode", "disabled"))
    out = ok(m1.run("scli", "--add_volume", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1",
                    "--size_gb", "5", "--volume_name", "vol1", "--thin_provisioned"))
    assert out.splitlines()[0] == "Rounding up the volume size to 8 GB"
    assert out.splitlines()[1].startswith("Successfully created volume of size 8 GB. Object ID ")
    ok(m1.run("scli", "--map_volume_to_sdc", "--volume_name", "vol1", "--sdc_ip", client.ip))
    proc = m1.run("scli", "--map_volume_to_sdc", "--volume_name", "vol1", "--sdc_ip", client.ip)
    assert proc.returncode == 7 and "The volume is already mapped to this SDC" in proc.stderr
    assert f"SDC ID: {system.sdc(guid=guid).id} IP: {client.ip}" in ok(
        m1.run("scli", "--query_volume", "--volume_name", "vol1"))
    proc = m1.run("scli", "--remove_sdc", "--sdc_ip", client.ip)
    assert proc.returncode == 7
    proc = m1.run("scli", "--unmap_volume_from_sdc", "--volume_name", "vol1", "--sdc_ip", client.ip)
    assert proc.returncode == 1 and "--i_am_sure" in proc.stderr    # nobody at a terminal to confirm
    assert system.volume(name="vol1").mapped_sdc_ids
    ok(m1.run("scli", "--unmap_volume_from_sdc", "--volume_name", "vol1", "--sdc_ip", client.ip, "--i_am_sure"))
    proc = m1.run("scli", "--unmap_volume_from_sdc", "--volume_name", "vol1", "--sdc_ip", client.ip, "--i_am_sure")
    assert proc.returncode == 7 and "The volume is not mapped to SDC" in proc.stderr
    ok(m1.run("scli", "--remove_volume", "--volume_name", "vol1", "--i_am_sure"))
    ok(m1.run("scli", "--remove_sdc", "--sdc_ip", client.ip, "--i_am_sure"))
    assert "returned 0 SDC nodes" in ok(m1.run("scli", "--query_all_sdc"))


def test_remove_sds_refused_when_the_rest_cannot_hold_the_data(cluster, plain_world):
    m1 = cluster[0]
    system = plain_world.system
    if len(system.sds_list()) < 3:
        pytest.skip("needs the SDSs of test_protection_domain_pool_sds_devices")
    # 300 GB raw, 34% spare: a 64 GB volume uses 128 GB raw; two SDSs (200 GB, 132 usable) still hold it
    ok(m1.run("scli", "--add_volume", "--protection_domain_name", "pd1", "--storage_pool_name", "sp1",
              "--size_gb", "64", "--volume_name", "big"))
    ok(m1.run("scli", "--remove_sds", "--sds_name", "sds-c"))
    assert "returned 2 SDS nodes" in ok(m1.run("scli", "--query_all_sds"))
    proc = m1.run("scli", "--remove_sds", "--sds_name", "sds-b")
    assert proc.returncode == 7 and "capacity" in proc.stderr
    ok(m1.run("scli", "--remove_volume", "--volume_name", "big", "--i_am_sure"))


def test_mdm_unreachable_and_stopped(cluster, plain_world):
    m1, m2, tb = cluster
    plain_world.system.set_fault(sysview.MDM_UNREACHABLE, ip=m1.ip)
    try:
        m1.wait_port(6611, open_=False)
        proc = m1.run("scli", "--query_cluster")
        assert proc.returncode == 1 and proc.stderr.strip() == f"Error: Failed to connect to MDM {m1.ip}:6611"
        # a list of MDMs: scli falls over to the next reachable one
        assert "Mode: 3_node" in ok(m1.run("scli", "--query_cluster", "--mdm_ip", f"{m1.ip},{m2.ip}"))
    finally:
        plain_world.system.clear_fault(sysview.MDM_UNREACHABLE)
    m1.wait_port(6611)
    tb.stop_daemon("mdm")
    proc = tb.run("scli", "--query_cluster")
    assert proc.returncode == 1 and "Failed to connect to MDM" in proc.stderr
    out = ok(m1.run("scli", "--query_cluster"))     # the cluster sees its tie-breaker gone
    assert "Mode: 3_node, State: Degraded, Active: 2/3, Replicas: 2/2" in out
    assert "Status: Disconnected" in out
    tb.start_daemon("mdm")
    tb.wait_port(9011)
    assert "State: Normal, Active: 3/3" in ok(m1.run("scli", "--query_cluster"))


def test_slow_command_fault(cluster, plain_world):
    m1 = cluster[0]
    plain_world.system.set_fault(sysview.SLOW_COMMAND, tool="scli", command="query_cluster", seconds=1.0)
    try:
        started = time.monotonic()
        ok(m1.run("scli", "--query_cluster"))
        assert time.monotonic() - started >= 1.0   # the injected delay really happened (a lower bound)
        ok(m1.run("scli", "--query_all_sdc"))      # other commands are not affected
    finally:
        plain_world.system.clear_fault(sysview.SLOW_COMMAND)


def test_switch_back_to_1_node_and_remove_standbys(cluster, plain_world):
    m1, m2, tb = cluster
    ok(m1.run("scli", "--switch_cluster_mode", "--cluster_mode", "1_node", "--remove_slave_mdm_ip", m2.ip,
              "--remove_tb_ip", tb.ip))
    out = ok(m1.run("scli", "--query_cluster"))
    assert "Mode: 1_node, State: Normal, Active: 1/1" in out and "Standby MDMs:" in out
    m2.wait_port(6611, open_=False)  # no longer a manager member
    proc = m1.run("scli", "--remove_standby_mdm", "--remove_mdm_ip", m1.ip)
    assert proc.returncode == 7
    ok(m1.run("scli", "--remove_standby_mdm", "--remove_mdm_ip", m2.ip))
    ok(m1.run("scli", "--remove_standby_mdm", "--remove_mdm_name", "tb1"))
    assert "Standby MDMs:" not in ok(m1.run("scli", "--query_cluster"))


def test_parallel_scli_from_many_hosts_applies_each_effect_once(cluster, plain_world):
    m1, m2, _ = cluster
    system = plain_world.system
    ok(m2.run("scli", "--login", "--username", "admin", "--password", PW, "--mdm_ip", m1.ip))
    names = [f"ppd{i}" for i in range(6)]
    jobs = [(h, n) for n in names for h in (m1, m2)]   # every domain requested twice, from two hosts

    def add(job):
        h, n = job
        return h.run("scli", "--add_protection_domain", "--protection_domain_name", n, "--mdm_ip", m1.ip)
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(add, jobs))
    assert sorted(r.returncode for r in results) == [0] * 6 + [7] * 6
    assert all("already exists" in r.stderr for r in results if r.returncode == 7)
    for n in names:
        applied = [e for e in system.events(op="add_protection_domain", outcome="applied") if e.args.get("name") == n]
        assert len(applied) == 1
        ok(m1.run("scli", "--remove_protection_domain", "--protection_domain_name", n))
    assert system.integrity_problems() == []
