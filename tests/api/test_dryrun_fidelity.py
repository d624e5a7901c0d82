"""The preview's per-step commands are what the step really runs: the preview's own parameters
are given to the real step runner in a FRESH agent root (a new ScaleIO-world host of the live
sandbox, nothing installed): every distinct command it ran must be listed, and every listed one
that did not run must be marked conditional ("if ...")."""
import json
import os
import sys

import pytest

from dcos_scaleio.framework.host.dryrun import step_commands
from dcos_scaleio.sandbox.agentroot import default_env
from dcos_scaleio.sandbox.scaleio.hostside_agents import make_agent

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

RUNNER = [sys.executable, "-m", "dcos_scaleio.framework.host.run"]


@pytest.fixture
def fresh_agent(live, tmp_path):
    ip = f"127.{200 + os.getpid() % 50}.88.1"
    root = make_agent(tmp_path / "agents", "fresh-a1", ip, live.up.world.sio_dir, os_family="ubuntu")
    try:
        yield root
    finally:
        root.destroy()


def test_preview_commands_match_a_real_run(live, fresh_agent):
    preview = live.json("GET", "/v1/preview")[1]
    steps = {s["action"]: s for s in preview["steps"] if s["agent"] == live.host}
    # deps and sdc: most command kinds (package queries, apt-get, dpkg, systemctl, drv_cfg, lsmod)
    # for the time budget; the others are covered by the unit tests' expectations.
    for action in ("deps", "sdc"):
        step = steps[action]
        listed = {" ".join(c["argv"]): c["when"] for c in step["commands"]}
        assert set(listed) == {" ".join(c["argv"]) for c in step_commands(action, step["params"], "ubuntu")}
        body = dict(step["params"], secrets={"admin_password": live.password})   # as the executor passes it
        res = fresh_agent.run(RUNNER + [action], env=default_env(), input=json.dumps(body), timeout=120)
        result = json.loads(res.stdout.strip().splitlines()[-1])
        assert result["status"] == "COMPLETE", (action, result["reason"], res.stderr[-2000:])
        ran = {c["argv"] for c in result["commands"]}
        assert ran <= set(listed), (action, sorted(ran - set(listed)))
        skipped = {cmd for cmd in set(listed) - ran if not listed[cmd].startswith("if ")}
        assert not skipped, (action, sorted(skipped))
