"""Pure parts of the operator API: request parsing, redaction, metrics text, the OpenAPI document,
and the host-step dry run (no processes)."""
import json

import pytest

from dcos_scaleio.framework.api.common import BadRequest
from dcos_scaleio.framework.api.metrics import render
from dcos_scaleio.framework.api.nodes import MAX_DEVICES, parse_device_request
from dcos_scaleio.framework.api.openapi import document
from dcos_scaleio.framework.api.service import REDACTED, options_json
from dcos_scaleio.framework.host.dryrun import step_commands, step_files
from dcos_scaleio.options import validate

PASSWORD = "Sup3r-Secret-pw"


def test_device_request_parsing():
    assert parse_device_request({"devices": ["/dev/sdb", "/dev/sdb", "/dev/disk/by-id/x_1"]}) == \
        (["/dev/sdb", "/dev/disk/by-id/x_1"], None)
    assert parse_device_request({"devices": ["/dev/sdb"], "pool": "sp_2"}) == (["/dev/sdb"], "sp_2")
    refused = {"(body)": [None, [], "x"], "devices": [{}, {"devices": None}, {"devices": []},
                                                      {"devices": ["/dev/a"] * (MAX_DEVICES + 1)}],
               "devices[1]": [{"devices": ["/dev/a", "/dev/a b"]}, {"devices": ["/dev/a", "/dev/a|b"]},
                              {"devices": ["/dev/a", "/dev/./a"]}, {"devices": ["/dev/a", "/dev//a"]}],
               "pool": [{"devices": ["/dev/a"], "pool": ""}, {"devices": ["/dev/a"], "pool": "a;b"},
                        {"devices": ["/dev/a"], "pool": 3}],
               "zz": [{"devices": ["/dev/a"], "zz": 1}]}
    for field, bodies in refused.items():
        for body in bodies:
            with pytest.raises(BadRequest) as info:
                parse_device_request(body)
            assert info.value.field == field and info.value.status == 400, body


def _options(**scaleio):
    opts = {"scaleio": {"mode": "existing", "admin_password": PASSWORD,
                        "existing": {"mdm_ips": ["10.0.0.1", "10.0.0.2"], "gateway_endpoint": "https://10.0.0.1:443",
                                     "system_id": "0123456789abcdef"}, **scaleio},
            "devices": {"host_devices": [{"host": "a1", "paths": ["/dev/sdb"]}]}}
    result = validate(opts)
    assert result.ok, result.errors
    return result


def test_options_json_redacts_every_secret():
    result = _options(admin_password_secret="scaleio/admin")
    merged = options_json(result.merged)                   # the config.json shape (what the scheduler passes)
    typed = options_json(result.options)                   # fallback: built from the typed options
    for out in (merged, typed):
        assert PASSWORD not in json.dumps(out) and out["scaleio"]["admin_password"] == REDACTED
        assert out["scaleio"]["admin_password_secret"] == REDACTED
        assert out["scaleio"]["existing"]["mdm_ips"] == ["10.0.0.1", "10.0.0.2"]
        assert out["service"]["api_token_secret"] == ""                      # empty stays empty
    assert merged["devices"]["host_devices"] == [{"host": "a1", "paths": ["/dev/sdb"]}]
    assert typed["devices"]["host_devices"] == {"a1": ["/dev/sdb"]}          # mappings become objects


def test_metrics_text_is_prometheus_exposition():
    snap = {"engine": {"steps_by_status": {"COMPLETE": 3, "PENDING": 1}, "retries": 2,
                       "nodes": {"present": 1, "absent": 0, "restarting": 0}, "ignored_agents": 1,
                       "offers_wanted": False, "running_host_steps": 0},
            "counters": {"offers": 5, "launched": 4, "offer_handling_s": 0.25}, "plans": {"deploy": "IN_PROGRESS"}, "registered": True}
    text = render(snap, {"total_kb": 100, "in_use_kb": 10, "devices": 2})
    lines = text.splitlines()
    assert 'scaleio_plan_status{plan="deploy",status="IN_PROGRESS"} 1' in lines
    assert 'scaleio_plan_status{plan="deploy",status="COMPLETE"} 0' in lines
    assert 'scaleio_steps{status="PENDING"} 1' in lines and "scaleio_step_retries 2" in lines
    assert 'scaleio_scheduler_events_total{kind="offers"} 5' in lines
    assert 'scaleio_scheduler_seconds_total{kind="offer_handling"} 0.25' in lines
    assert 'scaleio_capacity_kb{kind="total"} 100' in lines and not any("devices" in line for line in lines)
    names = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(names) == len(set(names))
    assert render(snap, None).count("capacity") == 0


def test_openapi_document_is_valid_json_with_resolvable_refs():
    doc = document()
    text = json.dumps(doc)
    for ref in {r for r in __import__("re").findall(r'"\$ref": "#/components/schemas/(\w+)"', text)}:
        assert ref in doc["components"]["schemas"], ref
    ops = [(m, p) for p, item in doc["paths"].items() for m in item]
    assert len({doc["paths"][p][m]["operationId"] for m, p in ops}) == len(ops)
    secured = {p for p, item in doc["paths"].items() for m, op in item.items() if op.get("security")}
    posts = {p for p, item in doc["paths"].items() if "post" in item}
    assert secured == posts - {"/v1/preview"}


SDC = {"action": "sdc", "scaleio_version": "3.0", "mdm_ips": ["10.0.0.1", "10.0.0.2"],
       "packages": {"sdc": {"url": "http://mirror/ubuntu/EMC-ScaleIO-sdc-3.0.deb", "sha256": "a" * 64}}}


def test_dry_run_commands_follow_the_os_family():
    ubuntu = [c["argv"] for c in step_commands("sdc", SDC, "ubuntu")]
    assert ["dpkg", "-i", "/var/cache/dcos-scaleio/artifacts/EMC-ScaleIO-sdc-3.0.deb"] in ubuntu
    assert ["/opt/emc/scaleio/sdc/bin/drv_cfg", "--add_mdm", "--ip", "10.0.0.1,10.0.0.2", "--file",
            "/etc/emc/scaleio/drv_cfg.txt"] in ubuntu
    rhel = [c["argv"] for c in step_commands("sdc", dict(SDC, packages={"sdc": {
        "url": "http://mirror/rhel/EMC-ScaleIO-sdc-3.0.rpm", "sha256": "a" * 64}}), "rhel")]
    assert ["rpm", "-Uvh", "/var/cache/dcos-scaleio/artifacts/EMC-ScaleIO-sdc-3.0.rpm"] in rhel
    assert rhel[0][:2] == ["rpm", "-q"] and ubuntu[0][0] == "dpkg-query"
    deps = [c["argv"] for c in step_commands("deps", {"mdm": True, "discover_disks": True}, "rhel")]
    assert any(a[:3] == ["yum", "-y", "install"] and "java-1.8.0-openjdk" in a for a in deps)
    assert step_commands("uninstall-sds", {}, "rhel") is None and step_commands("sdc", SDC, "") is None


def test_dry_run_never_shows_the_password():
    params = {"primary_ip": "10.0.0.1", "cluster_mode": "3_node", "system_name": "s1",
              "standby_managers": [{"name": "m2", "ip": "10.0.0.2"}], "tiebreakers": [{"name": "t", "ip": "10.0.0.3"}]}
    cmds = step_commands("cluster-create", params, "ubuntu")
    argvs = [c["argv"] for c in cmds]
    login = next(a for a in argvs if "--login" in a)
    assert login[login.index("--password") + 1] == "******"
    assert ["scli", "--switch_cluster_mode", "--cluster_mode", "3_node", "--add_slave_mdm_name", "m2",
            "--add_tb_name", "t"] in argvs
    assert step_files("rexray", {"flavour": "mesos"}) == [
        {"path": "/etc/systemd/system/rexray.service.d/10-after-scini.conf", "mode": "0644"},
        {"path": "/etc/rexray/config.yml", "mode": "0600"}]


def test_http_server_204_has_no_body_head_is_get_and_wrong_method_is_405():
    import http.client

    from dcos_scaleio.framework.scheduler.http_api import ApiServer, json_reply
    api = ApiServer().start()
    try:
        api.route("GET", "/health", lambda req: json_reply(204, {"value": "DEPLOYING_PENDING"}))
        api.route("GET", "/plain", lambda req: json_reply(200, {"ok": 1}))
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
        for _ in range(2):      # one keep-alive connection: a 204 body would corrupt the next answer
            conn.request("GET", "/health")
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (204, b"")
            conn.request("GET", "/plain")
            resp = conn.getresponse()
            assert (resp.status, json.loads(resp.read())) == (200, {"ok": 1})
        conn.request("HEAD", "/plain")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"" and resp.getheader("Content-Length") == "13"
        conn.request("POST", "/plain", body=b"{}")
        resp = conn.getresponse()
        assert resp.status == 405 and resp.getheader("Allow") == "GET"
        resp.read()
        conn.close()
    finally:
        api.stop()


def test_http_server_logs_a_client_that_hung_up_without_a_traceback(caplog, capsys):
    import logging
    import socket
    import struct

    from dcos_scaleio.framework.scheduler.http_api import ApiServer
    from support.waiting import wait_for
    api = ApiServer().start()
    try:
        with caplog.at_level(logging.DEBUG, logger="dcos_scaleio.framework.scheduler.http_api"):
            sock = socket.create_connection(("127.0.0.1", api.port), timeout=5)
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")     # headers not finished...
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()                                                 # ...and a reset instead
            wait_for(lambda: any("went away" in r.getMessage() for r in caplog.records), 10,
                     "the server to notice the reset")
        assert "Traceback" not in capsys.readouterr().err
    finally:
        api.stop()
