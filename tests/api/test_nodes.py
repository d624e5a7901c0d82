"""Nodes and add-device over real HTTP: shapes, validation before the engine, idempotency,
all-or-nothing, and nothing changed on any refusal."""
import time

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def test_nodes_shape(live):
    code, nodes = live.json("GET", "/v1/nodes")
    assert code == 200 and [n["hostname"] for n in nodes] == [live.host]
    node = nodes[0]
    assert node["os_family"] == "ubuntu" and node["present"] and node["agent_id"] and node["ip"]
    assert "sds" in node["persona"] and "sdc" in node["persona"]
    assert {d["path"]: d["state"] for d in node["devices"] if d["state"] == "added"} == \
        {"/dev/sdb": "added", "/dev/sdc": "added"}
    assert all(s["status"] == "COMPLETE" and s["started"] and s["finished"] for s in node["steps"])
    assert live.json("GET", f"/v1/nodes/{live.host}") == (200, node)
    code, body = live.json("GET", "/v1/nodes/no-such-host")
    assert code == 404 and "no-such-host" in body["message"]


def _state(live):
    """What a refused request must not change: the node and the plan."""
    return live.json("GET", f"/v1/nodes/{live.host}")[1], live.json("GET", "/v1/plans/deploy")[1]


def test_refusals_change_nothing(live):
    op = live.operator()
    before = _state(live)
    path = f"/v1/nodes/{live.host}/devices"
    bad = [
        ({"devices": ["/dev/sdd", "/dev/sde;rm -rf /"]}, 400, "devices[1]"),
        ({"devices": ["/dev/sdd", "/dev/$(reboot)"]}, 400, "devices[1]"),
        ({"devices": ["/dev/sdd", "/dev/sd`id`"]}, 400, "devices[1]"),
        ({"devices": ["/dev/../etc/passwd"]}, 400, "devices[0]"),
        ({"devices": ["/dev/sdd\n"]}, 400, "devices[0]"),
        ({"devices": ["sdd"]}, 400, "devices[0]"),
        ({"devices": [7]}, 400, "devices[0]"),
        ({"devices": []}, 400, "devices"),
        ({"devices": "/dev/sdd"}, 400, "devices"),
        ({"devices": ["/dev/sdd"], "pool": "bad pool|x"}, 400, "pool"),
        ({"devices": ["/dev/sdd"], "pool": "p" * 40}, 400, "pool"),
        ({"devices": ["/dev/sdd"], "extra": 1}, 400, "extra"),
        (["/dev/sdd"], 400, "(body)"),
        ({"devices": ["/dev/sdb"], "pool": "otherpool"}, 409, "devices"),     # already in sp1
    ]
    for body, status, field in bad:
        code, answer = live.json("POST", path, body=body, headers=op)
        assert (code, answer.get("field")) == (status, field), (body, answer)
        assert answer["message"]
    status, _, raw = live.request("POST", path, raw=b'{"devices": ["/dev/sdd"', headers=op)
    assert status == 400 and b"not valid JSON" in raw
    code, answer = live.json("POST", "/v1/nodes/no-such-host/devices", body={"devices": ["/dev/sdd"]}, headers=op)
    assert code == 404 and "no-such-host" in answer["message"]
    code, _ = live.json("POST", path, body={"devices": ["/dev/sdd"]}, via="direct")
    assert code == 401
    code, _ = live.json("POST", path, body={"devices": ["/dev/sdd"]},
                        headers={"Authorization": "token=" + live.mint("viewer")})
    assert code == 403
    assert _state(live) == before


def test_add_device_then_duplicate_is_idempotent(live):
    op = live.operator()
    path = f"/v1/nodes/{live.host}/devices"
    code, first = live.json("POST", path, body={"devices": ["/dev/sdd", "/dev/sdd"]}, headers=op)
    assert code == 202, first
    assert first["node"] == live.host and first["devices"] == ["/dev/sdd"] and first["pool"] == "sp1"
    (step,) = first["steps"]
    assert step["name"] == f"{live.host}:[device:/dev/sdd]" and step["agent"] == live.host

    code, again = live.json("POST", path, body={"devices": ["/dev/sdd"], "pool": "sp1"}, headers=op)
    assert code == 202 and again["steps"][0]["id"] == step["id"]
    node = live.json("GET", f"/v1/nodes/{live.host}")[1]
    assert [d["path"] for d in node["devices"]].count("/dev/sdd") == 1
    plan = live.json("GET", "/v1/plans/deploy")[1]
    names = [s["name"] for ph in plan["phases"] for s in ph["steps"]]
    assert names.count(step["name"]) == 1

    # The new step runs (sdd carries a filesystem in the sandbox: ScaleIO may refuse it). Either
    # way it ends; an ERROR is force-completed through the API so the plan is COMPLETE again.
    deadline = time.monotonic() + 45
    while True:
        node = live.json("GET", f"/v1/nodes/{live.host}")[1]
        dev = next(d for d in node["devices"] if d["path"] == "/dev/sdd")
        if dev["state"] in ("added", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert dev["state"] in ("added", "failed"), dev
    if dev["state"] == "failed":
        assert dev["reason"]
        phase = next(ph for ph in plan["phases"] if any(s["name"] == step["name"] for s in ph["steps"]))
        code, body = live.json("POST", f"/v1/plans/deploy/forceComplete?phase={phase['name']}&step={step['name']}",
                               headers=op)
        assert code == 200, body
    live.wait_plan("COMPLETE", timeout=30)


def test_a_requested_device_survives_a_scheduler_restart(live):
    """add-device persists the request: a new scheduler incarnation (as Marathon would start)
    still has the device and its step, and a repeat request is still the same step."""
    sup = live.up.supervisor
    old = sup.kill_child()
    assert old is not None
    sup.wait_for_new_pid(old, timeout=30)
    deadline = time.monotonic() + 60
    while True:
        code, node = live.json("GET", f"/v1/nodes/{live.host}", via="direct") if _serving(live) else (0, None)
        if code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert code == 200, node
    assert [d["path"] for d in node["devices"]].count("/dev/sdd") == 1
    step = next(s for s in node["steps"] if s["name"].endswith("[device:/dev/sdd]"))
    code, again = live.json("POST", f"/v1/nodes/{live.host}/devices", body={"devices": ["/dev/sdd"]},
                            headers=live.operator())
    assert code == 202 and again["steps"][0]["id"] == step["id"]
    live.wait_plan("COMPLETE", timeout=45)


def _serving(live) -> bool:
    try:
        return live.request("GET", "/v1/plans", via="direct")[0] == 200
    except OSError:
        return False
