"""The engine's side of an agent reboot (RestartAgent kind "reboot"), driven like the scheduler does:
events in, decisions out. The sdc step asks for a reboot (agents.allow_reboot on); after the
scheduler reports the agent back, the step runs again on the rebooted host; a second reboot request
in the same run is an error with the reason, not a reboot loop."""
from dcos_scaleio.options import validate
from dcos_scaleio.plan import (AgentAdded, AgentInfo, ClusterActionResult, Engine, LaunchHostStep, OfferSeen,
                               RestartAgent, RunClusterAction, TaskStatusUpdate)

PASSWORD = "Reboot-Passw0rd"
ARTIFACTS = {fam: {comp: {"url": f"https://mirror.test/{fam}/{comp}.pkg", "sha256": "e" * 64}
                   for comp in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")}
             for fam in ("rhel", "ubuntu")}
REBOOT = {"restart": "reboot", "restart_reason": "the SDC package has no scini module for the running kernel"}


class Drive:
    """Existing mode, one agent: answers every launch and action with success unless scripted."""

    def __init__(self, allow_reboot=True):
        result = validate({"scaleio": {"admin_password": PASSWORD, "mode": "existing",
                                       "existing": {"mdm_ips": ["10.9.0.1", "10.9.0.2"],
                                                    "gateway_endpoint": "https://10.9.0.1:443"}},
                           "artifacts": ARTIFACTS, "agents": {"flavour": "mesos", "allow_reboot": allow_reboot}})
        assert result.ok, result.errors
        self.engine = Engine(result.options)
        self.agent = AgentInfo("id-1", "h1", "10.0.0.1")
        self.seq = 0
        self.restarts = []
        self.sdc_launches = []
        self.feed_all(self.engine.resume(0.0))
        self.feed(AgentAdded(0.0, self.agent))

    def feed(self, event):
        self.feed_all(self.engine.handle(event))

    def feed_all(self, decisions):
        for d in decisions:
            if isinstance(d, RunClusterAction):
                self.feed(ClusterActionResult(0.0, d.action_id, True, "ok", {}))
            elif isinstance(d, RestartAgent):
                self.restarts.append(d)
            elif isinstance(d, LaunchHostStep):
                result = {"os_family": "rhel"}
                if d.action == "sdc":
                    self.sdc_launches.append(d)
                    result.update(self.sdc_results.pop(0) if self.sdc_results else {})
                self.feed(TaskStatusUpdate(0.0, d.task_id, "TASK_FINISHED", "", result))

    sdc_results: list

    def offers(self, n=12):
        for _ in range(n):
            self.seq += 1
            self.feed(OfferSeen(0.0, f"o{self.seq}", self.agent.agent_id))

    def step(self, key="h1/sdc"):
        return self.engine.steps[key]


def test_reboot_requested_then_step_runs_again_after_the_agent_is_back():
    w = Drive()
    w.sdc_results = [dict(REBOOT), {}]
    w.offers()
    assert w.sdc_launches[0].params["allow_reboot"] is True
    (restart,) = w.restarts
    assert restart.kind == "reboot" and restart.hostname == "h1" and restart.step == "h1/sdc"
    assert w.step().state.value == "STARTED" and "reboot" in w.step().message
    w.offers()
    assert len(w.sdc_launches) == 1          # the agent is rebooting: nothing launched on it
    w.feed(AgentAdded(0.0, w.agent))         # the scheduler saw the executor die with the host
    w.offers()
    assert len(w.sdc_launches) == 2 and w.step().state.value == "COMPLETE"
    assert w.step().attempts == 2 and "rebooted" not in w.step().params
    assert w.engine.steps["h1/dvdi"].state.value == "COMPLETE"


def test_a_second_reboot_request_is_an_error_not_a_loop():
    w = Drive()
    w.sdc_results = [dict(REBOOT), dict(REBOOT)]
    w.offers()
    w.feed(AgentAdded(0.0, w.agent))
    w.offers()
    step = w.step()
    assert len(w.restarts) == 1
    assert step.state.value == "ERROR" and "still needs a reboot after rebooting the agent once" in step.reason


def test_reboot_not_allowed_is_an_error_naming_the_option():
    w = Drive(allow_reboot=False)
    w.sdc_results = [dict(REBOOT)]
    w.offers()
    assert w.sdc_launches[0].params["allow_reboot"] is False
    assert w.restarts == [] and w.step().state.value == "ERROR"
    assert "agents.allow_reboot is off" in w.step().reason


def test_restored_engine_rebuilds_the_launch_a_pending_restart_needs():
    # Regression (chaos run, scheduler SIGKILLed while dvdi restarts queued): the restarted scheduler
    # has no launch in memory to re-run for the RestartAgent the restored engine issues; it logged
    # "cannot agent agent" and every queued restart waited for its step timeout, one after another.
    w = Drive()
    w.sdc_results = [dict(REBOOT)]
    w.offers()
    original = w.sdc_launches[0]
    result = validate({"scaleio": {"admin_password": PASSWORD, "mode": "existing",
                                   "existing": {"mdm_ips": ["10.9.0.1", "10.9.0.2"],
                                                "gateway_endpoint": "https://10.9.0.1:443"}},
                       "artifacts": ARTIFACTS, "agents": {"flavour": "mesos", "allow_reboot": True}})
    restored = Engine.restore(result.options, w.engine.snapshot())
    decisions = restored.resume(1.0)
    (again,) = [d for d in decisions if isinstance(d, RestartAgent)]
    assert again.step == "h1/sdc" and again.hostname == "h1"
    launch = restored.host_launch(again.step)
    assert (launch.agent_id, launch.hostname, launch.action, launch.persona) == ("id-1", "h1", "sdc", "data")
    assert launch.params == original.params
    assert restored.host_launch("cluster/gateway") is None and restored.host_launch("nope") is None
