"""Faults the scheduler must survive or end cleanly on: a silently frozen subscription (heartbeat
watchdog), the framework removed by the operator (error() stops the driver, the stale framework ID
is dropped, the process exits for Marathon to restart it, and the next start registers afresh),
a store lock another scheduler still holds (503 "starting" until it is free, never 404)."""
import pytest
import requests

from dcos_scaleio.framework.store import open_store
from sched_support import AgentSpec, base_options, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = make_cluster(tmp_path_factory, [AgentSpec("x1", hostname="ignored-1")])
    c.start()
    yield c
    c.stop()


def _opts(cluster, tmp_path):
    return base_options(cluster.master_address, tmp_path / "state.sqlite",
                        **{"agents.exclude_hostnames": ["ignored-1"]})


def test_watchdog_resubscribes_a_silent_stream(cluster, schedulers, tmp_path):
    s = schedulers(tmp_path / "run", _opts(cluster, tmp_path), extra_env={"SCALEIO_HEARTBEAT_TIMEOUT_S": "3"})
    fid = wait_for(lambda: s.state()["subscribed"] and s.state()["framework_id"], what="subscription")
    assert cluster.freeze_framework_stream(fid) == [fid]
    # No events or heartbeats now (1 s interval); the watchdog (3 s here) restarts the driver.
    wait_for(lambda: s.state()["counters"]["watchdog_restarts"] >= 1, timeout=20, what="the watchdog")
    wait_for(lambda: s.state()["subscribed"], timeout=20, what="re-subscription")
    assert s.state()["framework_id"] == fid
    fw = next(f for f in cluster.master_state()["frameworks"] if f["id"] == fid)
    assert fw["active"] is True


def test_removed_framework_stops_the_driver_drops_the_id_and_exits(cluster, schedulers, tmp_path):
    opts = _opts(cluster, tmp_path)
    s = schedulers(tmp_path / "run1", opts)
    fid = wait_for(lambda: s.state()["subscribed"] and s.state()["framework_id"], what="subscription")
    r = requests.post(f"http://{cluster.master_address}/master/teardown", data={"frameworkId": fid}, timeout=10)
    assert r.status_code == 200
    assert wait_for(lambda: s.proc.poll() is not None, timeout=20, what="the scheduler to exit")
    assert s.proc.returncode == 1
    assert "Framework has been removed" in s.log()
    with open_store(f"sqlite://{tmp_path / 'state.sqlite'}") as store:
        assert store.get_json("framework_id") is None
    # Marathon would restart it: it registers as a new framework.
    s2 = schedulers(tmp_path / "run2", opts)
    fid2 = wait_for(lambda: s2.state()["subscribed"] and s2.state()["framework_id"], what="a new registration")
    assert fid2 != fid


def test_uninstall_deregisters_and_removes_its_state(cluster, schedulers, tmp_path):
    opts = _opts(cluster, tmp_path)
    s = schedulers(tmp_path / "run1", opts)
    fid = wait_for(lambda: s.state()["subscribed"] and s.state()["framework_id"], what="subscription")
    s.kill()
    opts["uninstall"] = {"level": "framework"}
    u = schedulers(tmp_path / "run2", opts, extra_env={"SCALEIO_UNINSTALL": "1"})
    plan = wait_for(lambda: (lambda r: r.json() if r.status_code == 200 else None)(u.get("/v1/plans/deploy")),
                    what="the uninstall plan to complete")
    assert [st["name"] for ph in plan["phases"] for st in ph["steps"]] == ["deregister:[service]"]
    # Already done when the plan first says COMPLETE (Cosmos deletes the app at that moment).
    assert not (tmp_path / "state.sqlite").exists()
    frameworks = cluster.master_state()["frameworks"]
    assert not [f for f in frameworks if f["id"] == fid]
    # Still up, still answering (Cosmos removes the app once it sees the plan COMPLETE).
    assert u.proc.poll() is None and u.get("/v1/plans/deploy").status_code == 200


def test_while_another_scheduler_holds_the_store_lock_every_request_is_503_starting(cluster, schedulers, tmp_path):
    opts = _opts(cluster, tmp_path)
    with open_store(f"sqlite://{tmp_path / 'state.sqlite'}") as holder:
        holder.acquire_lock(timeout=5)      # the previous scheduler, still alive
        s = schedulers(tmp_path / "run", opts, extra_env={"SCALEIO_LOCK_TIMEOUT_S": "120"}, announced=False)
        url = s.listening_url()
        for method, path in (("GET", "/v1/health"), ("GET", "/v1/plans/deploy"), ("POST", "/v1/plans/deploy/stop"),
                             ("GET", "/no/such/path")):
            r = requests.request(method, url + path, timeout=10)
            assert r.status_code == 503, (method, path, r.status_code, r.text)
            assert r.json() == {"message": "starting: the scheduler is opening its state store"}
            assert r.headers["Retry-After"].isdigit()
        assert s.proc.poll() is None and not s.url_file.exists()   # still waiting for the lock
    # The lock is free: the scheduler takes it, installs its routes and announces the same API.
    assert wait_for(s._url, 30, what="the scheduler to announce its API") == url
    health = requests.get(url + "/v1/health", timeout=10)
    assert health.status_code in (200, 202, 204, 206, 207, 208), (health.status_code, health.text)
    assert health.status_code == 204 or health.json()["code"] == health.status_code
    assert requests.get(url + "/no/such/path", timeout=10).status_code == 404
