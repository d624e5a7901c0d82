"""Wire behaviour of the master and agent HTTP APIs checked with raw HTTP: status codes for malformed
calls (table-driven, in the real master's check order), persistent call connections, the RecordIO
stream shape, master-side task validation, and the executor API's checks."""
import base64
import http.client
import json
import os
import socket
import time

import pytest

from mesos_testfw.clusters import AgentSpec, make_cluster
from mesos_testfw.raw_streams import SchedulerStream

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

JSON = {"Content-Type": "application/json"}
UUID16 = base64.b64encode(os.urandom(16)).decode()
FW_INFO = {"user": "root", "name": "wire", "failover_timeout": 3600}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = make_cluster(tmp_path_factory, [AgentSpec("w0")])
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def framework(cluster):
    fw = SchedulerStream(cluster.master_address, FW_INFO)
    yield fw
    fw.close()


class Client:
    """One persistent connection for many calls (a dropped connection would raise)."""

    def __init__(self, address):
        host, port = address.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def call(self, body, headers=None, method="POST", path="/api/v1/scheduler"):
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        self.conn.request(method, path, data, headers if headers is not None else JSON)
        resp = self.conn.getresponse()
        return resp.status, resp.read().decode(), resp

    def close(self):
        self.conn.close()


def subscribe(fw_info=None, **extra):
    return dict({"type": "SUBSCRIBE", "subscribe": {"framework_info": fw_info or FW_INFO}}, **extra)


# (name, body, headers, method, expected status, expected text fragment)
TRANSPORT_CASES = [
    ("get", None, {}, "GET", 405, ""),
    ("no content type", {"type": "TEARDOWN"}, {}, "POST", 400, "Content-Type"),
    ("charset suffix", {"type": "TEARDOWN"}, {"Content-Type": "application/json; charset=utf-8"}, "POST", 415, ""),
    ("text plain", {"type": "TEARDOWN"}, {"Content-Type": "text/plain"}, "POST", 415, ""),
    ("not json", "{nope", JSON, "POST", 400, "Failed to parse body into JSON"),
    ("json array", "[]", JSON, "POST", 400, "Failed to convert JSON"),
    ("no type", {}, JSON, "POST", 400, "Expecting 'type' to be present"),
    ("bad enum", {"type": "BOGUS"}, JSON, "POST", 400, "Failed to convert JSON"),
    ("unknown type", {"type": "UNKNOWN"}, JSON, "POST", 501, ""),
    ("subscribe without subscribe", {"type": "SUBSCRIBE"}, JSON, "POST", 400, "Expecting 'subscribe'"),
    ("subscribe without user", subscribe({"name": "x"}), JSON, "POST", 400, "Not initialized"),
    ("subscribe id mismatch", subscribe(dict(FW_INFO, id={"value": "a"}), framework_id={"value": "b"}), JSON,
     "POST", 400, "differs"),
    ("subscribe refuses accept", subscribe(), dict(JSON, Accept="text/html"), "POST", 406, ""),
    ("subscribe with stream id", subscribe(), dict(JSON, **{"Mesos-Stream-Id": "x"}), "POST", 400,
     "Mesos-Stream-Id"),
    ("call without framework id", {"type": "REVIVE"}, JSON, "POST", 400, "framework_id"),
    ("unknown framework", {"type": "REVIVE", "framework_id": {"value": "nope"}}, JSON, "POST", 400,
     "Framework cannot be found"),
]


@pytest.mark.parametrize("name,body,headers,method,status,text", TRANSPORT_CASES, ids=[c[0] for c in TRANSPORT_CASES])
def test_malformed_scheduler_calls(cluster, name, body, headers, method, status, text):
    client = Client(cluster.master_address)
    try:
        got, answer, resp = client.call(body, headers, method)
        assert (got, text in answer) == (status, True), answer
        assert resp.getheader("Content-Length") is not None and resp.getheader("Date")
        if status == 405:
            assert resp.getheader("Allow") == "POST"
    finally:
        client.close()


def test_calls_of_a_subscribed_framework(cluster, framework):
    fid = {"value": framework.framework_id}
    sid = framework.header("Mesos-Stream-Id")
    ok = dict(JSON, **{"Mesos-Stream-Id": sid})
    cases = [
        ({"type": "REVIVE", "framework_id": fid}, JSON, 400, "Mesos-Stream-Id"),
        ({"type": "REVIVE", "framework_id": fid}, dict(JSON, **{"Mesos-Stream-Id": "other"}), 400, "didn't match"),
        ({"type": "ACCEPT", "framework_id": fid}, ok, 400, "Expecting 'accept'"),
        ({"type": "ACKNOWLEDGE", "framework_id": fid, "acknowledge": {
            "agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": base64.b64encode(b"12345678").decode()}},
         ok, 400, "UUID"),
        ({"type": "ACKNOWLEDGE", "framework_id": fid, "acknowledge": {
            "agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": {"value": UUID16}}},
         ok, 400, "Not expecting a JSON object for field 'uuid'"),
        ({"type": "KILL", "framework_id": fid, "kill": {}}, ok, 400, "Not initialized"),
        ({"type": "SHUTDOWN", "framework_id": fid, "shutdown": {"executor_id": {"value": "e"}}}, ok, 400,
         "Not initialized"),
        ({"type": "REVIVE", "framework_id": fid}, ok, 202, ""),
        ({"type": "SUPPRESS", "framework_id": fid, "suppress": {"roles": ["*"]}}, ok, 202, ""),
        ({"type": "REQUEST", "framework_id": fid, "request": {"requests": []}}, ok, 202, ""),
        ({"type": "RECONCILE", "framework_id": fid, "reconcile": {"tasks": []}}, ok, 202, ""),
        ({"type": "UPDATE_FRAMEWORK", "framework_id": fid, "update_framework": {
            "framework_info": dict(FW_INFO, id=fid)}}, ok, 200, ""),
        ({"type": "REVIVE", "framework_id": fid}, ok, 202, ""),
    ]
    client = Client(cluster.master_address)   # one keep-alive connection for every call
    try:
        for body, headers, status, text in cases:
            got, answer, resp = client.call(body, headers)
            assert (body["type"], got, text in answer) == (body["type"], status, True), answer
            if got == 202:
                assert resp.getheader("Content-Length") == "0"
    finally:
        client.close()


def test_subscription_stream_shape(cluster, framework):
    assert framework.headers.startswith(b"HTTP/1.1 200 OK")
    assert framework.header("Transfer-Encoding") == "chunked" and framework.header("Content-Length") is None
    assert framework.header("Content-Type") == "application/json"
    assert len(framework.header("Mesos-Stream-Id")) == 36
    sub = framework.subscribed
    assert sub["framework_id"]["value"].endswith("-0000") or "-" in sub["framework_id"]["value"]
    assert sub["heartbeat_interval_seconds"] == 1.0 and sub["master_info"]["version"] == "1.11.0"
    assert framework.events[1] == {"type": "HEARTBEAT"}
    offers = framework.wait_for(lambda e: e["type"] == "OFFERS")["offers"]["offers"]
    offer = offers[0]
    assert {r["name"] for r in offer["resources"]} == {"cpus", "mem", "disk", "ports"}
    assert all(r["role"] == "*" and "allocation_info" not in r for r in offer["resources"])
    assert "allocation_info" not in offer and offer["executor_ids"] == []


def test_master_validates_launches(cluster, framework):
    fid = {"value": framework.framework_id}
    sid = framework.header("Mesos-Stream-Id")
    ok = dict(JSON, **{"Mesos-Stream-Id": sid})
    client = Client(cluster.master_address)
    try:
        framework.wait_for(lambda e: e["type"] == "OFFERS")
        # The framework never answered its offers, so the latest one is still outstanding and valid.
        offer = [e for e in framework.events if e["type"] == "OFFERS"][-1]["offers"]["offers"][0]
        agent_id = offer["agent_id"]
        cpus = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "*"}]
        too_much = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 99}, "role": "*"}]
        sleeper = {"executor_id": {"value": "sleeper"}, "command": {"value": "sleep 60"}}
        tasks = [
            {"name": "n", "task_id": {"value": "no-res"}, "agent_id": agent_id, "resources": [],
             "command": {"value": "true"}},
            {"name": "n", "task_id": {"value": "both"}, "agent_id": agent_id, "resources": cpus,
             "command": {"value": "true"}, "executor": sleeper},
            {"name": "n", "task_id": {"value": "big"}, "agent_id": agent_id, "resources": too_much,
             "command": {"value": "true"}},
            {"name": "n", "task_id": {"value": "quiet"}, "agent_id": agent_id, "resources": cpus,
             "executor": sleeper},
        ]
        status, answer, _ = client.call({"type": "ACCEPT", "framework_id": fid, "accept": {
            "offer_ids": [offer["id"]], "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}]}}, ok)
        assert status == 202, answer

        def update(tid):
            return framework.wait_for(lambda e: e["type"] == "UPDATE" and
                                      e["update"]["status"]["task_id"]["value"] == tid)["update"]["status"]

        for tid in ("no-res", "both", "big"):
            st = update(tid)
            assert (st["state"], st["reason"], st["source"], "uuid" in st) == \
                ("TASK_ERROR", "REASON_TASK_INVALID", "SOURCE_MASTER", False)
        # A used offer is invalid: its tasks are lost with REASON_INVALID_OFFERS.
        client.call({"type": "ACCEPT", "framework_id": fid, "accept": {
            "offer_ids": [offer["id"]], "operations": [{"type": "LAUNCH", "launch": {"task_infos": [
                dict(tasks[3], task_id={"value": "late"})]}}]}}, ok)
        st = update("late")
        assert (st["state"], st["reason"], "uuid" in st) == ("TASK_LOST", "REASON_INVALID_OFFERS", False)
        # The "quiet" executor never subscribes: the executor API refuses its updates with 403.
        agent = cluster.agent("w0")
        deadline = time.monotonic() + 10
        while (framework.framework_id, "sleeper") not in agent.executors and time.monotonic() < deadline:
            time.sleep(0.05)
        check_executor_api(agent, framework.framework_id)
    finally:
        client.close()


def check_executor_api(agent, fid):
    ids = {"framework_id": {"value": fid}, "executor_id": {"value": "sleeper"}}
    status = {"task_id": {"value": "quiet"}, "state": "TASK_RUNNING", "source": "SOURCE_EXECUTOR", "uuid": UUID16}
    cases = [
        (None, {}, "GET", 405),
        ({"type": "HEARTBEAT"}, {}, "POST", 400),
        ({"type": "HEARTBEAT", **ids}, {"Content-Type": "text/plain"}, "POST", 415),
        ({}, JSON, "POST", 400),
        ({"type": "UPDATE", "executor_id": {"value": "sleeper"}}, JSON, "POST", 400),
        ({"type": "HEARTBEAT", **ids}, JSON, "POST", 202),
        ({"type": "UPDATE", **ids, "update": {"status": dict(status, uuid="AAAA")}}, JSON, "POST", 400),
        ({"type": "UPDATE", **ids, "update": {"status": dict(status, state="TASK_STAGING")}}, JSON, "POST", 400),
        ({"type": "UPDATE", **ids, "update": {"status": dict(status, source="SOURCE_MASTER")}}, JSON, "POST", 400),
        ({"type": "UPDATE", **dict(ids, framework_id={"value": "nope"}), "update": {"status": status}}, JSON,
         "POST", 400),
        ({"type": "UPDATE", **dict(ids, executor_id={"value": "nope"}), "update": {"status": status}}, JSON,
         "POST", 400),
        ({"type": "UPDATE", **ids, "update": {"status": status}}, JSON, "POST", 403),
        ({"type": "MESSAGE", **ids, "message": {"data": "aGk="}}, JSON, "POST", 403),
        ({"type": "SUBSCRIBE", **ids, "subscribe": {}}, dict(JSON, Accept="text/html"), "POST", 406),
    ]
    client = Client(f"{agent.ip}:{agent.port}")
    try:
        for body, headers, method, expected in cases:
            got, answer, _ = client.call(body, headers, method, path="/api/v1/executor")
            assert (json.dumps(body), got) == (json.dumps(body), expected), answer
    finally:
        client.close()


def test_not_leader_and_recovering(cluster):
    client = Client(cluster.master_address)
    try:
        cluster.set_recovering(True)
        status, answer, _ = client.call(subscribe())
        assert status == 503 and "recovery" in answer
    finally:
        cluster.set_recovering(False)
        client.close()


def test_version_state_redirect_teardown(cluster):
    client = Client(cluster.master_address)
    try:
        status, body, _ = client.call(None, {}, "GET", "/version")
        version = json.loads(body)["version"]
        assert status == 200 and [int(p) for p in version.split(".")] == [1, 11, 0]
        status, body, _ = client.call(None, {}, "GET", "/master/state")
        state = json.loads(body)
        agent = state["slaves"][0]
        assert agent["resources"]["cpus"] == 4.0 and agent["active"]
        status, _, resp = client.call(None, {}, "GET", "/master/redirect")
        assert status == 307 and resp.getheader("Location") == f"//{cluster.master_address}"
        fw = SchedulerStream(cluster.master_address, dict(FW_INFO, name="doomed"))
        try:
            status, _, _ = client.call(f"frameworkId={fw.framework_id}",
                                       {"Content-Type": "application/x-www-form-urlencoded"}, "POST",
                                       "/master/teardown")
            assert status == 200
            ids = [f["id"] for f in json.loads(client.call(None, {}, "GET", "/master/state")[1])
                   ["completed_frameworks"]]
            assert fw.framework_id in ids
            status, _, _ = client.call("frameworkId=nope", {"Content-Type": "application/x-www-form-urlencoded"},
                                       "POST", "/master/teardown")
            assert status == 400
        finally:
            fw.close()
    finally:
        client.close()


def test_disconnected_framework_gets_403(cluster):
    fw = SchedulerStream(cluster.master_address, dict(FW_INFO, name="leaving"))
    sid = fw.header("Mesos-Stream-Id")
    fw.close()
    client = Client(cluster.master_address)
    try:
        deadline = time.monotonic() + 10
        while True:
            status, answer, _ = client.call({"type": "REVIVE", "framework_id": {"value": fw.framework_id}},
                                            dict(JSON, **{"Mesos-Stream-Id": sid}))
            if status != 202 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 403 and "not subscribed" in answer
    finally:
        client.close()


def test_persistent_connection_survives_idle(cluster):
    sock = socket.create_connection(tuple([cluster.master_address.split(":")[0],
                                           int(cluster.master_address.split(":")[1])]), timeout=10)
    try:
        for _ in range(3):
            sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0]
                         .split(b":")[1])
            while len(body) < length:
                body += sock.recv(4096)
            assert b"Connection: close" not in head
            time.sleep(0.2)
    finally:
        sock.close()


def test_agent_operator_api_and_master_endpoints(cluster):
    agent = cluster.agent("w0")
    client = Client(f"{agent.ip}:{agent.port}")
    try:
        status, body, _ = client.call({"type": "GET_FLAGS"}, path="/api/v1")
        flags = {f["name"]: f["value"] for f in json.loads(body)["get_flags"]["flags"]}
        assert status == 200 and flags["work_dir"] == agent.work_dir
        status, body, _ = client.call({"type": "GET_AGENT"}, path="/api/v1/operator")
        assert json.loads(body)["get_agent"]["agent_info"]["id"] == {"value": agent.agent_id}
        assert client.call({"type": "LAUNCH_NESTED_CONTAINER"}, path="/api/v1")[0] == 501
    finally:
        client.close()
    client = Client(cluster.master_address)
    try:
        slaves = json.loads(client.call(None, {}, "GET", "/master/slaves")[1])["slaves"]
        assert [s["id"] for s in slaves] == [agent.agent_id]
        assert "frameworks" in json.loads(client.call(None, {}, "GET", "/master/frameworks")[1])
    finally:
        client.close()


def test_http_framework_authentication(tmp_path_factory, schedulers):
    c = make_cluster(tmp_path_factory, [], credentials={"scaleio": "s3cret"})
    c.start()
    client = Client(c.master_address)
    try:
        assert client.call(subscribe())[0] == 401
        bad = base64.b64encode(b"scaleio:wrong").decode()
        status, _, resp = client.call(subscribe(), dict(JSON, Authorization=f"Basic {bad}"))
        assert status == 401 and resp.getheader("WWW-Authenticate").startswith("Basic")
        good = dict(JSON, Authorization="Basic " + base64.b64encode(b"scaleio:s3cret").decode())
        status, answer, _ = client.call(subscribe(dict(FW_INFO, principal="other")), good)
        assert status == 400 and "does not match principal" in answer
        s = schedulers(c.master_address, name="authed", principal="scaleio", secret="s3cret")
        s.wait_ev("registered")
        s.send("reconcile", task_ids=["x"])            # calls carry the credentials too
        assert s.wait_ev("status", task_id="x")["state"] == "TASK_LOST"
        s.stop(failover=False)
    finally:
        client.close()
        c.stop()
