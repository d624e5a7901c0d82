"""The uninstall plan (the deploy plan in uninstall mode), built from what the deploy recorded."""
import json

import pytest

from dcos_scaleio.plan import (AgentAdded, DeviceRequested, Engine, LaunchHostStep, RequestRejected, RunClusterAction,
                               Status, plan_json)


def deployed(kit, opts, n=4):
    w = kit.World(opts, [kit.agent(i) for i in range(1, n + 1)])
    assert w.run() is Status.COMPLETE
    return w


def uninstalling(kit, w, opts):
    records = json.loads(json.dumps(w.engine.snapshot()))
    u = kit.World(opts, list(w.agents.values()), now=w.now)
    u.engine = Engine.restore(opts, records, uninstall=True)
    u.start()
    return u


def order_of(world):
    return [d.step for d in world.log if isinstance(d, (LaunchHostStep, RunClusterAction))]


def test_framework_level_only_deregisters(kit):
    opts = kit.options()
    u = uninstalling(kit, deployed(kit, opts), opts)
    assert [ph.name for ph in u.engine.plan.phases] == ["deregister"]
    assert u.run() is Status.COMPLETE
    assert order_of(u) == ["deregister/service"]


def test_software_level_removes_in_reverse_order_mdms_last(kit):
    devs = {"host_devices": {f"h{i}": ["/dev/sdb"] for i in range(1, 5)}}
    opts = kit.options(devices=devs)
    w = deployed(kit, opts)
    sw = kit.options(devices=devs, uninstall={"level": "software"}, agents={"allow_restart": True})
    u = uninstalling(kit, w, sw)
    u.outcomes["h2/uninstall-dvdi"] = [("finish", {"restart": "agent"})]
    assert [ph.name for ph in u.engine.plan.phases] == ["preflight", "mdm", "h1", "h2", "h3", "h4", "deregister"]
    assert u.run() is Status.COMPLETE
    order = order_of(u)
    pos = {k: i for i, k in enumerate(order)}
    assert order[0] == "preflight/volumes" and order[-1] == "deregister/service"
    for h in ("h1", "h2", "h3", "h4"):
        assert pos[f"{h}/uninstall-dvdi"] < pos[f"{h}/uninstall-rexray"] < pos[f"{h}/uninstall-sdc"]
        assert pos[f"{h}/sds-remove"] < pos[f"{h}/uninstall-sds"]
        assert pos[f"{h}/uninstall-sdc"] < pos["mdm/tiebreaker-1:uninstall-mdm"]
        assert pos[f"{h}/sds-remove"] < pos["mdm/primary:uninstall-gateway"]
    assert pos["mdm/secondary-1:uninstall-mdm"] < pos["mdm/primary:uninstall-mdm"]
    assert [a.action for a in u.log if isinstance(a, RunClusterAction)][0] == "volumes-check"
    wipe = [d for d in u.launches("h1/uninstall-sds")][0].params["wipe_devices"]
    assert wipe == []                                    # software level keeps device data
    sds_remove = [a for a in u.log if isinstance(a, RunClusterAction) and a.step == "h1/sds-remove"][0]
    assert sds_remove.params["sds_id"] == w.engine.steps["h1/sds-register"].details["sds_id"]
    assert sds_remove.params["created"] is True
    check = [a for a in u.log if isinstance(a, RunClusterAction) and a.action == "volumes-check"][0]
    assert check.params["storage_pool_ids"] == [w.engine.steps["cluster/storage-pool:sp1"].details["storage_pool_id"]]


def test_volumes_present_refuses_and_removes_nothing(kit):
    opts = kit.options(uninstall={"level": "software"})
    u = uninstalling(kit, deployed(kit, kit.options()), opts)
    u.outcomes["preflight/volumes"] = [("fail", "2 volumes exist (vol-a mapped to h1)", False)]
    assert u.run() is Status.ERROR
    assert u.step("preflight/volumes").reason == "2 volumes exist (vol-a mapped to h1)"
    assert u.launches() == []


def test_data_level_destroys_only_in_provision_mode(kit):
    devs = {"host_devices": {f"h{i}": ["/dev/sdb"] for i in range(1, 5)}}
    data = {"level": "data", "confirm": "yes-really-destroy-data"}
    opts = kit.options(devices=devs, uninstall=data)
    u = uninstalling(kit, deployed(kit, kit.options(devices=devs)), opts)
    assert [ph.name for ph in u.engine.plan.phases][:3] == ["preflight", "cluster", "mdm"]
    assert u.run() is Status.COMPLETE
    actions = [a.action for a in u.log if isinstance(a, RunClusterAction)]
    assert actions[0] == "volumes-destroy"
    assert actions.index("storage-pool-remove") < actions.index("protection-domain-remove")
    assert u.launches("h3/uninstall-sds")[0].params["wipe_devices"] == ["/dev/sdb"]

    ex_opts = kit.existing(devices=devs, uninstall=data)
    ex = uninstalling(kit, deployed(kit, kit.existing(devices=devs)), ex_opts)
    assert [ph.name for ph in ex.engine.plan.phases] == ["preflight", "h1", "h2", "h3", "h4", "deregister"]
    assert ex.run() is Status.COMPLETE
    ex_actions = {a.action for a in ex.log if isinstance(a, RunClusterAction)}
    assert ex_actions == {"volumes-check", "sds-remove", "deregister-service"}
    assert ex.launches("h1/uninstall-sds")[0].params["wipe_devices"] == []


def test_uninstall_ignores_new_agents_and_refuses_devices(kit):
    opts = kit.options(uninstall={"level": "software"})
    u = uninstalling(kit, deployed(kit, kit.options()), opts)
    u.feed(AgentAdded(u.now, kit.agent(9)))
    assert "h9" not in u.engine.nodes
    with pytest.raises(RequestRejected) as err:
        u.feed(DeviceRequested(u.now, "h1", "/dev/sdx"))
    assert err.value.status == 409


def test_dead_agent_phase_can_be_force_completed(kit):
    from dcos_scaleio.plan import OperatorCommand
    opts = kit.options(uninstall={"level": "software"})
    w = deployed(kit, kit.options())
    u = uninstalling(kit, w, opts)
    u.remove_agent("h4")
    u.run(rounds=20)
    assert plan_json(u.engine)["status"] == "IN_PROGRESS"
    u.feed(OperatorCommand(u.now, "force_complete", "deploy", "h4"))
    assert u.run() is Status.COMPLETE


def test_no_recorded_mdms_means_nothing_to_remove(kit):
    opts = kit.options(uninstall={"level": "software"})
    u = kit.World(opts, [])
    u.engine = Engine(opts, uninstall=True)
    assert u.run() is Status.COMPLETE
    assert u.step("mdm/primary:uninstall-mdm").message == "no MDM agents were recorded: nothing to remove"


def test_uninstall_state_roundtrips(kit):
    opts = kit.options(uninstall={"level": "software"})
    u = uninstalling(kit, deployed(kit, kit.options()), opts)
    for _ in range(3):
        u.round()
    again = Engine.restore(opts, json.loads(json.dumps(u.engine.snapshot())), uninstall=True)
    assert plan_json(again) == plan_json(u.engine)


def test_objects_not_recorded_are_not_removed(kit):
    """A deploy whose SDS registration reported no ID (or was never run) has nothing to remove."""
    devs = {"host_devices": {"h1": ["/dev/sdb"]}}
    w = deployed(kit, kit.options(devices=devs))
    snap = json.loads(json.dumps(w.engine.snapshot()))
    snap["step/h1/sds-register"]["details"] = None
    opts = kit.options(devices=devs, uninstall={"level": "software"})
    u = kit.World(opts, list(w.agents.values()), now=w.now)
    u.engine = Engine.restore(opts, snap, uninstall=True)
    assert u.run() is Status.COMPLETE
    assert not [a for a in u.log if isinstance(a, RunClusterAction) and a.action == "sds-remove"]
    assert "nothing this framework created" in u.step("h1/sds-remove").message


def test_created_flag_survives_a_rerun_that_finds_the_object(kit):
    from dcos_scaleio.plan import ClusterActionResult, OperatorCommand
    w = kit.World(kit.existing(), [])
    w.start()
    w.answer_actions()                                   # gateway
    pd = w.step("cluster/protection-domain")
    first = [a for a in w.log if isinstance(a, RunClusterAction) and a.step == pd.key][-1]
    w.feed(ClusterActionResult(w.now, first.action_id, True, "", {"details": {"protection_domain_id": "abc",
                                                                               "created": True, "name": "pd1"}}))
    assert pd.details == {"protection_domain_id": "abc", "created": True}
    w.feed(OperatorCommand(w.now, "restart", "deploy", "cluster", pd.name))
    again = [a for a in w.log if isinstance(a, RunClusterAction) and a.step == pd.key][-1]
    w.feed(ClusterActionResult(w.now, again.action_id, True, "", {"details": {"protection_domain_id": "abc",
                                                                               "created": False}}))
    assert pd.state is Status.COMPLETE
    assert pd.details == {"protection_domain_id": "abc", "created": True}
