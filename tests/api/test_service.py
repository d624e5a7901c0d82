"""Cluster, endpoints, framework ID, config, metrics, preview and the OpenAPI document, live."""
import json
import re

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def test_cluster_as_the_gateway_reports_it(live):
    code, c = live.json("GET", "/v1/cluster")
    assert code == 200, c
    assert c["system"]["mode"] == "3_node" and c["system"]["id"]
    assert {m["role"] for m in c["mdms"]} >= {"master", "slave", "tiebreaker"}
    (pd,) = [d for d in c["protection_domains"] if d["name"] == "pd1"]
    (pool,) = [p for p in pd["storage_pools"] if p["name"] == "sp1"]
    assert pool["capacity"]["total_kb"] > 0 and pool["capacity"]["devices"] >= 2
    assert c["sds"]["total"] >= 1 and c["sdc"]["connected"] >= 1
    assert c["health"]["status"] in ("HEALTHY", "DEGRADED")


def test_endpoints_and_framework_id(live):
    assert live.json("GET", "/v1/endpoints") == (200, ["gateway", "mdm"])
    code, gw = live.json("GET", "/v1/endpoints/gateway")
    gateway_url = live.up.info["gateway_url"]        # https://ip:port/api
    assert code == 200 and gw["address"] == [gateway_url.split("//")[1].split("/")[0]]
    code, mdm = live.json("GET", "/v1/endpoints/mdm")
    existing = json.load(open(live.up.info["options_file"]))["scaleio"]["existing"]
    assert code == 200 and mdm["ips"] == existing["mdm_ips"] and len(mdm["ips"]) >= 2
    assert mdm["address"] == [f"{ip}:9011" for ip in mdm["ips"]]
    assert live.json("GET", "/v1/endpoints/other")[0] == 404
    code, fid = live.json("GET", "/v1/state/frameworkId")
    sched = live.json("GET", "/v1/scheduler")[1]
    assert code == 200 and fid == [sched["framework_id"]]


def test_config_is_redacted(live):
    code, cfg = live.json("GET", "/v1/config")
    assert code == 200
    assert cfg["scaleio"]["admin_password"] == "<redacted>"
    assert cfg["scaleio"]["mode"] == "existing" and cfg["service"]["mesos_master"] == live.up.info["master"]
    assert live.password not in json.dumps(cfg)


def test_prometheus_metrics(live):
    status, headers, raw = live.request("GET", "/v1/metrics/prometheus")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = raw.decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) scaleio_\w+ .+", line), line
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    assert samples['scaleio_plan_status{plan="deploy",status="COMPLETE"}'] == 1
    assert samples['scaleio_steps{status="COMPLETE"}'] >= 10
    assert samples['scaleio_agents{state="present"}'] == 1
    # counters of this scheduler incarnation (another test restarts it): present, and some events seen
    events = {k: v for k, v in samples.items() if k.startswith("scaleio_scheduler_events_total{")}
    assert {'scaleio_scheduler_events_total{kind="launched"}', 'scaleio_scheduler_events_total{kind="offers"}'} \
        <= set(events) and sum(events.values()) >= 1
    assert samples["scaleio_framework_registered"] == 1
    live.json("GET", "/v1/cluster")                                   # a fresh summary brings capacity
    text = live.request("GET", "/v1/metrics/prometheus")[2].decode()
    assert re.search(r'^scaleio_capacity_kb\{kind="total"\} [1-9]', text, re.M)


def test_preview_current_options_with_commands(live):
    code, pv = live.json("GET", "/v1/preview")
    assert code == 200 and pv["valid"] and pv["errors"] == []
    assert [a["hostname"] for a in pv["agents"]] == [live.host] and pv["agents"][0]["os_family"] == "ubuntu"
    by_name = {s["name"]: s for s in pv["steps"]}
    sdc = by_name[f"{live.host}:[sdc]"]
    argvs = [c["argv"] for c in sdc["commands"]]
    assert ["systemctl", "start", "scini"] in argvs
    assert any(a[:2] == ["dpkg", "-i"] and a[2].endswith(".deb") for a in argvs)   # ubuntu: dpkg, not rpm
    assert sdc["params"]["mdm_ips"] == live.json("GET", "/v1/endpoints/mdm")[1]["ips"]
    assert by_name["gateway:[reachable]"]["commands"] is None                       # a cluster step
    assert live.password not in json.dumps(pv)


def test_preview_posted_options_stores_nothing(live):
    before = live.json("GET", "/v1/plans/deploy")[1]
    code, pv = live.json("POST", "/v1/preview", body={"scaleio": {"mode": "provision",
                                                                  "provision": {"mdm_count": 5}}})
    assert code == 200 and not pv["valid"] and pv["plan"] is None
    assert pv["errors"] and all(e["field"] and e["message"] for e in pv["errors"])
    code, pv = live.json("POST", "/v1/preview", body={"scaleio": {"mode": "provisoin"}, "service": {"name": 7}})
    fields = {e["field"] for e in pv["errors"]}
    assert code == 200 and {"scaleio.mode", "service.name"} <= fields, pv["errors"]
    options = json.load(open(live.up.info["options_file"]))
    options["scaleio"]["storage_pool"] = "previewpool"
    code, pv = live.json("POST", "/v1/preview", body=options)
    assert code == 200 and pv["valid"], pv["errors"]
    assert any(s["name"] == "storage-pool:[pd1/previewpool]" for s in pv["steps"])
    code, body = live.json("POST", "/v1/preview", body=[1, 2])
    assert code == 400 and body["field"] == "(body)"
    assert live.json("GET", "/v1/plans/deploy")[1] == before
    assert live.json("GET", "/v1/config")[1]["scaleio"]["storage_pool"] == "sp1"


def test_openapi_document_lists_every_route(live):
    code, doc = live.json("GET", "/v1/openapi.json")
    assert code == 200 and doc["openapi"].startswith("3.")
    assert {"/v1/plans", "/v1/plans/{plan}", "/v1/plans/{plan}/forceComplete", "/v1/nodes", "/v1/nodes/{node}",
            "/v1/nodes/{node}/devices", "/v1/cluster", "/v1/health", "/v1/endpoints", "/v1/endpoints/{name}",
            "/v1/state/frameworkId", "/v1/config", "/v1/metrics/prometheus", "/v1/preview",
            "/v1/openapi.json"} <= set(doc["paths"])
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            status, _, _ = live.request(method.upper(), concrete, body={} if method == "post" else None)
            assert status not in (405, 500) and (status != 404 or "{" in path), (method, path, status)
