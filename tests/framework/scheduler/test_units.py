"""The scheduler's pure parts on real inputs: executor generations and tokens, reconciliation
bookkeeping, Mesos messages, configuration, and persistence in a real SQLite store."""
import base64
import json

import pytest

from dcos_scaleio.framework.scheduler import messages
from dcos_scaleio.framework.scheduler.config import load_config
from dcos_scaleio.framework.scheduler.executors import ExecutorRecord, ExecutorRegistry
from dcos_scaleio.framework.scheduler.persist import SchedulerState
from dcos_scaleio.framework.scheduler.reconcile import Reconciler
from dcos_scaleio.framework.store import open_store
from dcos_scaleio.options import validate
from dcos_scaleio.plan import TASK_STATES, Engine, LaunchHostStep

PASSWORD = "Unit-Passw0rd"


def _options(**scaleio_agents):
    opts = {"scaleio": {"admin_password": PASSWORD}, "agents": {"flavour": "mesos", **scaleio_agents}}
    result = validate(opts)
    assert result.ok, result.errors
    return result.options


def _build(eid, token):
    return {"executor_id": {"value": eid}, "token": token}


def test_executor_generations_and_tokens():
    reg = ExecutorRegistry()
    info, rec = reg.for_launch("h1", "A1", _build)
    assert rec.executor_id == "scaleio-executor__h1__1" and info == rec.info
    assert reg.for_launch("h1", "A1", _build) == (info, None)        # reused verbatim
    token = rec.token
    assert reg.authorize(rec.executor_id, token) == 200
    assert reg.authorize(rec.executor_id, "wrong") == 401
    assert reg.authorize(rec.executor_id, "") == 401
    assert reg.authorize("scaleio-executor__h9__1", token) == 401
    # Lost: the token is refused as no longer current; the next launch is a new generation.
    assert reg.mark_lost(eid=rec.executor_id) is rec
    assert reg.authorize(rec.executor_id, token) == 403
    _, rec2 = reg.for_launch("h1", "A1", _build)
    assert rec2.executor_id == "scaleio-executor__h1__2" and rec2.token != token
    assert reg.authorize(rec.executor_id, token) == 403
    assert reg.authorize(rec2.executor_id, rec2.token) == 200
    # A new agent ID (agent re-registered afresh) also means a new executor.
    _, rec3 = reg.for_launch("h1", "A2", _build)
    assert rec3.generation == 3
    # What we would build now differs from the stored ExecutorInfo (e.g. the scheduler moved): new one.
    _, rec4 = reg.for_launch("h1", "A2", lambda eid, tok: {**_build(eid, tok), "moved": True})
    assert rec4.generation == 4
    # Records survive a round trip (the store) and keep authorising.
    again = ExecutorRegistry([ExecutorRecord.from_json(json.loads(json.dumps(rec4.to_json())))])
    assert again.authorize(rec4.executor_id, rec4.token) == 200
    assert again.mark_agent_gone("A2")[0].executor_id == rec4.executor_id


def test_reconciler_backoff_blocking_and_give_up():
    r = Reconciler(give_up_s=10, backoff=(1, 2, 4), implicit_every_s=100)
    assert r.start([("t1", "A1"), ("t2", "A1"), ("t3", "A2")], now=0) == ["t1", "t2", "t3"]
    assert r.blocked("A1") and r.blocked("A2") and not r.blocked("A3")
    assert r.due(0.5) == ([], [], False)
    r.answered("t3")
    assert not r.blocked("A2")
    assert r.due(1.0) == (["t1", "t2"], [], False)       # first resend after 1 s
    assert r.due(2.5) == ([], [], False)
    assert r.due(3.0) == (["t1", "t2"], [], False)       # then after 2 s more
    r.answered("t1")
    assert r.blocked("A1")
    assert r.due(10.0) == ([], ["t2"], False)            # given up: the caller treats t2 as lost
    assert not r.blocked("A1") and not r.active
    assert r.due(100.0) == ([], [], True)                # periodic implicit reconciliation
    assert r.start([], now=200) == [] and r.next_wakeup == 300


def test_framework_info_roles_and_capabilities():
    info = messages.framework_info(_options(), framework_id="F1")
    assert info["name"] == "scaleio" and info["role"] == "scaleio-role" and info["principal"] == "scaleio-principal"
    assert info["checkpoint"] is True and info["failover_timeout"] == 14 * 24 * 3600
    assert info["capabilities"] == [{"type": "PARTITION_AWARE"}] and info["id"] == {"value": "F1"}
    public = messages.framework_info(_options(include_public=True))
    assert public["roles"] == ["scaleio-role", "slave_public"] and "role" not in public and "id" not in public
    assert {"type": "MULTI_ROLE"} in public["capabilities"]
    assert messages.framework_roles(public) == ["scaleio-role", "slave_public"]


def test_task_info_carries_secret_names_never_values():
    o = _options()
    launch = LaunchHostStep("O1", "A1", "h1", "mdm/primary:create", "cluster-create", "cluster-create__h1__7", 1,
                            "mdm", {"primary_ip": "127.0.0.9"})
    ex = messages.executor_info("scaleio-executor__h1__1", persona="mdm", options=o, artifact_url="",
                                dev_python="/usr/bin/python3", scheduler_url="http://127.0.0.1:1", token="T0K")
    task = messages.task_info(launch, "A1", ex, allocation_role="scaleio-role")
    data = json.loads(base64.b64decode(task["data"]))
    assert data == {"step": "cluster-create", "params": {"primary_ip": "127.0.0.9"}, "secrets": ["admin_password"]}
    assert PASSWORD not in json.dumps(task)
    assert ex["command"]["value"] == "exec /usr/bin/python3 -m dcos_scaleio.framework.executor"
    assert {r["name"]: r["scalar"]["value"] for r in ex["resources"]} == {"cpus": 0.5, "mem": 256.0}
    assert all(r["allocation_info"] == {"role": "scaleio-role"} for r in task["resources"])
    shipped = messages.executor_info("e", persona="data", options=o, artifact_url="http://m/x.tar.gz", dev_python="",
                                     scheduler_url="u", token="t")
    assert shipped["command"]["uris"][0]["value"] == "http://m/x.tar.gz"
    assert shipped["command"]["value"] == "exec ./dcos-scaleio-executor"


@pytest.mark.parametrize("state", sorted(TASK_STATES - {"TASK_STAGING"}))
def test_every_task_state_reaches_the_engine(state):
    result = {"status": "ERROR", "reason": "rpm exit 1", "retryable": False}
    status = {"task_id": {"value": "deps__h1__1"}, "state": state, "reason": "REASON_EXECUTOR_TERMINATED",
              "data": base64.b64encode(json.dumps(result).encode()).decode()}
    ev = messages.status_event(5.0, status)
    assert (ev.task_id, ev.state, ev.reason, ev.result) == ("deps__h1__1", state, "REASON_EXECUTOR_TERMINATED", result)
    assert ev.message == "REASON_EXECUTOR_TERMINATED"
    # The engine accepts each of them without raising (an unknown task is ignored).
    assert Engine(_options()).handle(ev) is not None
    assert messages.status_event(5.0, {"task_id": {"value": "x"}, "state": state, "data": "%%"}).result == {}


def test_agents_from_offers_and_the_operator_api():
    offer = {"id": {"value": "O1"}, "agent_id": {"value": "A1"}, "hostname": "h1",
             "url": {"scheme": "http", "address": {"hostname": "h1", "ip": "127.0.0.5", "port": 5051}},
             "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}, "role": "slave_public"},
                           {"name": "mem", "type": "SCALAR", "scalar": {"value": 8192}, "role": "slave_public"}],
             "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
                            {"name": "disks", "type": "SCALAR", "scalar": {"value": 2}}]}
    a = messages.agent_from_offer(offer)
    assert (a.agent_id, a.hostname, a.ip, a.public, a.cpus, a.mem) == ("A1", "h1", "127.0.0.5", True, 4.0, 8192.0)
    assert a.attributes == {"rack": "r1", "disks": "2"}
    op = {"agent_info": {"hostname": "h2", "id": {"value": "A2"}, "port": 5051, "attributes": []},
          "pid": "slave(1)@127.0.0.6:5051", "version": "1.11.0",
          "total_resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}, "role": "*"}]}
    b = messages.agent_from_operator(op)
    assert (b.agent_id, b.hostname, b.ip, b.public, b.cpus, b.mesos_version) == ("A2", "h2", "127.0.0.6", False, 2.0, "1.11.0")


def test_state_round_trip_and_large_batches_in_sqlite(tmp_path):
    with open_store(f"sqlite://{tmp_path / 's.db'}") as store:
        store.acquire_lock(timeout=5)
        st = SchedulerState(store)
        assert st.framework_id() is None
        st.set_framework_id("F1")
        assert st.framework_id() == "F1"
        # More than one transaction's worth of records: split, each record whole.
        big = {f"step/h{i}/device:/dev/sd{i}": {"blob": "x" * 300_000} for i in range(8)}
        rec = ExecutorRecord("h1", 2, "scaleio-executor__h1__2", "A1", "tok", {"executor_id": {"value": "e"}})
        st.save({**big, "meta": {"version": 1}}, [rec])
        loaded = st.engine_records()
        assert loaded.keys() == set(big) | {"meta"} and loaded["step/h3/device:/dev/sd3"] == big["step/h3/device:/dev/sd3"]
        st.save({"step/h3/device:/dev/sd3": None})
        assert "step/h3/device:/dev/sd3" not in st.engine_records()
        assert [r.to_json() for r in st.executor_records()] == [rec.to_json()]
        st.clear_framework_id()
        assert st.framework_id() is None


def test_config_from_file_and_the_mapped_secret(tmp_path):
    f = tmp_path / "o.json"
    f.write_text(json.dumps({"scaleio": {"admin_password_secret": "scaleio/pw"},
                             "service": {"state_store": {"type": "sqlite", "sqlite_path": "st.db"}}}))
    env = {"SCALEIO_OPTIONS_FILE": str(f), "PORT_API": "8123", "LIBPROCESS_IP": "127.0.0.7",
           "SCALEIO_RECONCILE_GIVE_UP_S": "3"}
    missing = load_config(env)
    assert not missing.ok and "scaleio.admin_password_secret" in str(missing.errors[0])
    cfg = load_config({**env, "SCALEIO_ADMIN_PASSWORD": PASSWORD})
    assert cfg.ok and cfg.options.scaleio.admin_password.reveal() == PASSWORD
    assert (cfg.api_host, cfg.api_port, cfg.reconcile_give_up_s) == ("127.0.0.7", 8123, 3.0)
    assert cfg.store_url.startswith("sqlite:///") and cfg.store_url.endswith("/st.db")
    assert PASSWORD not in repr(cfg)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    bad = load_config({"SCALEIO_OPTIONS_FILE": str(broken)})
    assert not bad.ok and bad.service_name == "scaleio"


def test_shipped_executor_archive_is_checked_against_its_sha256_before_it_runs():
    sha = "ab" * 32
    result = validate({"scaleio": {"admin_password": PASSWORD}, "agents": {"flavour": "mesos"},
                       "artifacts": {"executor": {"url": "http://m/framework/dcos-scaleio-executor.tar.gz",
                                                  "sha256": sha}}})
    assert result.ok, result.errors
    o = result.options
    ex = messages.executor_info("e", persona="data", options=o, artifact_url=o.artifacts.executor.url,
                                dev_python="", scheduler_url="u", token="t")
    uri = ex["command"]["uris"][0]
    assert uri["extract"] is False and uri["value"] == o.artifacts.executor.url
    assert ex["command"]["value"] == (
        f"printf '%s  %s\\n' {sha} dcos-scaleio-executor.tar.gz | sha256sum -c - >&2 && "
        "tar -xzf dcos-scaleio-executor.tar.gz && exec ./dcos-scaleio-executor")
    for bad in ("http://m/x.tar.gz;reboot", "http://m/$(id).tar.gz", "http://m/exec.zip", "http://m/"):
        with pytest.raises(ValueError):
            messages.artifact_basename(bad)


def test_an_executor_url_unfit_for_the_command_line_is_an_option_error(tmp_path):
    opts = {"scaleio": {"admin_password": PASSWORD}, "agents": {"flavour": "mesos"},
            "artifacts": {"executor": {"url": "http://m/dl?f=executor", "sha256": "ab" * 32}}}
    f = tmp_path / "o.json"
    f.write_text(json.dumps(opts))
    cfg = load_config({"SCALEIO_OPTIONS_FILE": str(f)})
    assert cfg.options is None and [e.path for e in cfg.errors] == ["artifacts.executor.url"]
