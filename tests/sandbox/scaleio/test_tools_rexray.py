"""rexray and dvdcli against the reference (scaleio-commands.md sections 6-7) on plain hosts: the
volume life cycle through the real gateway (HTTPS verified against the sandbox CA), mapping to this
host's SDC, the service's Docker volume plugin socket, and a volume moving between two hosts."""
import pytest

from dcos_scaleio.sandbox.scaleio import sdcstate
from dcos_scaleio.sandbox.scaleio.gateway import GatewayServer
from dcos_scaleio.sandbox.scaleio.hostside import Host
from dcos_scaleio.sandbox.scaleio.listeners import PortListener

pytestmark = pytest.mark.sandbox

PW = "Scaleio123"
DRV_CFG = "/etc/emc/scaleio/drv_cfg.txt"
CONFIG = "/etc/rexray/config.yml"


def config_yml(url, *, password=PW, preempt=True):
    return (f"rexray:\n  logLevel: warn\nlibstorage:\n  service: scaleio\n  integration:\n    volume:\n"
            f"      operations:\n        mount:\n          preempt: {str(preempt).lower()}\n"
            f"scaleio:\n  endpoint: {url}\n  insecure: false\n  userName: admin\n  password: {password}\n"
            f"  systemName: sys1\n  protectionDomainName: pd1\n  storagePoolName: sp1\n"
            f"  thinOrThick: ThinProvisioned\n")


def ok(proc):
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def rows(out):
    """The data rows of a rexray table as dicts keyed by the header."""
    lines = [line.split() for line in out.strip().splitlines()]
    return [dict(zip(lines[0], r)) for r in lines[1:]]


@pytest.fixture(scope="module")
def world(plain_world):
    """MDM + gateway + a pool with capacity + two SDC hosts (a, b) connected, each with a rexray config."""
    system = plain_world.system
    mdm = plain_world.host("mdm")
    mdm.start_daemon("mdm")
    mdm.wait_port(9011)
    system.create_cluster(mdm.ip, master_name="mdm1")
    system.set_password("admin", "admin", PW)
    system.rename_system("sys1")
    pd = system.add_protection_domain("pd1")
    sp = system.add_storage_pool("sp1", pd_id=pd.id)
    listeners, gw, clients = [], None, []
    try:
        for i in range(3):
            ip = plain_world.host(f"sds{i}").ip
            listeners.append(PortListener(ip, 7072).start())
            system.set_host_disks(ip, [{"path": "/dev/sdb", "size_gb": 200}])
            system.add_sds([ip], pd_id=pd.id, name=f"sds{i}", devices=[("/dev/sdb", sp.id)])
        mdm.wait_port(6611)
        gw = GatewayServer(plain_world.state_dir, listen_ip=plain_world.host("gw").ip, mdm_ips=[mdm.ip]).start()
        for name in ("a", "b"):
            h = plain_world.host(name)
            h.path(DRV_CFG).parent.mkdir(parents=True, exist_ok=True)
            h.guid = sdcstate.new_guid()
            h.path(DRV_CFG).write_text(sdcstate.render_drv_cfg(h.guid, [[mdm.ip]]))
            h.start_daemon("scini")
            h.path(CONFIG).parent.mkdir(parents=True, exist_ok=True)
            h.path(CONFIG).write_text(config_yml(gw.url))
            clients.append(h)
        for h in clients:
            h.wait_for(lambda h=h: any(x.guid == h.guid and x.connected for x in system.sdcs()),
                       what="SDC connected")
        yield {"gw": gw, "a": clients[0], "b": clients[1], "mdm": mdm}
    finally:
        for h in clients:
            h.stop()
        if gw is not None:
            gw.stop()
        for lst in listeners:
            lst.stop()


def test_version_and_config_errors(world, plain_world):
    a = world["a"]
    out = ok(a.run("rexray", "version"))
    assert "REX-Ray" in out and "SemVer: 0.11.4" in out
    bare = plain_world.host("bare")
    proc = bare.run("rexray", "volume", "ls")
    assert proc.returncode == 1 and "config file /etc/rexray/config.yml not found" in proc.stderr
    bare.path(CONFIG).parent.mkdir(parents=True, exist_ok=True)
    bare.path(CONFIG).write_text("libstorage:\n  service: scaleio\nscaleio:\n  userName: admin\n")
    proc = bare.run("rexray", "volume", "ls")
    assert proc.returncode == 1 and "scaleio.endpoint" in proc.stderr
    bare.path(CONFIG).write_text(config_yml(world["gw"].url, password="wrong-password"))
    proc = bare.run("rexray", "volume", "ls")
    assert proc.returncode == 1 and "error logging in" in proc.stderr


def test_volume_life_cycle_on_one_host(world, plain_world):
    a = world["a"]
    system = plain_world.system
    created = rows(ok(a.run("rexray", "volume", "create", "lc1", "--size", "10")))
    assert created[0]["Name"] == "lc1" and created[0]["Size"] == "16" and created[0]["Status"] == "available"
    listed = {r["Name"]: r for r in rows(ok(a.run("rexray", "volume", "ls")))}
    assert listed["lc1"]["Status"] == "available"
    proc = a.run("rexray", "volume", "create", "lc1")
    assert proc.returncode == 1 and "already exists" in proc.stderr
    mounted = rows(ok(a.run("rexray", "volume", "mount", "lc1")))
    assert mounted[0]["Status"] == "attached" and mounted[0]["Path"] == "/var/lib/libstorage/volumes/lc1/data"
    vol = system.volume(name="lc1")
    assert vol.mapped_sdc_ids == (system.sdc(guid=a.guid).id,)
    assert sdcstate.volumes(Host(str(a.root))) == {vol.id: "scinia"}
    a.path("/var/lib/libstorage/volumes/lc1/data/hello").write_text("from a\n")
    proc = a.run("rexray", "volume", "rm", "lc1")
    assert proc.returncode == 1 and "attached" in proc.stderr
    unmounted = rows(ok(a.run("rexray", "volume", "unmount", "lc1")))
    assert unmounted[0]["Status"] == "available"
    assert system.volume(name="lc1").mapped_sdc_ids == ()
    assert not a.path("/var/lib/libstorage/volumes/lc1").exists()
    assert ok(a.run("rexray", "volume", "rm", "lc1")).strip() == "lc1"
    assert "lc1" not in ok(a.run("rexray", "volume", "ls"))


def test_volume_moves_between_hosts(world, plain_world):
    a, b = world["a"], world["b"]
    system = plain_world.system
    ok(a.run("rexray", "volume", "create", "mv1", "--size", "8"))
    ok(a.run("rexray", "volume", "mount", "mv1"))
    a.path("/var/lib/libstorage/volumes/mv1/data/state").write_text("written on a\n")
    assert {r["Name"]: r for r in rows(ok(b.run("rexray", "volume", "ls")))}["mv1"]["Status"] == "unavailable"
    # b's config preempts: the mapping moves from a's SDC to b's, and the data comes along
    ok(b.run("rexray", "volume", "mount", "mv1"))
    assert system.volume(name="mv1").mapped_sdc_ids == (system.sdc(guid=b.guid).id,)
    assert b.path("/var/lib/libstorage/volumes/mv1/data/state").read_text() == "written on a\n"
    # without preemption a host cannot take a volume that is attached elsewhere
    a.path(CONFIG).write_text(config_yml(world["gw"].url, preempt=False))
    try:
        proc = a.run("rexray", "volume", "mount", "mv1")
        assert proc.returncode == 1 and "attached to another host" in proc.stderr
        assert system.volume(name="mv1").mapped_sdc_ids == (system.sdc(guid=b.guid).id,)
        ok(b.run("rexray", "volume", "unmount", "mv1"))
        ok(a.run("rexray", "volume", "rm", "mv1"))
    finally:
        a.path(CONFIG).write_text(config_yml(world["gw"].url))


def test_service_needs_scini_and_a_valid_config(world, plain_world):
    h = plain_world.host("noscini")
    h.path(CONFIG).parent.mkdir(parents=True, exist_ok=True)
    h.path(CONFIG).write_text(config_yml(world["gw"].url))
    proc = h.start_daemon("rexray")
    assert proc.wait(timeout=30) == 1 and "scini kernel module is not loaded" in h.log("rexray")
    h.path(CONFIG).write_text("scaleio: [not, a, map]\n")
    proc = h.start_daemon("rexray")
    assert proc.wait(timeout=30) == 1 and "invalid config" in h.log("rexray")


def test_dvdcli_through_the_rexray_service(world, plain_world):
    a = world["a"]
    system = plain_world.system
    assert "SemVer: 0.2.1" in ok(a.run("dvdcli", "version"))
    proc = a.run("dvdcli", "mount", "--volumedriver=rexray", "--volumename=dv1")
    assert proc.returncode == 1 and "volume driver 'rexray' not found" in proc.stderr
    a.start_daemon("rexray")
    a.wait_for(lambda: a.path("/run/docker/plugins/rexray.sock").exists(), what="plugin socket")
    try:
        out = ok(a.run("dvdcli", "mount", "--volumedriver=rexray", "--volumename=dv1", "--volumeopts=size=9",
                       "--volumeopts=newfstype=xfs"))
        assert out.strip() == "/var/lib/libstorage/volumes/dv1/data"
        vol = system.volume(name="dv1")
        assert vol.size_gb == 16 and vol.mapped_sdc_ids == (system.sdc(guid=a.guid).id,)
        assert ok(a.run("dvdcli", "path", "--volumedriver=rexray", "--volumename=dv1")).strip() == out.strip()
        # the service's gateway token expires: it logs in again by itself
        system.expire_sessions("gateway")
        ok(a.run("dvdcli", "unmount", "--volumedriver=rexray", "--volumename=dv1"))
        assert system.volume(name="dv1").mapped_sdc_ids == ()
        # a gateway 5xx fails the request in-band; the next attempt works
        system.set_fault("gateway_5xx", count=1, status=503, message="Service Unavailable", path="addMappedSdc")
        proc = a.run("dvdcli", "mount", "--volumedriver=rexray", "--volumename=dv1")
        assert proc.returncode == 1 and "Service Unavailable" in proc.stderr
        assert system.volume(name="dv1").mapped_sdc_ids == ()
        ok(a.run("dvdcli", "mount", "--volumedriver=rexray", "--volumename=dv1"))
        ok(a.run("dvdcli", "unmount", "--volumedriver=rexray", "--volumename=dv1"))
        proc = a.run("dvdcli", "mount", "--volumedriver=rexray", "--volumename=dv2", "--explicitCreate=true")
        assert proc.returncode == 1 and "volume not found" in proc.stderr
        ok(a.run("dvdcli", "remove", "--volumedriver=rexray", "--volumename=dv1"))
        assert "dv1" not in [v.name for v in system.volumes()]
    finally:
        a.stop_daemon("rexray")
    assert not a.path("/run/docker/plugins/rexray.sock").exists()
