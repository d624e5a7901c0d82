"""Plans over real HTTP against a running scheduler: SDK shapes and codes, commands, auth."""
import time

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


def test_plan_list_and_shape(live):
    assert live.json("GET", "/v1/plans") == (200, ["deploy"])
    code, plan = live.json("GET", "/v1/plans/deploy")
    assert code == 200 and plan["status"] == "COMPLETE" and plan["errors"] == []
    for phase in plan["phases"]:
        assert set(phase) >= {"id", "name", "steps", "strategy", "status"}
        for step in phase["steps"]:
            assert set(step) >= {"id", "name", "message", "status", "attempts", "started", "finished", "reason"}
            assert step["status"] == "COMPLETE" and step["attempts"] >= 1
            assert step["finished"] >= step["started"] > 0
    code, body = live.json("GET", "/v1/plans/nope")
    assert code == 404 and body == {"message": "Plan nope not found"}


def test_commands_need_an_operator(live):
    path = "/v1/plans/deploy/interrupt"
    for headers in ({}, {"Authorization": "token=garbage"},
                    {"Authorization": "token=" + live.mint("bootstrapuser", exp=int(time.time()) - 5)}):
        status, hdrs, body = live.request("POST", path, headers=headers, via="direct")
        assert status == 401 and hdrs.get("WWW-Authenticate") == "acsjwt", (headers, body)
        if headers:                                   # the Admin Router refuses them before us
            assert live.request("POST", path, headers=headers)[0] == 401
    code, body = live.json("POST", path, headers={"Authorization": "token=" + live.mint("viewer")})
    assert code == 403 and "viewer" in body["message"]
    # nothing was interrupted by the refused calls
    assert live.json("GET", "/v1/plans/deploy")[1]["status"] == "COMPLETE"


def test_unknown_elements_are_404_and_bad_params_400(live):
    op = live.operator()
    cases = {"/v1/plans/nope/interrupt": "Plan nope not found",
             "/v1/plans/deploy/interrupt?phase=nophase": "Phase nophase not found",
             "/v1/plans/deploy/restart?phase=hosts&step=nostep": "not found",
             "/v1/plans/deploy/frobnicate": "no such endpoint"}
    phases = [ph["name"] for ph in live.json("GET", "/v1/plans/deploy")[1]["phases"]]
    cases = {k.replace("phase=hosts", f"phase={phases[-1]}"): v for k, v in cases.items()}
    for path, words in cases.items():
        code, body = live.json("POST", path, headers=op)
        assert code == 404 and words in body["message"], (path, body)
    code, body = live.json("POST", "/v1/plans/deploy/restart?step=x", headers=op)
    assert code == 400 and body["field"] == "phase"
    code, body = live.json("POST", "/v1/plans/deploy/start", body={"A": "1"}, headers=op)
    assert code == 400 and body["field"] == "A"


def test_pause_resume_and_restart_a_step_by_id(live):
    # The service API token may too (straight to the scheduler: the Admin Router wants ACS tokens).
    op = {"Authorization": f"token={live.api_token}"}
    plan = live.json("GET", "/v1/plans/deploy")[1]
    phase = next(ph for ph in plan["phases"] if any(s["agent"] for s in ph["steps"]))
    step = next(s for s in phase["steps"] if s["name"].endswith("[deps]"))

    code, body = live.json("POST", f"/v1/plans/deploy/interrupt?phase={phase['id']}", headers=op,
                           via="direct")
    assert code == 200 and body["message"].startswith("Received cmd: interrupt deploy")
    code, body = live.json("POST", f"/v1/plans/deploy/restart?phase={phase['id']}&step={step['id']}",
                           headers=op, via="direct")
    assert code == 200, body
    got = _step(live, phase["name"], step["name"])
    assert got["status"] == "WAITING" and "interrupted" in got["message"]       # paused: it does not run
    assert live.json("GET", "/v1/plans/deploy")[0] == 202

    code, body = live.json("POST", f"/v1/plans/deploy/continue?phase={phase['name']}", headers=op, via="direct")
    assert code == 200, body
    live.wait_plan("COMPLETE", timeout=45)
    again = _step(live, phase["name"], step["name"])
    assert again["attempts"] == 1 and again["started"] > step["finished"]        # really ran again


def _step(live, phase_name, step_name):
    plan = live.json("GET", "/v1/plans/deploy")[1]
    phase = next(ph for ph in plan["phases"] if ph["name"] == phase_name)
    return next(s for s in phase["steps"] if s["name"] == step_name)
