"""The ``scaleio`` world entry point, the pre-built existing-cluster API, and the gateway's own ``main``
reading the real configuration files."""
import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from PyPowerFlex import PowerFlexClient

from dcos_scaleio.sandbox.scaleio.prebuilt import ExistingCluster
from dcos_scaleio.sandbox.scaleio.system import System

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("quiet_pypowerflex")]


@pytest.fixture
def ip_prefix(fresh_ip_prefix):
    return fresh_ip_prefix


def read_line(proc, timeout=60) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError(f"no output within {timeout}s")
        line = proc.stdout.readline()
    finally:
        sel.close()
    assert line, f"exited with {proc.wait()}: {proc.stderr.read()}"
    return line


def stop(proc, timeout=20) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    for f in (proc.stdout, proc.stderr):
        f.close()
    return proc.returncode


def port_open(ip, port) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def pfx_client(info) -> PowerFlexClient:
    c = PowerFlexClient(gateway_address=info["gateway_ip"], gateway_port=info["gateway_port"],
                        username=info["admin_user"], password=info["admin_password"],
                        certificate_path=info["ca_path"], timeout=30)
    c.initialize()
    return c


def run_world(state_dir, ip_prefix, *extra):
    env = dict(os.environ)
    env.pop("SCALEIO_ADMIN_PASSWORD", None)
    return subprocess.Popen([sys.executable, "-m", "dcos_scaleio.sandbox", "scaleio", "--state-dir", str(state_dir),
                             "--ip-prefix", ip_prefix, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_world_prints_one_json_line_and_serves_gateway_and_mirror(tmp_path, ip_prefix):
    state = tmp_path / "world"
    proc = run_world(state, ip_prefix)
    try:
        info = json.loads(read_line(proc))
        c = pfx_client(info)
        (system,) = c.system.get()
        assert (system["name"], system["id"]) == ("scaleio", info["system_id"])
        assert system["mdmCluster"]["clusterMode"] == "ThreeNodes"
        assert [m["ips"] for m in system["mdmCluster"]["slaves"]] == [[f"{ip_prefix}.2"]]
        assert sorted(s["name"] for s in c.sds.get()) == ["sds1", "sds2", "sds3"]
        (pool,) = c.storage_pool.get()
        stats = c.storage_pool.get_statistics(pool["id"])
        assert stats["maxCapacityInKb"] == 3 * 100 * 1024 * 1024
        assert oct(os.stat(state / "admin-password").st_mode & 0o777) == "0o600"
        # The mirror serves every catalogued package with the published sha256.
        assert set(info["mirror_catalog"].values()) <= set(info["mirror_files"])
        sdc_pkg = info["mirror_catalog"]["scaleio/3.0-200.104/rhel/sdc"]
        body = requests.get(f"{info['mirror_url']}/{sdc_pkg}", timeout=10).content
        assert hashlib.sha256(body).hexdigest() == info["mirror_files"][sdc_pkg]["sha256"]
    finally:
        assert stop(proc) == 0
    assert not port_open(info["gateway_ip"], info["gateway_port"])
    assert not port_open(f"{ip_prefix}.1", 9011)

    # A restart reuses the state: same system, same password, nothing rebuilt.
    proc = run_world(state, ip_prefix, "--no-mirror")
    try:
        again = json.loads(read_line(proc))
        assert (again["system_id"], again["admin_password"]) == (info["system_id"], info["admin_password"])
        assert "mirror_url" not in again
        assert len(pfx_client(again).sds.get()) == 3
        assert System.open(state).count_events(op="create_cluster") == 1
    finally:
        assert stop(proc) == 0


def test_world_refuses_a_busy_address(tmp_path, ip_prefix, listen):
    listen(f"{ip_prefix}.11", 7072)      # something already runs where the first SDS would
    proc = run_world(tmp_path / "w", ip_prefix, "--no-mirror")
    assert proc.wait(timeout=60) == 1
    assert "cannot start" in proc.stderr.read()
    stop(proc)


@pytest.mark.parametrize("mode, members", [("1_node", 1), ("5_node", 5)])
def test_existing_cluster_api(tmp_path, ip_prefix, mode, members):
    with ExistingCluster(tmp_path / "ec", ip_prefix=ip_prefix, mode=mode, sds_count=2, disks_per_sds=2,
                         password="Secret-123", system_name="prod") as ec:
        info = ec.info()
        assert info["mode"] == mode and len(info["mdm_ips"]) + len(info["tie_breaker_ips"]) == members
        c = pfx_client(info)
        assert c.system.get()[0]["name"] == "prod"
        assert len(c.device.get()) == 4
        vol = c.volume.create(c.storage_pool.get()[0]["id"], 8, name="v1")
        assert ec.system.volume(name="v1").id == vol["id"]
    assert not port_open(info["gateway_ip"], info["gateway_port"])


def test_existing_cluster_mdms_accept_sdcs(sio_existing_cluster):
    """Agents' SDCs connect to a pre-built system's MDMs (9011) as to MDMs in agents."""
    ec = sio_existing_cluster
    assert port_open(ec.manager_ips[1], 6611) and not port_open(ec.tb_ips[0], 6611)
    guid = System.new_guid()
    with socket.create_connection((ec.manager_ips[0], 9011), timeout=10) as conn:
        conn.sendall(json.dumps({"op": "sdc_hello", "guid": guid, "ip": f"{ec.ip_prefix}.99"}).encode() + b"\n")
        reply = json.loads(conn.makefile().readline())
        assert reply == {"ok": True, "system_id": ec.info()["system_id"]}
        assert ec.system.sdc(guid=guid).connected
        sdcs = pfx_client(ec.info()).sdc.get()
        assert [(x["sdcGuid"], x["mdmConnectionState"]) for x in sdcs] == [(guid, "Connected")]
    end = time.monotonic() + 10       # the link dropped: the MDM marks the SDC disconnected
    while ec.system.sdc(guid=guid).connected:
        assert time.monotonic() < end
        time.sleep(0.05)


def test_gateway_main_reads_the_real_files(tmp_path, ip_prefix):
    """What the ``scaleio-gateway`` unit runs inside an agent: config from the gateway's own files."""
    state = tmp_path / "state"
    with ExistingCluster(state, ip_prefix=ip_prefix, password="Secret-123", gateway_port=0) as ec:
        root = tmp_path / "agent-root"
        gw_ip = f"{ip_prefix}.50"
        files = {
            "etc/sandbox/agent.json": json.dumps({"name": "a1", "hostname": "a1", "ip": gw_ip}),
            "etc/sandbox/scaleio.json": json.dumps({"state_dir": str(state)}),
            "opt/emc/scaleio/gateway/webapps/ROOT/WEB-INF/classes/gatewayUser.properties":
                "# gateway\nsecurity.bypass_certificate_check=true\n"
                f"mdm.ip.addresses={ec.manager_ips[1]};{ec.manager_ips[0]}\n",
            "opt/emc/scaleio/gateway/conf/catalina.properties": "http.port=8080\nssl.port=8443\n",
        }
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        env = {k: v for k, v in os.environ.items() if k != "SCALEIO_SANDBOX_STATE_DIR"}
        proc = subprocess.Popen([sys.executable, "-m", "dcos_scaleio.sandbox.scaleio.gateway", "--root", str(root)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert "The EMC ScaleIO Gateway is running" in read_line(proc)
            r = requests.get(f"https://{gw_ip}:8443/api/login", auth=("admin", "Secret-123"),
                             verify=str(state / "tls" / "ca.pem"), timeout=10)
            assert r.status_code == 200
            r = requests.get(f"https://{gw_ip}:8443/api/types/System/instances", auth=("", r.json()),
                             verify=str(state / "tls" / "ca.pem"), timeout=10)
            assert r.json()[0]["name"] == "scaleio"
        finally:
            assert stop(proc) == 0
        assert not port_open(gw_ip, 8443)


def test_gateway_main_without_configuration_fails_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SCALEIO_SANDBOX_STATE_DIR"}
    r = subprocess.run([sys.executable, "-m", "dcos_scaleio.sandbox.scaleio.gateway", "--root", str(tmp_path)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and "no ScaleIO system state dir" in r.stderr


def test_generated_admin_passwords_always_pass_the_options_rules(tmp_path, monkeypatch):
    """The world's generated password is what `sandbox up` hands the framework: it must satisfy the
    product's own validation every time, not just when the random part happens to hold a digit."""
    from dcos_scaleio.options import validate
    from dcos_scaleio.sandbox.scaleio.cli import PASSWORD_ENV, PASSWORD_FILE, admin_password
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    for _ in range(300):
        (tmp_path / PASSWORD_FILE).unlink(missing_ok=True)
        pw = admin_password(tmp_path)
        errors = [e for e in validate({"scaleio": {"admin_password": pw}}).errors
                  if e.path == "scaleio.admin_password"]
        assert errors == [], (pw, errors)
