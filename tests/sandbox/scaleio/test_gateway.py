"""The gateway REST API, driven by unmodified PyPowerFlex (and raw requests for wire details),
with TLS verified against the sandbox CA."""
import ssl
import socket

import pytest
import requests
from cryptography import x509
from PyPowerFlex import PowerFlexClient, exceptions as pfx

from dcos_scaleio.sandbox.scaleio.gateway import GatewayServer
from dcos_scaleio.sandbox.scaleio.records import KB_PER_GB
from dcos_scaleio.sandbox.scaleio.system import System

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("quiet_pypowerflex")]
PASSWORD = "Scaleio123"   # conftest.SIO_TEST_PASSWORD



def client(gw, password=PASSWORD) -> PowerFlexClient:
    c = PowerFlexClient(gateway_address=gw.listen_ip, gateway_port=gw.port, username="admin", password=password,
                        verify_certificate=True, certificate_path=str(gw.ca_path), timeout=30)
    c.initialize()
    return c


def token(gw, password=PASSWORD) -> str:
    r = requests.get(gw.url + "/login", auth=("admin", password), verify=str(gw.ca_path), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def api(gw, method, path, tok, **kw):
    return requests.request(method, gw.url + path, auth=("admin", tok), verify=str(gw.ca_path), timeout=10, **kw)


@pytest.fixture
def sds_hosts(sio_cluster3, fresh_ip, listen):
    """Three SDS hosts with a running SDS service and published disks."""
    s, _ = sio_cluster3
    ips = []
    for _ in range(3):
        ip = fresh_ip()
        listen(ip, 7072)
        s.set_host_disks(ip, [{"path": "/dev/sdb", "size_gb": 100}, {"path": "/dev/sdc", "size_gb": 120},
                              {"path": "/dev/sdd", "size_gb": 100, "has_data": True}])
        ips.append(ip)
    return ips


def test_pypowerflex_drives_every_operation_and_reads_back(sio_gateway, sio_cluster3, sds_hosts):
    s, mdm_ips = sio_cluster3
    c = client(sio_gateway)
    assert c.system.api_version() == "3.0"
    (system,) = c.system.get()
    assert system["id"] == s.cluster().system_id
    assert system["mdmCluster"]["clusterMode"] == "ThreeNodes"
    assert system["mdmCluster"]["master"]["ips"] == [mdm_ips[0]]

    pd = c.protection_domain.create("pd1")
    assert c.protection_domain.get(entity_id=pd["id"])["name"] == "pd1"
    sp = c.storage_pool.create(media_type="HDD", protection_domain_id=pd["id"], name="sp1",
                               spare_percentage=20, zero_padding_enabled=True)
    got = c.storage_pool.get(entity_id=sp["id"])
    assert (got["name"], got["sparePercentage"], got["zeroPaddingEnabled"]) == ("sp1", 20, True)
    assert [p["id"] for p in c.protection_domain.get_storage_pools(pd["id"])] == [sp["id"]]

    sds1 = c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": sds_hosts[0], "role": "all"}], name="sds1",
                        devices_info=[{"devicePath": "/dev/sdb", "storagePoolId": sp["id"], "deviceName": "d1"}])
    assert sds1["ipList"] == [{"ip": sds_hosts[0], "role": "all"}]
    assert sds1["mdmConnectionState"] == "Connected"
    sds2 = c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": sds_hosts[1], "role": "all"}], name="sds2")
    dev = c.device.create("/dev/sdc", sds2["id"], storage_pool_id=sp["id"], name="d2")
    assert (dev["deviceCurrentPathName"], dev["sdsId"], dev["maxCapacityInKb"]) == ("/dev/sdc", sds2["id"],
                                                                                     120 * KB_PER_GB)
    taken = c.device.create("/dev/sdd", sds2["id"], storage_pool_id=sp["id"], force=True)
    assert {d["id"] for d in c.sds.get_devices(sds2["id"])} == {dev["id"], taken["id"]}
    assert {x["name"] for x in c.storage_pool.get_sdss(sp["id"])} == {"sds1", "sds2"}
    assert len(c.device.get(filter_fields={"storagePoolId": sp["id"]})) == 3

    stats = c.storage_pool.get_statistics(sp["id"])
    assert stats["maxCapacityInKb"] == 320 * KB_PER_GB and stats["capacityInUseInKb"] == 0
    vol = c.volume.create(sp["id"], 10, name="vol1")
    assert (vol["name"], vol["sizeInKb"], vol["volumeType"]) == ("vol1", 16 * KB_PER_GB, "ThinProvisioned")
    stats = c.storage_pool.get_statistics(sp["id"])
    assert stats["capacityInUseInKb"] == 32 * KB_PER_GB and stats["numOfVolumes"] == 1
    all_pools = c.utility.get_statistics_for_all_storagepools()
    assert all_pools[sp["id"]]["capacityInUseInKb"] == 32 * KB_PER_GB
    sys_stats = c.system.get_related(system["id"], "Statistics")
    assert sys_stats["maxCapacityInKb"] == 320 * KB_PER_GB

    guid = System.new_guid()
    sdc = s.register_sdc(guid, "127.0.99.1")        # what scini does on an agent
    assert [x["sdcGuid"] for x in c.sdc.get()] == [guid]
    mapped = c.volume.add_mapped_sdc(vol["id"], sdc_guid=guid)
    assert [m["sdcId"] for m in mapped["mappedSdcInfo"]] == [sdc.id]
    assert [v["id"] for v in c.sdc.get_mapped_volumes(sdc.id)] == [vol["id"]]
    assert c.volume.remove_mapped_sdc(vol["id"], sdc_id=sdc.id)["mappedSdcInfo"] is None

    c.protection_domain.rename(pd["id"], "pd-a")
    c.storage_pool.rename(sp["id"], "sp-a")
    c.sds.rename(sds1["id"], "sds-a")
    c.device.rename(dev["id"], "dev-a")
    c.volume.rename(vol["id"], "vol-a")
    c.sdc.rename(sdc.id, "sdc-a")
    assert c.protection_domain.get(entity_id=pd["id"])["name"] == "pd-a"
    assert c.storage_pool.get(entity_id=sp["id"])["name"] == "sp-a"
    assert c.sds.get(entity_id=sds1["id"])["name"] == "sds-a"
    assert c.device.get(entity_id=dev["id"])["name"] == "dev-a"
    assert c.volume.get(entity_id=vol["id"])["name"] == "vol-a"
    assert c.sdc.get(entity_id=sdc.id)["name"] == "sdc-a"

    c.volume.delete(vol["id"], "ONLY_ME")
    c.device.delete(taken["id"])
    c.sds.delete(sds1["id"])
    c.sds.delete(sds2["id"])
    c.storage_pool.delete(sp["id"])
    c.protection_domain.delete(pd["id"])
    assert c.volume.get() == [] and c.sds.get() == [] and c.protection_domain.get() == []
    # Everything the gateway did is in the system's event log, attributed to it.
    gw_events = s.events(actor=f"gateway@{sio_gateway.listen_ip}")
    assert sum(e.op == "add_sds" and e.outcome == "applied" for e in gw_events) == 2
    assert s.integrity_problems() == []


def test_error_shapes_and_status_codes(sio_gateway, sio_cluster3, sds_hosts, fresh_ip):
    s, _ = sio_cluster3
    c = client(sio_gateway)
    pd = c.protection_domain.create("pd1")
    sp = c.storage_pool.create(media_type="HDD", protection_domain_id=pd["id"], name="sp1")
    sds = c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": sds_hosts[0], "role": "all"}], name="sds1",
                       devices_info=[{"devicePath": "/dev/sdb", "storagePoolId": sp["id"]}])

    def refused(call, message, code):
        with pytest.raises(pfx.PowerFlexClientException) as ei:
            call()
        assert ei.value.response == {"message": message, "httpStatusCode": 500, "errorCode": code}

    refused(lambda: c.protection_domain.create("pd1"),
            "A Protection Domain with the same name already exists", 6)
    refused(lambda: c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": sds_hosts[0], "role": "all"}],
                                 name="again"), "SDS IP address already in use", 6)
    refused(lambda: c.device.create("/dev/sdb", sds["id"], storage_pool_id=sp["id"]),
            "The device /dev/sdb is already added to this SDS", 6)
    down = fresh_ip()
    refused(lambda: c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": down, "role": "all"}]),
            f"Could not connect to the SDS at {down}:7072. Make sure the SDS service is running", 20)
    refused(lambda: c.volume.get(entity_id="0123456789abcdef"), "Could not find the volume", 3)

    tok = token(sio_gateway)
    r = api(sio_gateway, "GET", "/instances/Sds::ffffffffffffffff", tok)
    assert r.status_code == 500 and r.json() == {"message": "Could not find the SDS", "httpStatusCode": 500,
                                                 "errorCode": 3}
    r = api(sio_gateway, "POST", "/types/Volume/instances", tok, data="{not json")
    assert r.status_code == 400 and r.json()["httpStatusCode"] == 400
    r = api(sio_gateway, "POST", "/types/Volume/instances", tok, json={"storagePoolId": sp["id"]})
    assert r.status_code == 400 and "volumeSizeInGb" in r.json()["message"]
    r = api(sio_gateway, "GET", "/types/Bogus/instances", tok)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")
    # Refusals are logged once each, and changed nothing.
    assert s.count_events(op="add_sds", outcome="refused") == 2
    assert [x.name for x in s.sds_list()] == ["sds1"]


def test_login_tokens_logout_and_expiry(sio_gateway, sio_cluster3):
    s, _ = sio_cluster3
    gw = sio_gateway
    r = requests.get(gw.url + "/login", auth=("admin", "wrong"), verify=str(gw.ca_path), timeout=10)
    assert r.status_code == 401 and r.json()["httpStatusCode"] == 401
    assert requests.get(gw.url + "/version", verify=str(gw.ca_path), timeout=10).status_code == 401
    tok = token(gw)
    assert isinstance(tok, str) and len(tok) > 16
    assert api(gw, "GET", "/version", tok).json() == "3.0"
    assert api(gw, "GET", "/version", tok + "x").status_code == 401
    # goscaleio-style: empty user name, token as password
    r = requests.get(gw.url + "/types/System/instances", auth=("", tok), verify=str(gw.ca_path), timeout=10)
    assert r.status_code == 200 and r.json()[0]["id"] == s.cluster().system_id
    assert api(gw, "GET", "/logout", tok).status_code == 200
    assert api(gw, "GET", "/version", tok).status_code == 401
    tok2 = token(gw)
    assert s.expire_sessions("gateway") >= 1          # injected expiry, from any process
    r = api(gw, "GET", "/types/ProtectionDomain/instances", tok2)
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized", "httpStatusCode": 401, "errorCode": 0}
    tok3 = token(gw)
    s.set_fault("gateway_token_expired", count=1)   # the next token check finds it expired
    assert api(gw, "GET", "/version", tok3).status_code == 401
    assert api(gw, "GET", "/version", tok3).status_code == 401   # the session is gone for good
    assert api(gw, "GET", "/version", token(gw)).status_code == 200
    # PyPowerFlex logs in again for every request, so it is unaffected; a bad password is not.
    assert client(gw).protection_domain.get() == []
    with pytest.raises(Exception, match="401"):
        client(gw, password="nope")


def test_tokens_expire_after_their_ttl(sio_cluster3, sio_state_dir, fresh_ip):
    s, ips = sio_cluster3
    s.set_password("admin", "admin", PASSWORD)
    with GatewayServer(sio_state_dir, listen_ip=fresh_ip(), mdm_ips=ips[:1], token_ttl_s=0.2) as gw:
        tok = token(gw)
        assert api(gw, "GET", "/version", tok).status_code == 200
        deadline_ok = False
        import time
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if api(gw, "GET", "/version", tok).status_code == 401:
                deadline_ok = True
                break
            time.sleep(0.1)
        assert deadline_ok


def test_tls_is_verified_against_the_sandbox_ca(sio_gateway):
    gw = sio_gateway
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(gw.url + "/login", auth=("admin", PASSWORD), timeout=10)   # system CAs only
    pem = ssl.get_server_certificate((gw.listen_ip, gw.port))
    cert = x509.load_pem_x509_certificate(pem.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == [gw.listen_ip]
    ctx = ssl.create_default_context(cafile=str(gw.ca_path))
    with socket.create_connection((gw.listen_ip, gw.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=gw.listen_ip) as tls_sock:
            assert tls_sock.version() in ("TLSv1.2", "TLSv1.3")


def test_injected_5xx(sio_gateway, sio_cluster3):
    s, _ = sio_cluster3
    gw = sio_gateway
    tok = token(gw)
    s.set_fault("gateway_5xx", count=1, status=503, path="/types/Volume")
    assert api(gw, "GET", "/types/Sds/instances", tok).status_code == 200     # other paths unaffected
    r = api(gw, "GET", "/types/Volume/instances", tok)
    assert r.status_code == 503 and r.json()["httpStatusCode"] == 503
    assert api(gw, "GET", "/types/Volume/instances", tok).status_code == 200  # fired once
    # A lost response: the create took effect, the client saw a 502; its retry is refused as a duplicate.
    s.set_fault("gateway_5xx", count=1, status=502, path="/types/ProtectionDomain/instances", when="after")
    r = api(gw, "POST", "/types/ProtectionDomain/instances", tok, json={"name": "pd-x"})
    assert r.status_code == 502
    assert [p.name for p in s.protection_domains()] == ["pd-x"]
    r = api(gw, "POST", "/types/ProtectionDomain/instances", tok, json={"name": "pd-x"})
    assert r.status_code == 500 and "already exists" in r.json()["message"]
    assert s.count_events(op="add_protection_domain", outcome="applied") == 1
    assert s.count_events(op="add_protection_domain", outcome="refused") == 1
    s.set_fault("gateway_5xx", status=500)
    with pytest.raises(Exception):
        client(gw)
    s.clear_fault("gateway_5xx")
    assert client(gw).volume.get() == []
    assert [p["name"] for p in client(gw).protection_domain.get()] == ["pd-x"]


def test_gateway_works_only_with_reachable_configured_mdms(sio_cluster3, sio_state_dir, fresh_ip, listen):
    s, ips = sio_cluster3
    s.set_password("admin", "admin", PASSWORD)

    def login_status(mdm_ips):
        with GatewayServer(sio_state_dir, listen_ip=fresh_ip(), mdm_ips=mdm_ips) as gw:
            r = requests.get(gw.url + "/login", auth=("admin", PASSWORD), verify=str(gw.ca_path), timeout=10)
            return r.status_code, r.json()

    status, body = login_status([])
    assert status == 500 and "mdm.ip.addresses" in body["message"]
    assert login_status([ips[2]])[0] == 500          # a tie-breaker has no management port
    assert login_status([fresh_ip()])[0] == 500       # not an MDM of this system
    assert login_status([ips[1]])[0] == 200           # the slave manager forwards to the master
    not_running = fresh_ip()                           # a manager whose mdm service is down
    listen(not_running, 9011)
    s.add_standby_mdm(not_running, role="manager", name="mdm3")
    assert login_status([not_running])[0] == 500      # standby, and nothing on 6611


def test_extend_volume_and_gateway_configuration(sio_gateway, sio_cluster3, sds_hosts):
    s, mdm_ips = sio_cluster3
    c = client(sio_gateway)
    assert c.system.get_gateway_configuration_details()["mdmAddresses"] == mdm_ips[:2]
    pd = c.protection_domain.create("pd1")
    sp = c.storage_pool.create(media_type="HDD", protection_domain_id=pd["id"], name="sp1")
    c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": sds_hosts[0], "role": "all"}],
                 devices_info=[{"devicePath": "/dev/sdb", "storagePoolId": sp["id"]}])
    vol = c.volume.create(sp["id"], 8, name="grow")
    assert c.volume.extend(vol["id"], 20)["sizeInKb"] == 24 * KB_PER_GB
    # (PyPowerFlex puts the gateway's error body into the message for this call)
    with pytest.raises(pfx.PowerFlexClientException, match="can only be increased.*'errorCode': 133"):
        c.volume.extend(vol["id"], 8)
    with pytest.raises(pfx.PowerFlexClientException, match="Insufficient capacity"):
        c.volume.extend(vol["id"], 80)                  # 2 x 80 GB does not fit in 90 GB usable
    assert s.volume(id=vol["id"]).size_gb == 24


def test_restarted_gateway_forgets_tokens(sio_cluster3, sio_state_dir, fresh_ip):
    s, ips = sio_cluster3
    s.set_password("admin", "admin", PASSWORD)
    ip = fresh_ip()
    with GatewayServer(sio_state_dir, listen_ip=ip, mdm_ips=ips[:1]) as gw:
        port = gw.port
        tok = token(gw)
        assert api(gw, "GET", "/version", tok).status_code == 200
    with GatewayServer(sio_state_dir, listen_ip=ip, port=port, mdm_ips=ips[:1]) as gw:
        assert api(gw, "GET", "/version", tok).status_code == 401
        assert api(gw, "GET", "/version", token(gw)).status_code == 200


def test_parallel_clients_through_one_gateway(sio_gateway, sio_cluster3, sds_hosts):
    import threading
    s, _ = sio_cluster3
    c = client(sio_gateway)
    pd = c.protection_domain.create("pd1")
    sp = c.storage_pool.create(media_type="HDD", protection_domain_id=pd["id"], name="sp1")
    for n, ip in enumerate(sds_hosts):
        c.sds.create(protection_domain_id=pd["id"], sds_ips=[{"ip": ip, "role": "all"}], name=f"sds{n}",
                     devices_info=[{"devicePath": "/dev/sdc", "storagePoolId": sp["id"]}])
    results, lock = [], threading.Lock()

    def worker(n):
        mine = client(sio_gateway)
        for i in range(2):
            mine.volume.create(sp["id"], 8, name=f"t{n}-{i}")
        try:
            mine.volume.create(sp["id"], 8, name="same")
            outcome = "created"
        except pfx.PowerFlexClientException as exc:
            outcome = exc.response["message"]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert sorted(results) == ["A volume with the same name already exists"] * 4 + ["created"]
    assert len(c.volume.get()) == 11
    assert s.count_events(op="add_volume", outcome="applied") == 11
    assert s.count_events(op="add_volume", outcome="refused") == 4



def test_cluster_state_follows_the_mdm_services(sio_system, sio_state_dir, fresh_ip, listen):
    s = sio_system
    ips = [fresh_ip() for _ in range(3)]
    services = {ip: listen(ip, 9011) for ip in ips}          # the three MDM services
    listen(ips[0], 6611)
    s.create_cluster(ips[0], master_name="mdm1")
    s.add_standby_mdm(ips[1], name="mdm2")
    s.add_standby_mdm(ips[2], role="tb", name="tb1")
    s.switch_cluster_mode("3_node", add_slaves=["mdm2"], add_tbs=["tb1"])
    s.set_password("admin", "admin", PASSWORD)
    with GatewayServer(sio_state_dir, listen_ip=fresh_ip(), mdm_ips=ips[:1]) as gw:
        c = client(gw)
        cl = c.system.get_mdm_cluster_details()
        assert (cl["clusterState"], cl["goodNodesNum"], cl["tieBreakers"][0]["status"]) == \
            ("ClusteredNormal", 3, "Normal")
        services[ips[2]].stop()                                # the tie-breaker's service dies
        cl = c.system.get_mdm_cluster_details()
        assert (cl["clusterState"], cl["goodNodesNum"], cl["tieBreakers"][0]["status"]) == \
            ("ClusteredDegraded", 2, "Disconnected")
        assert c.system.get()[0]["mdmClusterState"] == "ClusteredDegraded"


def test_rename_system_and_query_ids_by_name(sio_gateway, sio_cluster3):
    """The calls goscaleio-based clients (REX-Ray, CSI drivers) make besides PyPowerFlex's."""
    s, _ = sio_cluster3
    gw = sio_gateway
    tok = token(gw)
    sid = s.cluster().system_id
    r = api(gw, "POST", f"/instances/System::{sid}/action/setSystemName", tok, json={"newName": "prod"})
    assert r.status_code == 200 and s.cluster().system_name == "prod"
    r = api(gw, "POST", "/types/System/instances/action/queryIdByKey", tok, json={"name": "prod"})
    assert r.json() == sid
    pd = s.add_protection_domain("pd1")
    r = api(gw, "POST", "/types/ProtectionDomain/instances/action/queryIdByKey", tok, json={"name": "pd1"})
    assert r.json() == pd.id
    r = api(gw, "POST", "/types/ProtectionDomain/instances/action/queryIdByKey", tok, json={"name": "nope"})
    assert r.status_code == 500 and r.json()["errorCode"] == 3
    r = api(gw, "GET", f"/instances/System::{sid}/relationships/ProtectionDomain", tok)
    assert [p["name"] for p in r.json()] == ["pd1"]
