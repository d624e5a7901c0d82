"""The host steps for real, in isolated agent roots, on both OS families and both agent flavours.

One small ScaleIO cluster is built the way the executor would: agent ``pri`` (Ubuntu, plain Mesos)
becomes the primary MDM, ``sec`` (CentOS, plain Mesos) the secondary, ``tb`` (Ubuntu, DC/OS) the
tie-breaker (an older DC/OS without docker/volume). Every step's first run acts, its second run changes nothing, a run killed mid-step
converges when re-run without applying anything twice (the ScaleIO world's event log is the witness),
and secrets never appear in any result. The tests of this module build on each other, in order.
"""
import json
import os
import signal

import pytest
import requests

from .conftest import MESOS, OLD_DCOS_ISOLATION, PASSWORD, VERSION, parallel, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

SECRETS = {"admin_password": PASSWORD}
GW_PORT = 8443
ISOLATOR_NATIVE = "cgroups/cpu,cgroups/mem,filesystem/linux,docker/volume"


@pytest.fixture(scope="module")
def agents(world):
    return world.mixed_agents("pri", "sec", "tb")   # pri, sec, tb


def ok(result, changed=None):
    assert result["status"] == "COMPLETE", (result["reason"], result.get("_stderr", "")[-2000:])
    assert result["_rc"] == 0
    if changed is not None:
        assert result["changed"] is changed, result["changes"]
    assert PASSWORD not in json.dumps(result) + result.get("_stderr", "")
    return result


def base(world, agent, *components, **params):
    return {"hostname": agent.name, "os_family": agent.family, "flavour": agent.flavour,
            "scaleio_version": VERSION.split("-")[0], "packages": world.packages(agent.family, *components),
            **params}


def kill_when(proc, predicate, timeout=60):
    """SIGKILL the runner's whole process group as soon as ``predicate`` holds (a crash mid-step)."""
    try:
        assert wait_for(lambda: predicate() or proc.poll() is not None, timeout), "kill point never reached"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=30)


# ------------------------------------------------------------------------------------------------
def test_bad_values_are_refused_before_any_command(world, agents):
    pri = agents[0]
    bad = {"scaleio_version": "3.0;reboot", "mdm_ips": ["10.0.0.1", "$(id)"], "os_family": "windows",
           "packages": {"sdc": {"url": "http://x/a b.deb", "sha256": "abc"}}}
    res = pri.step("sdc", bad, SECRETS)
    assert res["status"] == "ERROR" and res["_rc"] == 1 and res["retryable"] is False
    assert res["commands"] == []          # nothing ran, not even uname
    assert set(res["facts"]["invalid"]) == {"scaleio_version", "mdm_ips", "os_family", "packages"}
    res = pri.step("dvdi", {"isolator": "dvdi", "docker_volume_checkpoint_dir": "/var/../etc"})
    assert res["status"] == "ERROR" and res["commands"] == []
    assert "docker_volume_checkpoint_dir" in res["facts"]["invalid"]
    res = pri.step("uninstall-sds", {"wipe_devices": ["/dev/sdb", "/dev/../vda"]})
    assert res["status"] == "ERROR" and res["commands"] == [] and "wipe_devices" in res["facts"]["invalid"]
    # Unknown step and non-object stdin are usage errors.
    r = pri.step("no-such-step", {})
    assert r["_rc"] == 2 and r["status"] == "ERROR"


def test_deps_installs_only_what_is_missing_and_reports_disks(world, agents):
    pri, sec, tb = agents
    r_pri, r_sec, r_tb = parallel(
        (pri.step, "deps", {"mdm": True, "discover_disks": True, "os_family": "ubuntu"}),
        (sec.step, "deps", {"mdm": True}), (tb.step, "deps", {"mdm": True}))
    ok(r_pri, changed=True)
    ok(r_sec, changed=True)
    ok(r_tb, changed=True)
    assert r_pri["os_family"] == "ubuntu" and r_sec["os_family"] == "rhel"
    assert "openjdk-8-jre" in r_pri["changes"][0] and "java-1.8.0-openjdk" in r_sec["changes"][0]
    disks = {d["path"]: d for d in r_pri["disks"]}
    assert disks["/dev/sdb"]["unused"] is True and disks["/dev/sdb"]["size_gb"] == 100
    assert disks["/dev/sdc"]["unused"] is False          # carries ext4
    assert ok(sec.step("deps", {"mdm": True}), changed=False)["changes"] == []
    # The scheduler's idea of the OS family is checked against the host.
    wrong = sec.step("deps", {"os_family": "ubuntu"})
    assert wrong["status"] == "ERROR" and wrong["retryable"] is False and "rhel" in wrong["reason"]


def test_mdm_packages_get_their_roles(world, agents):
    pri, sec, tb = agents
    results = parallel(
        (pri.step, "mdm", base(world, pri, "mdm", role="primary")),
        (sec.step, "mdm", base(world, sec, "mdm", role="secondary")),
        (tb.step, "mdm", base(world, tb, "mdm", role="tiebreaker", manager=False)))
    for res in results:
        ok(res, changed=True)
    assert "actor_role_is_manager=1" in pri.read("/opt/emc/scaleio/mdm/cfg/conf.txt")
    assert "actor_role_is_manager=1" in sec.read("/opt/emc/scaleio/mdm/cfg/conf.txt")
    assert "actor_role_is_manager=0" in tb.read("/opt/emc/scaleio/mdm/cfg/conf.txt")
    assert all(a.active("mdm") for a in agents)
    again = ok(tb.step("mdm", base(world, tb, "mdm", role="tiebreaker", manager=False)), changed=False)
    assert not any("dpkg -i" in c["argv"] for c in again["commands"])


def cluster_params(world, agents):
    pri, sec, tb = agents
    return {"hostname": pri.name, "os_family": "ubuntu", "primary_ip": pri.ip, "primary_name": "mdm-pri",
            "cluster_mode": "3_node", "system_name": "hoststeps",
            "standby_managers": [{"name": "mdm-sec", "ip": sec.ip}], "tiebreakers": [{"name": "mdm-tb", "ip": tb.ip}]}


def test_cluster_create_killed_mid_sequence_converges(world, agents):
    pri = agents[0]
    params = cluster_params(world, agents)
    no_pw = pri.step("cluster-create", params)
    assert no_pw["status"] == "ERROR" and no_pw["retryable"] is False and "admin password" in no_pw["reason"]
    assert not world.system.cluster().created
    proc = pri.start_step("cluster-create", params, SECRETS)
    kill_when(proc, lambda: world.system.cluster().created)
    res = ok(pri.step("cluster-create", params, SECRETS), changed=True)
    assert not any("created the MDM cluster" in c for c in res["changes"])   # done before the crash
    cluster = world.system.cluster()
    assert cluster.mode == "3_node" and cluster.system_name == "hoststeps"
    assert world.system.login("admin", PASSWORD)
    assert res["facts"]["cluster"]["mode"] == "3_node"
    # Applied exactly once each, crash or not.
    for op in ("create_cluster", "set_password", "rename_system", "switch_cluster_mode"):
        assert world.system.count_events(op=op, outcome="applied") == 1, op
    assert world.system.count_events(op="add_standby_mdm", outcome="applied") == 2
    again = ok(pri.step("cluster-create", params, SECRETS), changed=False)
    assert again["facts"]["todo"] == []
    # scli --password is the only place the password is on a command line, and results redact it.
    assert any("--password ******" in c["argv"] for c in again["commands"])


def test_gateway_configured_with_the_mdms(world, agents):
    pri, sec, _ = agents
    params = base(world, pri, "lia", "gateway", mdm_ips=[pri.ip, sec.ip], port=GW_PORT, role="primary")
    ok(pri.step("gateway", params, SECRETS), changed=True)
    props = "/opt/emc/scaleio/gateway/webapps/ROOT/WEB-INF/classes/gatewayUser.properties"
    text = pri.read(props)
    assert f"mdm.ip.addresses={pri.ip};{sec.ip}" in text and "security.bypass_certificate_check=true" in text
    assert PASSWORD not in text
    assert os.stat(pri.root.path(props)).st_mode & 0o777 == 0o600
    assert f"ssl.port={GW_PORT}" in pri.read("/opt/emc/scaleio/gateway/conf/catalina.properties")
    token = requests.get(f"https://{pri.ip}:{GW_PORT}/api/login", auth=("admin", PASSWORD),
                         verify=str(world.state / "tls" / "ca.pem"), timeout=10)
    assert token.status_code == 200 and token.json()
    again = ok(pri.step("gateway", params, SECRETS), changed=False)
    assert not any("restart" in c["argv"] for c in again["commands"])


def test_sds_and_sdc_connect_and_a_killed_sdc_step_converges(world, agents):
    pri, sec, tb = agents
    mdms = [pri.ip, sec.ip]
    r1, r2 = parallel((pri.step, "sds", base(world, pri, "sds")), (sec.step, "sds", base(world, sec, "sds")))
    ok(r1, changed=True)
    ok(r2, changed=True)
    ok(pri.step("sds", base(world, pri, "sds")), changed=False)
    # sec: killed once its SDC package is installed, before drv_cfg/verification finished.
    proc = sec.start_step("sdc", base(world, sec, "sdc", mdm_ips=mdms))
    kill_when(proc, lambda: sec.sh("rpm", "-q", "EMC-ScaleIO-sdc").returncode == 0)
    r_pri, r_sec, r_tb = parallel((pri.step, "sdc", base(world, pri, "sdc", mdm_ips=mdms)),
                                  (sec.step, "sdc", base(world, sec, "sdc", mdm_ips=mdms)),
                                  (tb.step, "sdc", base(world, tb, "sdc", mdm_ips=mdms)))
    for res, agent in ((r_pri, pri), (r_sec, sec), (r_tb, tb)):
        ok(res)
        drv = agent.read("/etc/emc/scaleio/drv_cfg.txt")
        assert [line for line in drv.splitlines() if line.startswith("mdm ")] == [f"mdm {pri.ip},{sec.ip}"]
        sdcs = [s for s in world.system.sdcs() if s.ip == agent.ip]
        assert len(sdcs) == 1 and sdcs[0].connected and sdcs[0].guid == res["facts"]["sdc_guid"]
    assert r_pri["changed"] and r_tb["changed"]
    again = ok(pri.step("sdc", base(world, pri, "sdc", mdm_ips=mdms)), changed=False)
    assert not any("drv_cfg --add_mdm" in c["argv"] for c in again["commands"])
    # The system's MDM addresses change (e.g. an existing cluster re-addressed): --mod_mdm_ip, persisted.
    for ips in ([pri.ip], mdms):
        moved = ok(tb.step("sdc", base(world, tb, "sdc", mdm_ips=ips)), changed=True)
        assert any("--mod_mdm_ip" in c["argv"] for c in moved["commands"])
        lines = [ln for ln in tb.read("/etc/emc/scaleio/drv_cfg.txt").splitlines() if ln.startswith("mdm ")]
        assert lines == ["mdm " + ",".join(ips)]


def rexray_params(world, agent, gateway_ip, **extra):
    return {"hostname": agent.name, "os_family": agent.family, "flavour": agent.flavour,
            "gateway_endpoint": f"https://{gateway_ip}:{GW_PORT}", "system_name": "hoststeps",
            "protection_domain": "pd1", "storage_pool": "sp1", "version": "0.11.4", "tls_verify": False,
            "packages": world.packages(agent.family, "rexray"), **extra}


def test_rexray_config_is_deterministic_and_restarts_only_on_change(world, agents):
    pri, _, tb = agents
    if not world.system.protection_domains():
        world.system.add_protection_domain("pd1")       # the scheduler's cluster steps do this
        world.system.add_storage_pool("sp1", pd_name="pd1")
    first, dcos = parallel((pri.step, "rexray", rexray_params(world, pri, pri.ip), SECRETS),
                           (tb.step, "rexray", rexray_params(world, tb, pri.ip, packages={}), SECRETS))
    ok(first, changed=True)
    conf = pri.read("/etc/rexray/config.yml")
    assert os.stat(pri.root.path("/etc/rexray/config.yml")).st_mode & 0o777 == 0o600
    assert f"https://{pri.ip}:{GW_PORT}/api" in conf and "systemName" in conf and PASSWORD in conf
    assert pri.active("rexray") and first["facts"]["rexray_version"].startswith("0.11.4")
    again = ok(pri.step("rexray", rexray_params(world, pri, pri.ip), SECRETS), changed=False)
    assert pri.read("/etc/rexray/config.yml") == conf
    assert not any("restart" in c["argv"] for c in again["commands"])
    changed = ok(pri.step("rexray", rexray_params(world, pri, pri.ip, log_level="debug"), SECRETS), changed=True)
    assert any(c.startswith("restarted rexray") for c in changed["changes"])
    # Interrupted between writing the config and restarting (here: scini is down, so the step stops
    # there): the re-run still restarts REX-Ray, although the file on disk is already current.
    pid = pri.sh("systemctl", "show", "-p", "MainPID", "rexray").stdout.strip()
    assert pri.sh("systemctl", "stop", "scini").returncode == 0
    stopped = pri.step("rexray", rexray_params(world, pri, pri.ip, log_level="info"), SECRETS)
    assert stopped["status"] == "ERROR" and "scini" in stopped["reason"] and stopped["retryable"]
    assert '"info"' in pri.read("/etc/rexray/config.yml")
    assert pri.sh("systemctl", "start", "scini").returncode == 0
    resumed = ok(pri.step("rexray", rexray_params(world, pri, pri.ip, log_level="info"), SECRETS), changed=True)
    assert "restarted rexray (configuration changed)" in resumed["changes"]
    assert pri.sh("systemctl", "show", "-p", "MainPID", "rexray").stdout.strip() != pid
    # DC/OS: the bundled dcos-rexray is configured (its unit copies rexray.conf), no second REX-Ray.
    ok(dcos, changed=True)
    assert "default-admin" in tb.read("/opt/mesosphere/etc/rexray.conf")
    assert tb.read("/etc/rexray/config.yml") == tb.read("/opt/mesosphere/etc/rexray.conf")
    assert tb.active("dcos-rexray") and tb.read("/usr/bin/rexray") is None
    assert "rexray_version" not in dcos["facts"]


def dvdi_params(world, agent, **extra):
    return {"flavour": agent.flavour, "packages": world.packages(agent.family, "dvdcli")
            if agent.flavour == "mesos" else {}, **extra}


def test_dvdi_flags_recorded_then_changed_and_restart_reported(world, agents):
    pri, sec, tb = agents
    module = world.artifact(f"isolator/{MESOS}")
    dcos_base = tb.read("/opt/mesosphere/etc/mesos-slave-common")
    native, res, dcos = parallel(
        (pri.step, "dvdi", dvdi_params(world, pri)),
        (sec.step, "dvdi", dvdi_params(world, sec, isolator="dvdi", mesos_version=MESOS, module=module)),
        (tb.step, "dvdi", dvdi_params(world, tb)))
    # Native docker/volume isolator, plain Mesos flag files; originals recorded first.
    ok(native, changed=True)
    assert pri.read("/etc/mesos-slave/isolation").strip() == ISOLATOR_NATIVE
    assert pri.read("/etc/mesos-slave/docker_volume_checkpoint_dir").strip() == "/var/lib/mesos/isolators/docker/volume"
    assert native["restart"] == "agent" and "restart" in native["restart_reason"]
    record = json.loads(pri.read("/var/lib/dcos-scaleio/agent-flags.json"))
    assert record["original"] == {"isolation": "cgroups/cpu,cgroups/mem", "modules": None,
                                  "docker_volume_checkpoint_dir": None}
    # The DVDI module for the agent's exact Mesos version, sha256-checked.
    ok(res, changed=True)
    assert "com_emccode_mesos_DockerVolumeDriverIsolator" in sec.read("/etc/mesos-slave/isolation")
    assert sec.read("/etc/mesos-slave/modules").strip() == "file:///usr/lib/dvdi-mod.json"
    mod = json.loads(sec.read("/usr/lib/dvdi-mod.json"))
    assert mod["libraries"][0]["file"] == f"/usr/lib/libmesos_dvdi_isolator-{MESOS}.so"
    assert mod["libraries"][0]["modules"][0]["parameters"] == [{"key": "work_dir", "value": "/var/lib/mesos"}]
    assert res["restart"] == "agent"
    # DC/OS: overrides go to /var/lib/dcos/mesos-slave-common only; the bundled dvdcli is used.
    ok(dcos, changed=True)
    override = tb.read("/var/lib/dcos/mesos-slave-common")
    assert "MESOS_DOCKER_VOLUME_CHECKPOINT_DIR=/var/lib/mesos/isolators/docker/volume" in override
    assert f"MESOS_ISOLATION={OLD_DCOS_ISOLATION},docker/volume" in override
    assert tb.read("/opt/mesosphere/etc/mesos-slave-common") == dcos_base
    assert dcos["facts"]["dvdcli"] == "/opt/mesosphere/bin/dvdcli"
    # Second runs change nothing; the agent still runs without the flags, so the restart stays asked for.
    again = parallel((pri.step, "dvdi", dvdi_params(world, pri)), (tb.step, "dvdi", dvdi_params(world, tb)))
    for r in again:
        assert ok(r, changed=False)["restart"] == "agent"


def test_uninstall_restores_the_agent_and_removes_packages(world, agents):
    pri, sec, tb = agents
    dcos_original = tb.read("/var/lib/dcos-scaleio/rexray.conf.orig")
    assert dcos_original and "scaleio" not in dcos_original
    res, res_sec = parallel((pri.step, "uninstall-dvdi", {"flavour": "mesos"}),
                            (sec.step, "uninstall-dvdi", {"flavour": "mesos"}))
    ok(res, changed=True)
    assert pri.read("/etc/mesos-slave/isolation").strip() == "cgroups/cpu,cgroups/mem"
    assert pri.read("/etc/mesos-slave/docker_volume_checkpoint_dir") is None
    assert res["restart"] == "agent"
    ok(res_sec, changed=True)
    assert sec.read(f"/usr/lib/libmesos_dvdi_isolator-{MESOS}.so") is None and sec.read("/usr/lib/dvdi-mod.json") is None
    assert sec.read("/etc/mesos-slave/modules") is None
    assert sec.read("/etc/mesos-slave/isolation").strip() == "cgroups/cpu,cgroups/mem"
    rex, sdc, dcos = parallel((pri.step, "uninstall-rexray", {"flavour": "mesos"}), (sec.step, "uninstall-sdc", {}),
                              (tb.step, "uninstall-rexray", {"flavour": "dcos"}))
    ok(dcos, changed=True)
    assert tb.read("/opt/mesosphere/etc/rexray.conf") == dcos_original
    assert tb.read("/var/lib/dcos-scaleio/rexray.conf.orig") is None
    ok(rex, changed=True)
    assert pri.read("/etc/rexray/config.yml") is None and not pri.active("rexray")
    ok(sdc, changed=True)
    assert sec.sh("rpm", "-q", "EMC-ScaleIO-sdc").returncode != 0 and not sec.active("scini")
    for r in parallel((pri.step, "uninstall-dvdi", {"flavour": "mesos"}), (sec.step, "uninstall-sdc", {}),
                      (tb.step, "uninstall-rexray", {"flavour": "dcos"})):
        ok(r, changed=False)


def test_uninstall_sds_wipes_the_devices_it_is_told_to(world, agents):
    sec = agents[1]
    wipefs = sec.read("/sbin/wipefs") or ""
    if "python" not in wipefs.split("\n", 1)[0]:
        # Never run the machine's real wipefs: /dev inside agents is the machine's.
        pytest.skip("the sandbox has no fake wipefs yet (requested in notes/requests-from-host-steps.md)")
    assert sec.sh("blkid", "-p", "/dev/sdc").returncode == 0          # ext4 on it
    res = ok(sec.step("uninstall-sds", {"flavour": "mesos", "wipe_devices": ["/dev/sdc"]}), changed=True)
    assert "wiped the signatures of /dev/sdc" in res["changes"]
    assert sec.sh("blkid", "-p", "/dev/sdc").returncode != 0
    assert sec.sh("rpm", "-q", "EMC-ScaleIO-sds").returncode != 0
    ok(sec.step("uninstall-sds", {"flavour": "mesos", "wipe_devices": ["/dev/sdc"]}), changed=False)
