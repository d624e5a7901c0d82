"""Plan engine: one test (at least) per transition of the table, plus the deploy plan's shape."""
import json

import pytest

from dcos_scaleio.plan import (TABLE, AgentAdded, AgentInfo, ClusterActionResult, DeclineOffer, DeviceRequested,
                               Engine, IllegalTransition, KillTask, LaunchHostStep, OfferSeen, OperatorCommand,
                               RequestRejected, RestartAgent, Revive, RunClusterAction, ScheduleWakeup, Status,
                               Suppress, Tick, UnknownElement, http_status, node_json, plan_json, plan_status,
                               render_table, transition)


def four_agents(kit, **attrs):
    return [kit.agent(i, cpus=4, mem=8192, **attrs) for i in range(1, 5)]


@pytest.fixture
def prov(kit):
    w = kit.World(kit.options(devices={"host_devices": {f"h{i}": ["/dev/sdb"] for i in range(1, 5)}}),
                  four_agents(kit))
    w.start()
    return w


# ---------------------------------------------------------------- plan shape
def test_provision_plan_shape_and_dependencies(prov):
    plan = plan_json(prov.engine)
    assert [ph["name"] for ph in plan["phases"]] == ["mdm", "cluster", "h1", "h2", "h3", "h4"]
    assert plan["strategy"] == "dependency"
    assert [s["name"] for s in plan["phases"][0]["steps"]] == [
        "primary:[mdm]", "secondary-1:[mdm]", "tiebreaker-1:[mdm]", "primary:[cluster-create]",
        "primary:[gateway]", "secondary-1:[gateway]", "tiebreaker-1:[gateway]"]
    assert [s["name"] for s in plan["phases"][1]["steps"]] == [
        "gateway:[reachable]", "protection-domain:[pd1]", "storage-pool:[pd1/sp1]"]
    assert [s["name"] for s in plan["phases"][2]["steps"]] == [
        "h1:[deps]", "h1:[sds]", "h1:[sds-register]", "h1:[device:/dev/sdb]", "h1:[sdc]", "h1:[rexray]", "h1:[dvdi]"]
    req = {k: sorted(r.key for r in s.requires) for k, s in prov.engine.steps.items()}
    assert req["h4/sds-register"] == ["cluster/storage-pool:sp1", "h4/sds"]
    assert req["h4/sdc"] == ["h4/deps", "mdm/primary:create"]
    assert req["h4/rexray"] == ["cluster/gateway", "h4/sdc"]
    assert req["mdm/primary:create"] == ["mdm/primary:mdm", "mdm/secondary-1:mdm", "mdm/tiebreaker-1:mdm"]
    assert req["cluster/gateway"] == ["mdm/primary:gateway"]
    assert req["mdm/primary:mdm"] == ["h1/deps"]   # most CPUs then hostname: h1, h2, h3


def test_full_provision_deploy_completes_with_sdk_codes(prov):
    assert http_status(prov.status_of_plan()) == 202
    assert prov.run() is Status.COMPLETE
    assert http_status(Status.COMPLETE) == 200
    plan = plan_json(prov.engine)
    assert all(s["status"] == "COMPLETE" and s["finished"] is not None for ph in plan["phases"] for s in ph["steps"])
    assert prov.offers_wanted is False       # suppressed when nothing is left
    create = prov.launches("mdm/primary:create")[0]
    assert create.params["standby_managers"] == [{"name": "h2", "ip": "10.0.0.2"}]
    assert create.params["tiebreakers"] == [{"name": "h3", "ip": "10.0.0.3"}]
    assert create.params["cluster_mode"] == "3_node"
    sdc = prov.launches("h4/sdc")[0]
    assert sdc.params["mdm_ips"] == ["10.0.0.1", "10.0.0.2"]
    assert prov.launches("h4/rexray")[0].params["gateway_endpoint"] == "https://10.0.0.1:443"
    assert json.dumps(plan)  # JSON-able


def test_pipelined_per_agent_no_global_barrier(kit):
    # h4's SDC must not wait for other agents' SDS registration or devices.
    w = kit.World(kit.existing(devices={"host_devices": {"h1": ["/dev/sdb"]}}), [kit.agent(1), kit.agent(4)])
    w.outcomes["h1/sds"] = [("hang",)]
    w.start()
    for _ in range(6):
        w.round()
    assert w.step("h4/sdc").state is Status.COMPLETE
    assert w.step("h1/sds-register").state is Status.PENDING


def test_existing_mode_has_no_mdm_phase_and_only_cluster_steps_touch_scaleio(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    assert [ph.name for ph in w.engine.plan.phases] == ["cluster", "h1"]
    first = [d for d in w.log if isinstance(d, RunClusterAction)]
    assert first[0].action == "gateway-reachable" and first[0].params["gateway_endpoint"] == "https://10.9.0.1:443"
    assert w.run() is Status.COMPLETE
    host_actions = {d.action for d in w.launches()}
    assert host_actions == {"deps", "sdc", "rexray", "dvdi"}   # no devices configured: no SDS
    assert w.launches("h1/sdc")[0].params["mdm_ips"] == ["10.9.0.1", "10.9.0.2"]


# ---------------------------------------------------------------- one test per transition
def test_transition_ready_and_launch_host_on_offer(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    deps = w.step("h1/deps")
    assert deps.state is Status.PREPARED
    assert w.offers_wanted is True
    out = w.offer("h1")
    assert isinstance(out[0], LaunchHostStep) and out[0].task_id == deps.task_id
    assert deps.state is Status.STARTING and deps.attempts == 1 and deps.started == 0.0
    assert out[0].persona == "data"


def test_transition_running_and_succeeded(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_RUNNING")
    assert w.step("h1/deps").state is Status.STARTED
    w.now = 7
    w.status(tid, "TASK_FINISHED", result={"os_family": "ubuntu"})
    deps = w.step("h1/deps")
    assert deps.state is Status.COMPLETE and deps.finished == 7
    assert w.engine.nodes["h1"].os_family == "ubuntu"
    assert w.step("h1/sdc").state is Status.PREPARED


def test_transition_failed_backoff_elapsed_and_failed_final(kit):
    opts = kit.existing(service={"retry": {"max_attempts": 3, "backoff_initial_s": 10, "backoff_factor": 4,
                                           "backoff_max_s": 100}})
    w = kit.World(opts, [kit.agent(1)])
    w.start()
    tid = w.offer("h1")[0].task_id
    out = w.status(tid, "TASK_FAILED", "rpm exit 1: missing libaio")
    deps = w.step("h1/deps")
    assert deps.state is Status.DELAYED
    assert deps.message == "backing off 10 s after: TASK_FAILED: rpm exit 1: missing libaio"
    assert ScheduleWakeup(10.0) in out
    assert plan_json(w.engine)["phases"][1]["steps"][0]["status"] == "DELAYED"
    assert isinstance(w.offer("h1")[0], DeclineOffer)   # still backing off
    w.now = 9.9
    w.feed(Tick(9.9))
    assert deps.state is Status.DELAYED
    w.now = 10
    w.feed(Tick(10))
    assert deps.state is Status.PREPARED
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_FAILED", "again")
    assert deps.retry_at == 10 + 40                      # 10 * 4
    w.now = 50
    w.feed(Tick(50))
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_LOST", "", None)
    assert deps.state is Status.ERROR
    assert deps.reason == "TASK_LOST: no message"
    assert "failed after 3 attempt(s)" in deps.message
    assert plan_status(w.engine) is Status.ERROR and http_status(Status.ERROR) == 417


def test_non_retryable_failure_is_final_at_once(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_FAILED", "scini needs kernel 4.4.0-38", {"retryable": False})
    assert w.step("h1/deps").state is Status.ERROR and w.step("h1/deps").attempts == 1


def test_cluster_action_failure_backs_off_and_never_counts_as_success(kit):
    w = kit.World(kit.existing(service={"retry": {"max_attempts": 2}}), [])
    w.outcomes["cluster/gateway"] = [("fail", "connection refused"), ("fail", "401 unauthorized")]
    w.start()
    w.answer_actions()
    gw = w.step("cluster/gateway")
    assert gw.state is Status.DELAYED and gw.reason == "connection refused"
    w.advance(10)
    assert gw.state is Status.STARTING
    w.answer_actions()
    assert gw.state is Status.ERROR and gw.reason == "401 unauthorized"
    assert w.step("cluster/protection-domain").state is Status.PENDING


def test_stale_answers_of_old_attempts_are_ignored(kit):
    w = kit.World(kit.existing(), [])
    w.start()
    first = [d for d in w.log if isinstance(d, RunClusterAction)][0]
    w.feed(OperatorCommand(0, "restart", "deploy", "cluster", "gateway:[reachable]"))
    second = [d for d in w.log if isinstance(d, RunClusterAction)][-1]
    assert second.action_id != first.action_id
    w.feed(ClusterActionResult(0, first.action_id, True))
    assert w.step("cluster/gateway").state is Status.STARTING
    w.feed(ClusterActionResult(0, second.action_id, True))
    assert w.step("cluster/gateway").state is Status.COMPLETE


def test_transition_lost_and_unready_when_agent_goes_and_returns_with_new_id(kit):
    w = kit.World(kit.existing(), [kit.agent(1), kit.agent(2)])
    w.start()
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_RUNNING")
    w.remove_agent("h1")
    deps = w.step("h1/deps")
    assert deps.state is Status.PENDING and deps.attempts == 1
    assert "went away" in deps.message
    w.remove_agent("h2")
    assert w.step("h2/deps").state is Status.PENDING      # PREPARED -> PENDING (unready)
    assert "h2" not in w.engine.offer_nodes
    w.add_agent(AgentInfo("new-id", "h1", "10.0.0.1"))
    assert deps.state is Status.PREPARED
    out = w.feed(OfferSeen(1, "o", "new-id"))
    assert isinstance(out[0], LaunchHostStep) and out[0].agent_id == "new-id"
    assert w.engine.by_agent.get("id-1") is None


def test_task_unreachable_makes_the_step_lost(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_UNREACHABLE")
    assert w.step("h1/deps").state is Status.PREPARED and w.step("h1/deps").attempts == 1


def test_transition_refused_without_artifact_for_the_os_family(kit):
    arts = {"rhel": {"sdc": {"url": "https://m/sdc.rpm", "sha256": "c" * 64}}, "ubuntu": {"sdc": {"url": "", "sha256": ""}}}
    w = kit.World(kit.existing(agents={"flavour": "mesos"}, artifacts=arts), [kit.agent(1), kit.agent(2)])
    w.start()
    t1 = w.offer("h1")[0].task_id
    t2 = w.offer("h2")[0].task_id
    w.status(t1, "TASK_FINISHED", result={"os_family": "rhel"})
    w.status(t2, "TASK_FINISHED", result={"os_family": "ubuntu"})
    assert w.step("h1/sdc").state is Status.PREPARED
    assert w.step("h2/sdc").state is Status.ERROR
    assert w.step("h2/sdc").reason == "no sdc package for ubuntu: set artifacts.ubuntu.sdc.url and sha256"
    launch = w.offer("h1")[0]
    assert launch.params["packages"] == {"sdc": {"url": "https://m/sdc.rpm", "sha256": "c" * 64}}


def test_transition_await_restart_one_agent_at_a_time_then_verify(kit):
    w = kit.World(kit.existing(agents={"allow_restart": True}), [kit.agent(1), kit.agent(2)])
    w.outcomes["h1/dvdi"] = [("finish", {"restart": "agent"})]
    w.outcomes["h2/dvdi"] = [("finish", {"restart": "agent"})]
    w.start()
    for _ in range(5):
        for host in ("h1", "h2"):
            w.offer(host)
        w.answer_tasks()
        w.answer_actions()
    restarts = list(w.restarts)
    assert [r.hostname for r in restarts] == ["h1"]          # h2 waits its turn
    assert w.step("h2/dvdi").state is Status.STARTED
    assert "waiting for its turn" in w.step("h2/dvdi").message
    assert isinstance(w.offer("h1")[0], DeclineOffer)
    w.answer_restarts()                                      # h1 back with a new agent ID
    verify = [d for d in w.log if isinstance(d, RunClusterAction)][-1]
    assert verify.action == "verify-agent" and verify.params["agent_id"] == "id-1-r"
    assert w.step("h1/dvdi").state is Status.STARTED
    w.answer_actions()
    assert w.step("h1/dvdi").state is Status.COMPLETE
    assert [r.hostname for r in w.restarts] == ["h2"]
    w.answer_restarts()
    w.answer_actions()
    assert w.status_of_plan() is Status.COMPLETE


def test_restart_required_but_not_allowed_is_an_error_with_reason(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.outcomes["h1/dvdi"] = [("finish", {"restart": "agent", "restart_reason": "isolation flag changed"})]
    assert w.run() is Status.ERROR
    dvdi = w.step("h1/dvdi")
    assert dvdi.state is Status.ERROR
    assert dvdi.reason == "an agent agent is required (isolation flag changed) and agents.allow_restart is off"
    assert not w.restarts


def test_reboot_needs_allow_reboot(kit):
    w = kit.World(kit.existing(agents={"allow_reboot": True}), [kit.agent(1)])
    w.outcomes["h1/sdc"] = [("finish", {"restart": "reboot"})]
    w.start()
    for _ in range(4):
        w.round()
    assert any(isinstance(d, RestartAgent) and d.kind == "reboot" for d in w.log)
    assert w.run() is Status.COMPLETE


def test_timeout_kills_and_backs_off(kit):
    w = kit.World(kit.existing(service={"step_timeout_s": 30}), [kit.agent(1)])
    w.start()
    launch = w.offer("h1")[0]
    w.status(launch.task_id, "TASK_RUNNING")
    assert w.wakeup == 30
    w.now = 30
    out = w.feed(Tick(30))
    assert KillTask(launch.task_id, "id-1", "timed out after 30 s") in out
    assert w.step("h1/deps").state is Status.DELAYED
    assert w.step("h1/deps").reason == "timed out after 30 s"
    w.status(launch.task_id, "TASK_KILLED")       # late: ignored
    assert w.step("h1/deps").state is Status.DELAYED


def test_one_task_per_agent_and_parallelism_limit(kit):
    w = kit.World(kit.existing(service={"deploy_parallelism": 1}), [kit.agent(1), kit.agent(2)])
    w.start()
    assert isinstance(w.offer("h1")[0], LaunchHostStep)
    assert w.offers_wanted is False                          # limit reached: suppress
    assert w.offer("h2")[0] == DeclineOffer("offer-2", 5.0)
    assert w.offer("h1")[0] == DeclineOffer("offer-3", 3600.0)  # nothing else ready there
    w.answer_tasks()
    assert w.offers_wanted is True
    assert isinstance(w.offer("h2")[0], LaunchHostStep)


def test_unknown_and_unselected_agents_are_declined_long(kit):
    w = kit.World(kit.existing(), [kit.agent(1, public=True)])
    w.start()
    assert "h1" not in w.engine.nodes
    assert w.engine.ignored["h1"].startswith("public agent")
    assert w.offer("h1")[0] == DeclineOffer("offer-1", 3600.0)


# ---------------------------------------------------------------- operator commands
def test_interrupt_reports_waiting_and_launches_nothing_then_continue(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    w.feed(OperatorCommand(0, "interrupt", "deploy", "h1"))
    plan = plan_json(w.engine)
    assert plan["phases"][1]["status"] == "WAITING"
    assert plan["phases"][1]["steps"][0]["status"] == "WAITING"
    assert isinstance(w.offer("h1")[0], DeclineOffer)
    assert w.offers_wanted is False
    w.feed(OperatorCommand(0, "continue", "deploy", "h1"))
    assert w.offers_wanted is True
    assert isinstance(w.offer("h1")[0], LaunchHostStep)


def test_interrupt_does_not_stop_a_running_step(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    w.offer("h1")
    w.feed(OperatorCommand(0, "interrupt", "deploy"))
    assert plan_status(w.engine) is Status.WAITING
    w.answer_tasks()
    assert w.step("h1/deps").state is Status.COMPLETE
    assert w.step("h1/sdc").state is Status.PREPARED
    assert plan_json(w.engine)["phases"][1]["steps"][1]["status"] == "WAITING"


def test_restart_completed_step_resets_it_and_blocks_dependents(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    w.offer("h1")
    w.answer_tasks()
    assert w.step("h1/sdc").state is Status.PREPARED
    w.feed(OperatorCommand(0, "restart", "deploy", "h1", "h1:[deps]"))
    assert w.step("h1/deps").state is Status.PREPARED and w.step("h1/deps").attempts == 0
    assert w.step("h1/sdc").state is Status.PENDING
    assert len(w.launches("h1/deps")) == 1
    w.offer("h1")
    assert len(w.launches("h1/deps")) == 2


def test_restart_running_step_kills_its_task(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    launch = w.offer("h1")[0]
    out = w.feed(OperatorCommand(0, "restart", "deploy", "h1", "h1:[deps]"))
    assert KillTask(launch.task_id, "id-1", "restarted by the operator") in out
    assert w.step("h1/deps").state is Status.PREPARED
    assert isinstance(w.offer("h1")[0], LaunchHostStep)       # agent free again


def test_restart_an_error_step_recovers(kit):
    w = kit.World(kit.existing(service={"retry": {"max_attempts": 1}}), [kit.agent(1)])
    w.outcomes["h1/sdc"] = [("fail", "drv_cfg: no MDM")]
    assert w.run() is Status.ERROR
    w.feed(OperatorCommand(w.now, "restart", "deploy", "h1", "h1:[sdc]"))
    assert w.step("h1/sdc").reason == "" and w.step("h1/sdc").state is Status.PREPARED
    assert w.run() is Status.COMPLETE


def test_force_complete_unblocks_dependents(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    launch = w.offer("h1")[0]
    out = w.feed(OperatorCommand(0, "force_complete", "deploy", "h1", "h1:[deps]"))
    assert any(isinstance(d, KillTask) and d.task_id == launch.task_id for d in out)
    assert w.step("h1/deps").state is Status.COMPLETE
    assert w.step("h1/sdc").state is Status.PREPARED
    with pytest.raises(UnknownElement):
        w.feed(OperatorCommand(0, "force_complete", "deploy"))


def test_stop_then_start(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    assert w.run() is Status.COMPLETE
    w.feed(OperatorCommand(w.now, "stop", "deploy"))
    assert plan_status(w.engine) is Status.WAITING
    assert all(s.state is not Status.COMPLETE for s in w.engine.steps.values())
    w.feed(OperatorCommand(w.now, "start", "deploy"))
    assert w.run() is Status.COMPLETE
    assert len(w.launches("h1/deps")) == 2


def test_start_on_complete_plan_reruns_it(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    assert w.run() is Status.COMPLETE
    w.feed(OperatorCommand(w.now, "start", "deploy"))
    assert plan_status(w.engine) is Status.IN_PROGRESS
    assert w.run() is Status.COMPLETE


def test_commands_on_unknown_elements(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    for cmd in (OperatorCommand(0, "interrupt", "nope"), OperatorCommand(0, "interrupt", "deploy", "nope"),
                OperatorCommand(0, "restart", "deploy", "h1", "nope"), OperatorCommand(0, "frobnicate", "deploy")):
        with pytest.raises(UnknownElement):
            w.feed(cmd)


def test_commands_accept_ids(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    plan = plan_json(w.engine)
    phase = plan["phases"][1]
    w.feed(OperatorCommand(0, "interrupt", "deploy", phase["id"], phase["steps"][0]["id"]))
    assert w.step("h1/deps").interrupted


# ---------------------------------------------------------------- growth: agents and devices
def test_new_agent_joins_after_deploy(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    assert w.run() is Status.COMPLETE
    w.add_agent(kit.agent(9))
    assert plan_status(w.engine) is Status.IN_PROGRESS
    assert w.offers_wanted is True
    assert w.run() is Status.COMPLETE
    assert [ph.name for ph in w.engine.plan.phases][-1] == "h9"


def test_added_device_becomes_a_step_idempotently(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    assert w.run() is Status.COMPLETE
    w.feed(DeviceRequested(w.now, "h1", "/dev/sdc"))
    assert [s.name for s in w.engine.nodes["h1"].phase.steps] == [
        "h1:[deps]", "h1:[sds]", "h1:[sds-register]", "h1:[device:/dev/sdc]", "h1:[sdc]", "h1:[rexray]", "h1:[dvdi]"]
    w.feed(DeviceRequested(w.now, "h1", "/dev/sdc"))                     # duplicate: nothing new
    assert len(w.engine.nodes["h1"].devices) == 1
    assert w.run() is Status.COMPLETE
    assert node_json(w.engine, "h1")["devices"][0]["state"] == "added"
    w.feed(DeviceRequested(w.now, "h1", "/dev/sdd", "fast"))             # a new pool is found-or-created
    assert "cluster/storage-pool:fast" in w.engine.steps
    assert w.run() is Status.COMPLETE


@pytest.mark.parametrize("host,path,pool,field", [
    ("nope", "/dev/sdc", None, "node"), ("h1", "/dev/sdc;reboot", None, "device"),
    ("h1", "/dev/../sda", None, "device"), ("h1", "/dev/sdc", "bad pool", "pool")])
def test_bad_device_requests_change_nothing(kit, host, path, pool, field):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    before = w.engine.snapshot()
    with pytest.raises(RequestRejected) as err:
        w.feed(DeviceRequested(0, host, path, pool))
    assert err.value.field == field
    assert w.engine.snapshot() == before


def test_device_in_other_pool_conflicts(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    w.feed(DeviceRequested(0, "h1", "/dev/sdc"))
    with pytest.raises(RequestRejected) as err:
        w.feed(DeviceRequested(0, "h1", "/dev/sdc", "other"))
    assert err.value.status == 409


def test_discovered_disks_are_filtered_into_device_steps(kit):
    w = kit.World(kit.existing(devices={"discovery": {"enabled": True, "min_size_gb": 100}}), [kit.agent(1)])
    disks = [{"path": "/dev/sdb", "size_gb": 200, "unused": True}, {"path": "/dev/loop0", "size_gb": 500, "unused": True},
             {"path": "/dev/sdc", "size_gb": 50, "unused": True}, {"path": "/dev/sdd", "size_gb": 500, "unused": False}]
    w.outcomes["h1/deps"] = [("finish", {"disks": disks})]
    assert w.run() is Status.COMPLETE
    devices = {d["path"]: d for d in node_json(w.engine, "h1")["devices"]}
    assert devices["/dev/sdb"]["state"] == "added"
    assert devices["/dev/loop0"]["reason"] == "matches devices.discovery.deny"
    assert "smaller" in devices["/dev/sdc"]["reason"]
    assert "in use" in devices["/dev/sdd"]["reason"]


def test_attribute_devices_like_the_2017_framework(kit):
    attrs = {"scaleio-sds-domains": "pd1", "scaleio-sds-pd1": "sp1,fast", "scaleio-sds-sp1": "/dev/xvdf",
             "scaleio-sds-fast": "/dev/nvme0n1,/dev/x;y"}
    w = kit.World(kit.existing(), [kit.agent(1, attributes=attrs)])
    w.start()
    node = w.engine.nodes["h1"]
    assert {p: d.storage_pool for p, d in node.devices.items()} == {"/dev/xvdf": "sp1", "/dev/nvme0n1": "fast"}
    assert "/dev/x;y" in node.refused


# ---------------------------------------------------------------- MDM placement and selection
def test_mdm_pinned_by_attribute(kit):
    ag = [kit.agent(1), kit.agent(2, attributes={"scaleio-persona": "tiebreaker"}),
          kit.agent(3, attributes={"scaleio-persona": "primary"}), kit.agent(4, attributes={"scaleio-persona": "secondary"})]
    w = kit.World(kit.options(), ag)
    w.start()
    assert w.engine.mdm_slots == {"primary": "h3", "secondary-1": "h4", "tiebreaker-1": "h2"}


def test_mdm_attribute_conflict_is_an_error_with_reason(kit):
    ag = [kit.agent(i, attributes={"scaleio-persona": "primary"}) for i in (1, 2)] + [kit.agent(3)]
    w = kit.World(kit.options(), ag)
    w.start()
    step = w.step("mdm/primary:mdm")
    assert step.state is Status.ERROR and "2 agents have scaleio-persona=primary" in step.reason


def test_mdm_pinned_hosts_wait_for_them(kit):
    w = kit.World(kit.options(scaleio={"admin_password": kit.PASSWORD,
                                       "provision": {"mdm_hosts": ["h5", "h2", "h1"]}}), [kit.agent(1), kit.agent(2)])
    w.start()
    assert not w.engine.mdm_slots
    assert plan_json(w.engine)["phases"][0]["steps"][0]["message"] == "waiting for pinned MDM agents: h5"
    w.add_agent(kit.agent(5))
    assert w.engine.mdm_slots == {"primary": "h5", "secondary-1": "h2", "tiebreaker-1": "h1"}
    assert w.run() is Status.COMPLETE


def test_five_node_cluster(kit):
    w = kit.World(kit.options(scaleio={"admin_password": kit.PASSWORD, "provision": {"mdm_count": 5}}),
                  [kit.agent(i) for i in range(1, 7)])
    assert w.run() is Status.COMPLETE
    create = w.launches("mdm/primary:create")[0]
    assert create.params["cluster_mode"] == "5_node"
    assert len(create.params["standby_managers"]) == 2 and len(create.params["tiebreakers"]) == 2


def test_agent_selection_filters(kit):
    opts = kit.existing(agents={"attribute_filters": ["rack:r1", "ssd"], "exclude_hostnames": ["h3"]})
    ag = [kit.agent(1, attributes={"rack": "r1", "ssd": "yes"}), kit.agent(2, attributes={"rack": "r2", "ssd": "y"}),
          kit.agent(3, attributes={"rack": "r1", "ssd": "y"}), kit.agent(4, attributes={"rack": "r1"})]
    w = kit.World(opts, ag)
    w.start()
    assert list(w.engine.nodes) == ["h1"]
    assert "rack=r2" in w.engine.ignored["h2"]
    assert "exclude" in w.engine.ignored["h3"]
    assert "ssd missing" in w.engine.ignored["h4"]


def test_dvdi_module_only_for_exact_mesos_version(kit):
    mod = {"mesos_version": "1.4.1", "url": "https://m/dvdi.so", "sha256": "d" * 64}
    w = kit.World(kit.existing(isolator={"mode": "dvdi", "dvdi_modules": [mod]}),
                  [kit.agent(1, mesos_version="1.4.1"), kit.agent(2, mesos_version="1.5.0")])
    assert w.run() is Status.COMPLETE
    assert w.launches("h1/dvdi")[0].params["isolator"] == "dvdi"
    assert w.launches("h2/dvdi")[0].params["isolator"] == "native"


# ---------------------------------------------------------------- bad options
def test_invalid_options_plan_error_launches_nothing(kit):
    from dcos_scaleio.options import validate
    result = validate({"scaleio": {"mode": "existing"}})
    eng = Engine(None, errors=result.errors)
    assert eng.resume(0) == [Suppress()]
    plan = plan_json(eng)
    assert plan["status"] == "ERROR" and plan["phases"] == []
    assert len(plan["errors"]) == 3 and all(":" in e for e in plan["errors"])
    assert eng.handle(OfferSeen(1, "o1", "a")) == [DeclineOffer("o1", 3600.0)]
    assert eng.handle(AgentAdded(1, AgentInfo("a", "h"))) == []


# ---------------------------------------------------------------- the table itself
def test_table_rejects_anything_not_listed():
    with pytest.raises(IllegalTransition):
        transition(Status.COMPLETE, "launch")
    with pytest.raises(IllegalTransition):
        transition(Status.PENDING, "succeeded")
    assert transition(Status.DELAYED, "backoff_elapsed") is Status.PREPARED


def test_rendered_table_lists_every_trigger():
    text = render_table()
    for t in TABLE:
        assert f"`{t.trigger}`" in text


def test_suppress_and_revive(kit):
    w = kit.World(kit.existing(), [])
    w.start()
    assert w.offers_wanted is False
    out = w.add_agent(kit.agent(1))
    assert Revive() in out


def test_busy_agent_with_more_work_gets_a_short_decline(kit):
    w = kit.World(kit.existing(devices={"host_devices": {"h1": ["/dev/sdb"]}}), [kit.agent(1)])
    w.start()
    w.offer("h1")
    w.answer_tasks()                                  # deps done: sds and sdc both ready
    first = w.offer("h1")[0]
    assert first.action == "sds"                      # the order: sds before sdc
    assert w.offer("h1")[0].refuse_seconds == 5.0
    assert "waiting for h1:[sds] to finish on agent h1" in json.dumps(plan_json(w.engine))


def test_docs_table_is_the_generated_one():
    import pathlib
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "plan-engine.md").read_text()
    between = text.split("<!-- BEGIN TRANSITIONS -->\n", 1)[1].split("<!-- END TRANSITIONS -->", 1)[0]
    assert between.strip() == render_table().strip()


def test_health_codes_follow_the_plan(kit):
    from dcos_scaleio.options import validate
    from dcos_scaleio.plan import health, metrics
    bad = Engine(None, errors=validate({}).errors)
    h = health(bad)
    assert (h["value"], h["code"]) == ("ERROR_CREATING_SERVICE", 500) and "scaleio.admin_password" in h["reasons"][0]
    w = kit.World(kit.existing(service={"retry": {"max_attempts": 1}}), [kit.agent(1)])
    w.start()
    assert health(w.engine)["code"] == 202
    w.feed(OperatorCommand(0, "interrupt", "deploy"))
    assert health(w.engine)["value"] == "DEPLOYING_WAITING_USER"
    w.feed(OperatorCommand(0, "continue", "deploy"))
    w.outcomes["h1/sdc"] = [("fail", "no scini")]
    assert w.run() is Status.ERROR
    h = health(w.engine)
    assert h["value"] == "DEGRADED" and h["reasons"] == ["h1:[sdc]: TASK_FAILED: no scini"]
    w.feed(OperatorCommand(w.now, "restart", "deploy", "h1", "h1:[sdc]"))
    assert w.run() is Status.COMPLETE
    assert health(w.engine) == {"value": "RUNNING", "code": 200, "reasons": []}
    m = metrics(w.engine)
    assert m["steps_by_status"] == {"COMPLETE": len(w.engine.steps)} and m["nodes"]["present"] == 1


def test_agent_that_never_returns_times_out_and_frees_the_restart_slot(kit):
    w = kit.World(kit.existing(agents={"allow_restart": True}, service={"step_timeout_s": 100}),
                  [kit.agent(1), kit.agent(2)])
    w.outcomes["h1/dvdi"] = [("finish", {"restart": "agent"})]
    w.outcomes["h2/dvdi"] = [("finish", {"restart": "agent"})]
    w.start()
    for _ in range(5):
        for host in ("h1", "h2"):
            w.offer(host)
        w.answer_tasks()
        w.answer_actions()
    assert [r.hostname for r in w.restarts] == ["h1"]
    w.restarts.clear()                       # h1 never comes back
    w.advance(100)
    assert w.step("h1/dvdi").state is Status.DELAYED
    assert w.step("h1/dvdi").reason == "timed out after 100 s"
    assert [r.hostname for r in w.restarts] == ["h2"]      # queued h2 did not time out meanwhile
    assert not w.engine.nodes["h1"].restarting and w.engine.restarting == "h2"


def test_element_ids_are_uuid5():
    import uuid
    from dcos_scaleio.plan.model import _NS, element_id
    for key in ("h1/deps", "deploy/cluster", "nöde/device:/dev/sdb", ""):
        assert element_id(key) == str(uuid.uuid5(_NS, key))


def test_unknown_agent_offers_get_a_medium_decline_and_its_arrival_revives(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    assert w.offers_wanted is True
    out = w.feed(OfferSeen(0, "o-x", "id-2"))
    assert out == [DeclineOffer("o-x", 30.0)]
    out = w.add_agent(kit.agent(2))
    assert Revive() in out                 # clears the filter set by the decline above
    out = w.add_agent(AgentInfo("id-1-new", "h1", "10.0.0.1"))
    assert Revive() in out                 # same host, new agent ID


def test_node_json_tells_persona_steps_and_devices(prov):
    assert prov.run() is Status.COMPLETE
    n1, n4 = node_json(prov.engine, "h1"), node_json(prov.engine, "h4")
    assert n1["persona"] == ["mdm-primary", "gateway", "sds", "sdc"]
    assert n3_role(prov) == ["mdm-tiebreaker", "gateway", "sds", "sdc"]
    assert n4["persona"] == ["sds", "sdc"]
    assert n4["os_family"] == "rhel" and n4["agent_id"] == "id-4" and n4["present"]
    assert [s["name"] for s in n1["steps"]][:4] == ["h1:[deps]", "primary:[mdm]", "primary:[cluster-create]",
                                                    "primary:[gateway]"]
    assert n4["devices"] == [{"path": "/dev/sdb", "protection_domain": "pd1", "storage_pool": "sp1",
                              "source": "options", "state": "added", "status": "COMPLETE", "reason": None}]
    assert all(s["finished"] is not None and s["attempts"] == 1 for s in n4["steps"])


def n3_role(world):
    return node_json(world.engine, "h3")["persona"]


def test_deadlines_fire_in_time_even_if_the_clock_steps_back(kit):
    w = kit.World(kit.existing(service={"step_timeout_s": 1000}), [kit.agent(1), kit.agent(2)])
    w.start()
    for _ in range(3):
        w.answer_actions()                      # gateway, protection domain, pool: no timers left
    w.now = 100
    a = w.offer("h1")[0]
    w.now = 50                                  # the adapter's clock stepped back
    b = w.offer("h2")[0]
    assert w.wakeup == 1050
    w.now = 1060
    out = w.feed(Tick(1060))
    assert [d.task_id for d in out if isinstance(d, KillTask)] == [b.task_id]
    assert w.step("h1/deps").state is Status.STARTING and w.step("h2/deps").state is Status.DELAYED
    w.now = 1100
    out = w.feed(Tick(1100))
    assert [d.task_id for d in out if isinstance(d, KillTask)] == [a.task_id]


def test_failure_reason_prefers_the_executors_structured_reason(kit):
    w = kit.World(kit.existing(), [kit.agent(1)])
    w.start()
    tid = w.offer("h1")[0].task_id
    w.status(tid, "TASK_FAILED", "Command exited with status 1",
             {"reason": "rpm -Uvh EMC-ScaleIO-sdc: exit 1: kernel 5.4 not supported", "retryable": True})
    assert w.step("h1/deps").reason == "TASK_FAILED: rpm -Uvh EMC-ScaleIO-sdc: exit 1: kernel 5.4 not supported"


def test_preview_shows_every_step_with_params_and_launches_nothing(kit):
    from dcos_scaleio.plan import preview
    opts = kit.options(devices={"host_devices": {"h1": ["/dev/sdb"]}})
    out = preview(opts, [kit.agent(i) for i in range(1, 4)] + [kit.agent(9, public=True)], os_family="ubuntu")
    assert json.dumps(out)
    by_key = {s["step"]: s for s in out["steps"]}
    assert by_key["h1/sds"]["params"]["packages"] == {"sds": {"url": "https://mirror.test/ubuntu/sds.pkg",
                                                              "sha256": "e" * 64}}
    assert by_key["mdm/primary:create"]["params"]["cluster_mode"] == "3_node"
    assert by_key["h1/device:/dev/sdb"]["params"]["sds_name"] == "sds-h1"
    assert by_key["h2/sdc"]["requires"] == ["h2:[deps]", "primary:[cluster-create]"]
    assert "public agent" in out["ignored"]["h9"]
    assert out["plan"]["status"] == "IN_PROGRESS"          # deps steps are PREPARED (waiting for offers)


def test_sds_names_of_ip_hostnames_are_distinct():
    """DC/OS names agents by IP: their SDS names must not collapse to the first octet."""
    from dcos_scaleio.plan.params import sds_name
    names = {sds_name(h) for h in ("10.0.0.1", "10.0.0.2", "127.153.0.3")}
    assert names == {"sds-10-0-0-1", "sds-10-0-0-2", "sds-127-153-0-3"}
    assert sds_name("node-7.example.com") == "sds-node-7"
