"""The operator verbs in-process (``main(argv, environ)``) against a running sandbox, through the real
Admin Router with real ACS tokens: output, --json fidelity, exit codes and every error message."""
import json
import socket
import time

import pytest

from dcos_scaleio.cli import errors
from dcos_scaleio.cli.main import INFO
from tests.cli.helpers import api_get, cluster_toml, write_cluster

# needs_root: the sandbox isolates agent roots; timeout: the first test may wait for the artifacts to build.
pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root, pytest.mark.timeout(900)]


def api_json(up, path):
    """The API's own answer through the Admin Router (what --json must reproduce)."""
    return api_get(up.info, path)[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # nothing listens once the socket is closed


# ---------------------------------------------------------------- protocol
def test_protocol_flags(run_cli, base_env):
    r = run_cli("--info", env=base_env)
    assert (r.code, r.out) == (0, INFO + "\n")
    r = run_cli("--version", env=base_env)
    assert r.code == 0 and r.out.startswith("dcos-scaleio version ")
    r = run_cli("--config-schema", env=base_env)
    schema = json.loads(r.out)
    assert r.code == 0 and schema["properties"]["service_name"]["type"] == "string"
    r = run_cli("-h", env=base_env)
    assert r.code == 0 and "status" in r.out and "add-device" in r.out and "Exit codes" in r.out


@pytest.mark.parametrize("argv", [["bogus"], ["add-device"], ["plan"], ["status", "--nope"], ["update", "start"]])
def test_usage_errors(run_cli, base_env, argv):
    r = run_cli(*argv, env=base_env)
    assert r.code == errors.USAGE, r
    assert r.err.strip()


# ---------------------------------------------------------------- reads
def test_status_shows_the_deploy_plan_with_its_exit_code(up, run_cli, cluster_env):
    r = run_cli("status", env=cluster_env)
    plan = api_json(up, "/v1/plans/deploy")
    expected = {"COMPLETE": 0, "ERROR": errors.PLAN_ERROR}.get(plan["status"], errors.PLAN_INCOMPLETE)
    assert r.code == expected, r.err
    assert r.out.startswith("deploy (")
    for phase in plan["phases"]:
        assert phase["name"] in r.out
    host = up.info["agents"][0]["hostname"]
    assert f"{host}:[deps]" in r.out


def test_status_json_is_the_api_json(up, run_cli, cluster_env):
    r = run_cli("status", "--json", env=cluster_env)
    doc = r.json()
    direct = api_json(up, "/v1/plans/deploy")
    assert set(doc) == set(direct)
    assert [(p["name"], [s["name"] for s in p["steps"]]) for p in doc["phases"]] == \
        [(p["name"], [s["name"] for s in p["steps"]]) for p in direct["phases"]]
    r = run_cli("status", "--json", env=dict(cluster_env, DCOS_LOG_LEVEL="debug"))   # = -v
    assert "> GET " in r.err and "/service/scaleio/v1/plans/deploy" in r.err and r.json()["phases"]


def test_plan_list_show_and_unknown_plan(up, run_cli, cluster_env):
    r = run_cli("plan", "list", "--json", env=cluster_env)
    assert r.code == 0 and r.json() == api_json(up, "/v1/plans")
    r = run_cli("plan", "show", "deploy", "--json", env=cluster_env)
    assert r.json()["phases"]
    r = run_cli("plan", "show", "nosuchplan", env=cluster_env)
    assert r.code == errors.NOT_FOUND
    assert "nosuchplan" in r.err


def test_nodes_and_one_node(up, run_cli, cluster_env):
    host = up.info["agents"][0]["hostname"]
    r = run_cli("nodes", "--json", env=cluster_env)
    assert r.code == 0 and [n["hostname"] for n in r.json()] == [n["hostname"] for n in api_json(up, "/v1/nodes")]
    r = run_cli("nodes", env=cluster_env)
    assert r.code == 0 and host in r.out
    r = run_cli("nodes", host, env=cluster_env)
    assert r.code == 0 and f"{host}:[deps]" in r.out and "agent_id" in r.out


def test_unknown_node(run_cli, cluster_env):
    r = run_cli("nodes", "no-such-node.example", env=cluster_env)
    assert r.code == errors.NOT_FOUND
    assert "unknown node 'no-such-node.example'" in r.err


def test_endpoints(up, run_cli, cluster_env):
    r = run_cli("endpoints", "--json", env=cluster_env)
    assert r.code == 0 and r.json() == api_json(up, "/v1/endpoints")
    r = run_cli("endpoints", env=cluster_env)
    assert r.code == 0 and "gateway" in r.out
    r = run_cli("endpoints", "nope", env=cluster_env)
    assert r.code == errors.NOT_FOUND


def test_preview_current_and_bad_options(up, run_cli, cluster_env, tmp_path):
    r = run_cli("preview", "--json", env=cluster_env)
    assert r.code == 0 and r.json()["valid"] is True
    r = run_cli("preview", env=cluster_env)
    assert r.code == 0 and "deploy (preview)" in r.out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scaleio": {"mode": "bogus"}}))
    r = run_cli("preview", f"--options={bad}", env=cluster_env)
    assert r.code == errors.VALIDATION and "scaleio.mode" in r.out
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    r = run_cli("preview", "--options", str(broken), env=cluster_env)
    assert r.code == errors.VALIDATION and "not valid JSON" in r.err and str(broken) in r.err


# ---------------------------------------------------------------- writes and auth
def test_add_device_refusals_name_the_problem(up, run_cli, cluster_env):
    host = up.info["agents"][0]["hostname"]
    r = run_cli("add-device", "no-such-node.example", "/dev/sdz", env=cluster_env)
    assert r.code == errors.NOT_FOUND and "no-such-node.example" in r.err
    r = run_cli("add-device", host, "/dev/sdb;reboot", env=cluster_env)
    assert r.code == errors.VALIDATION and "/dev/sdb;reboot" in r.err


def test_plan_pause_and_resume_as_an_operator(up, run_cli, cluster_env):
    r = run_cli("plan", "pause", "deploy", env=cluster_env)
    assert r.code == 0, r.err
    try:
        assert run_cli("plan", "show", "--json", env=cluster_env).json()["status"] in ("WAITING", "COMPLETE")
    finally:
        r = run_cli("plan", "resume", "deploy", env=cluster_env)
        assert r.code == 0, r.err


def test_forbidden_for_a_non_operator(up, run_cli, cluster_env):
    env = dict(cluster_env, DCOS_ACS_TOKEN=up.front.token("viewer"))
    assert run_cli("status", "--json", env=env).code in (0, errors.PLAN_INCOMPLETE)   # reads are fine
    r = run_cli("plan", "pause", "deploy", env=env)
    assert r.code == errors.FORBIDDEN and "permission denied" in r.err


def test_expired_token(up, run_cli, cluster_env):
    env = dict(cluster_env, DCOS_ACS_TOKEN=up.front.mint("bootstrapuser", exp=int(time.time()) - 60))
    r = run_cli("status", env=env)
    assert r.code == errors.AUTH
    assert "expired" in r.err and "dcos auth login" in r.err


def test_invalid_and_missing_token(run_cli, cluster_env):
    r = run_cli("status", env=dict(cluster_env, DCOS_ACS_TOKEN="not-a-jwt"))
    assert r.code == errors.AUTH and "invalid" in r.err and "dcos auth login" in r.err
    env = {k: v for k, v in cluster_env.items() if k != "DCOS_ACS_TOKEN"}
    r = run_cli("status", env=env)
    assert r.code == errors.AUTH and "not logged in" in r.err


def test_service_not_installed(run_cli, cluster_env):
    r = run_cli("--name", "not-there", "status", env=cluster_env)
    assert r.code == errors.NOT_INSTALLED
    assert "'not-there' is not installed" in r.err and "dcos scaleio install" in r.err


def test_unreachable_cluster(run_cli, base_env):
    r = run_cli("status", env=dict(base_env, DCOS_URL=f"https://127.0.0.1:{closed_port()}", DCOS_ACS_TOKEN="x"))
    assert r.code == errors.UNREACHABLE
    assert "cannot reach the cluster" in r.err and "connection refused" in r.err


def test_untrusted_certificate_then_insecure(up, run_cli, cluster_env):
    env = {k: v for k, v in cluster_env.items() if k != "DCOS_TLS_CA_PATH"}
    env["SSL_CERT_FILE"] = env["SSL_CERT_DIR"] = "/nonexistent"   # no system CA may vouch for the sandbox
    r = run_cli("status", env=env)
    assert r.code == errors.UNREACHABLE and "not trusted" in r.err and "core.ssl_verify" in r.err
    r = run_cli("status", "--json", env=dict(env, DCOS_TLS_INSECURE="1"))
    assert r.code in (0, errors.PLAN_INCOMPLETE, errors.PLAN_ERROR), r.err


def test_no_configuration(run_cli, base_env):
    r = run_cli("status", env=base_env)
    assert r.code == errors.CONFIG and "dcos cluster setup" in r.err


def test_cluster_layout_in_dcos_dir(up, run_cli, base_env, tmp_path):
    """The attached cluster's dcos.toml supplies URL, token, CA and service name."""
    dcos_dir = tmp_path / "dcos"
    write_cluster(dcos_dir, "other", cluster_toml("https://127.0.0.1:9", "x", None, name="other"))
    write_cluster(dcos_dir, "c0ffee", cluster_toml(up.info["dcos_url"], up.info["dcos_acs_token"],
                                                   up.info["dcos_ca_path"]), attached=True)
    env = dict(base_env, DCOS_DIR=str(dcos_dir))
    r = run_cli("plan", "list", "--json", env=env)
    assert (r.code, r.json()) == (0, ["deploy"])
    r = run_cli("plan", "list", env=dict(env, DCOS_CLUSTER="other"))
    assert r.code == errors.UNREACHABLE
    (dcos_dir / "clusters" / "c0ffee" / "dcos.toml").chmod(0o644)
    r = run_cli("plan", "list", env=env)
    assert r.code == errors.CONFIG and "too open" in r.err


def test_watch_times_out_with_lines_and_reasons(up, run_cli, cluster_env):
    """Not a terminal: one line per step change; a plan still running after --timeout exits 3 and
    says what it waits for."""
    plan = api_json(up, "/v1/plans/deploy")
    if plan["status"] == "COMPLETE":
        pytest.skip("the deploy plan completed; nothing left to watch")
    r = run_cli("status", "--watch", "--timeout", "1", "--interval", "0.3", env=cluster_env)
    assert r.code in (errors.PLAN_INCOMPLETE, errors.PLAN_ERROR)
    assert "plan deploy:" in r.out and ":[deps]" in r.out
    assert "Not complete yet:" in r.err or "Blocked:" in r.err


def test_plan_command_errors(run_cli, cluster_env):
    r = run_cli("plan", "force-complete", "deploy", env=cluster_env)
    assert r.code == errors.USAGE and "needs a phase" in r.err
    r = run_cli("plan", "start", "nosuchplan", env=cluster_env)
    assert r.code == errors.NOT_FOUND and "nosuchplan" in r.err
    r = run_cli("plan", "force-restart", "deploy", "nosuchphase", env=cluster_env)
    assert r.code == errors.NOT_FOUND and "nosuchphase" in r.err
