"""Allocation seen through an unmodified pymesos scheduler: roles and public agents, decline filters,
suppress/revive, and a new agent announced on the operator stream while offers are suppressed."""
import http.client
import json
import time

import pytest

from mesos_testfw.clusters import AgentSpec, make_cluster
from mesos_testfw.raw_streams import OperatorStream

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    specs = [AgentSpec("priv0"), AgentSpec("priv1"), AgentSpec("pub0", role="slave_public", flavour="dcos",
                                                                    attributes={"public_ip": "true"})]
    c = make_cluster(tmp_path_factory, specs)
    c.start()
    yield c
    c.stop()


def offered_hosts(s, since=0):
    return [o["hostname"] for e in s.events[since:] if e.get("ev") == "offers" for o in e["offers"]]


def settle(seconds):
    """Let several allocation ticks (0.1 s each) pass, to observe that something does NOT happen."""
    time.sleep(seconds)


def test_public_agents_only_offered_to_slave_public_subscribers(cluster, schedulers):
    pub = cluster.agent("pub0").hostname
    privs = {cluster.agent("priv0").hostname, cluster.agent("priv1").hostname}
    plain = schedulers(cluster.master_address, name="plain", mode="hold")
    plain.wait_for(lambda e: e.get("ev") == "offers" and {o["hostname"] for o in e["offers"]} == privs,
                   what="offers for both private agents")
    public = schedulers(cluster.master_address, name="public", mode="hold", roles=["slave_public"],
                        capabilities=["MULTI_ROLE"])
    ev = public.wait_for(lambda e: e.get("ev") == "offers" and pub in [o["hostname"] for o in e["offers"]],
                         what="offer for the public agent")
    offer = next(o for o in ev["offers"] if o["hostname"] == pub)
    assert offer["allocation_role"] == "slave_public" and offer["roles"] == ["slave_public"]
    assert all(r["allocation_info"] == {"role": "slave_public"} for r in offer["resources"])
    assert offer["attributes"] == {"public_ip": "true"}
    settle(0.5)
    assert pub not in offered_hosts(plain)
    # Without MULTI_ROLE, FrameworkInfo.roles is refused.
    bad = schedulers(cluster.master_address, name="bad", roles=["slave_public"])
    assert "MULTI_ROLE" in bad.wait_ev("error")["message"]
    for s in (plain, public, bad):
        s.stop(failover=False)


def test_declines_with_filters_are_honoured(cluster, schedulers):
    s = schedulers(cluster.master_address, name="decliner", mode="hold")
    ev = s.wait_for(lambda e: e.get("ev") == "offers" and len(e["offers"]) == 2, what="two private offers")
    by_host = {o["hostname"]: o["id"] for o in ev["offers"]}
    long_host, short_host = sorted(by_host)
    mark = s.mark()
    s.send("decline", offer_ids=[by_host[long_host]], refuse_seconds=3600)
    s.send("decline", offer_ids=[by_host[short_host]], refuse_seconds=0)
    again = s.wait_for(lambda e: e.get("ev") == "offers" and short_host in [o["hostname"] for o in e["offers"]],
                       since=mark, what="re-offer of the agent declined without a filter")
    s.send("set", mode="auto", decline_seconds=0)   # from now on decline everything without filters
    s.wait_ev("done", cmd="set")
    mark = s.mark()
    s.send("decline", offer_ids=[o["id"] for o in again["offers"]], refuse_seconds=0)
    # The unfiltered agent keeps coming back (several allocation rounds); the filtered one does not.
    s.wait_for(lambda e: offered_hosts(s, mark).count(short_host) >= 3, what="three re-offers of the unfiltered agent")
    assert long_host not in offered_hosts(s, mark)
    # REVIVE clears every filter.
    s.send("revive")
    s.wait_for(lambda e: e.get("ev") == "offers" and long_host in [o["hostname"] for o in e["offers"]],
               since=mark, what="offer for the filtered agent after REVIVE")
    s.stop(failover=False)


def test_suppress_stops_offers_and_revive_restores_them(cluster, schedulers):
    s = schedulers(cluster.master_address, name="suppressor", mode="auto", decline_seconds=0)
    s.wait_ev("offers")
    s.send("suppress")
    s.wait_ev("done", cmd="suppress")
    settle(1.0)                      # offers already in flight may still arrive
    mark = s.mark()
    settle(1.0)                      # ten allocation ticks
    assert offered_hosts(s, mark) == []
    s.send("revive")
    s.wait_ev("offers", since=mark)
    s.stop(failover=False)


def test_new_agent_announced_on_operator_stream_and_offered(cluster, schedulers):
    conn = http.client.HTTPConnection(*cluster.master_address.split(":"), timeout=10)
    conn.request("POST", "/api/v1", json.dumps({"type": "GET_AGENTS"}), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    agents = json.loads(resp.read())["get_agents"]["agents"]
    assert {a["agent_info"]["hostname"] for a in agents} == {a.hostname for a in cluster.agents.values()}
    conn.close()
    s = schedulers(cluster.master_address, name="watcher", mode="auto", decline_seconds=0)
    s.wait_ev("offers")
    s.send("suppress")
    s.wait_ev("done", cmd="suppress")
    ops = OperatorStream(cluster.master_address)
    try:
        ops.wait_for(lambda e: e["type"] == "SUBSCRIBED")
        info = cluster.add_agent(AgentSpec("late0", attributes={"rack": "late"}))
        added = ops.wait_for(lambda e: e["type"] == "AGENT_ADDED")
        assert added["agent_added"]["agent"]["agent_info"]["hostname"] == info["hostname"]
        assert added["agent_added"]["agent"]["agent_info"]["id"] == {"value": info["id"]}
        assert b"Transfer-Encoding: chunked" in ops.headers
    finally:
        ops.close()
    mark = s.mark()
    s.send("revive")
    s.wait_for(lambda e: e.get("ev") == "offers" and info["hostname"] in [o["hostname"] for o in e["offers"]],
               since=mark, what="offer for the new agent")
    s.stop(failover=False)


def test_rescind_hook(cluster, schedulers):
    s = schedulers(cluster.master_address, name="rescinded", mode="hold")
    ev = s.wait_ev("offers")
    oid = ev["offers"][0]["id"]
    cluster.rescind_offers(oid)
    s.wait_ev("rescinded", offer_id=oid)
    s.stop(failover=False)
