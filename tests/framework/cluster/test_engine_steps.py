"""The plan engine's cluster steps, run for real: the engine's own RunClusterAction decisions go
through run_action to the sandbox gateway and the outcomes go back as ClusterActionResult.

Host steps (deps, sds package, sdc) are not under test here: the test answers them as the executor
would on success, as the core engine tests do.
"""
import json

import pytest

from dcos_scaleio.framework.cluster import Gateway, config_from_options, run_action
from dcos_scaleio.options import validate
from dcos_scaleio.plan import (AgentInfo, AgentsListed, ClusterActionResult, Engine, LaunchHostStep, OfferSeen,
                               RunClusterAction, Status, TaskStatusUpdate, Tick, plan_status)

pytestmark = pytest.mark.sandbox

ARTIFACTS = {fam: {comp: {"url": f"https://mirror.test/{fam}/{comp}.pkg", "sha256": "e" * 64}
                   for comp in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")}
             for fam in ("rhel", "ubuntu")}


def make_options(world, password, host_devices, **scaleio):
    user = {"scaleio": {"admin_password": password, "mode": "existing", "protection_domain": "pd1",
                        "storage_pool": "sp1", "gateway": {"ca_file": str(world.server.ca_path)},
                        "existing": {"mdm_ips": world.mdm_ips[:2],
                                     "gateway_endpoint": f"https://{world.server.listen_ip}:{world.server.port}"},
                        **scaleio},
            "artifacts": ARTIFACTS, "devices": {"host_devices": [{"host": h, "paths": p} for h, p in host_devices.items()]}, "rexray": {"enabled": False},
            "service": {"retry": {"max_attempts": 2, "backoff_initial_s": 1, "backoff_factor": 1,
                                  "backoff_max_s": 1}}}
    result = validate(user)
    assert result.ok, result.errors
    return result.options


class Driver:
    """Feeds the engine: offers, host-step successes, real cluster actions, time."""

    def __init__(self, options, agents):
        self.engine = Engine(options)
        self.options = options
        self.agents = agents
        self.gateways: dict[str, Gateway] = {}
        self.now = 0.0
        self.outcomes = []

    def gateway(self, endpoint) -> Gateway:
        if endpoint not in self.gateways:
            self.gateways[endpoint] = Gateway(config_from_options(self.options, endpoint, timeout_s=10))
        return self.gateways[endpoint]

    def _handle(self, decisions):
        queue = list(decisions)
        while queue:
            d = queue.pop(0)
            if isinstance(d, RunClusterAction):
                out = run_action(self.gateway(d.params["gateway_endpoint"]), d.action, d.params)
                json.dumps(out.to_json())          # what the engine persists must be JSON-able
                self.outcomes.append((d.step, out))
                queue += self.engine.handle(ClusterActionResult(self.now, d.action_id, out.ok, out.message,
                                                                out.result, out.retryable))
            elif isinstance(d, LaunchHostStep):
                queue += self.engine.handle(TaskStatusUpdate(self.now, d.task_id, "TASK_RUNNING"))
                queue += self.engine.handle(TaskStatusUpdate(self.now, d.task_id, "TASK_FINISHED", "done",
                                                             {"os_family": "rhel"}))

    def run(self, rounds=40):
        self._handle(self.engine.resume(self.now))
        self._handle(self.engine.handle(AgentsListed(self.now, tuple(self.agents))))
        for i in range(rounds):
            if plan_status(self.engine) in (Status.COMPLETE, Status.ERROR):
                break
            for a in self.agents:
                self._handle(self.engine.handle(OfferSeen(self.now, f"offer-{i}-{a.agent_id}", a.agent_id)))
            self.now += 2.0
            self._handle(self.engine.handle(Tick(self.now)))
        return plan_status(self.engine)


def test_existing_mode_deploy_runs_every_cluster_step_once(world, password):
    ips = [world.sds_host() for _ in range(2)]
    agents = [AgentInfo(f"agent-{i}", f"h{i}", ip) for i, ip in enumerate(ips)]
    opts = make_options(world, password, {a.hostname: ["/dev/sdb"] for a in agents})
    d = Driver(opts, agents)
    assert d.run() == Status.COMPLETE, [(k, o.message) for k, o in d.outcomes if not o.ok]

    s = world.system
    assert [p.name for p in s.protection_domains()] == ["pd1"]
    assert sorted(x.name for x in s.sds_list()) == ["sds-h0", "sds-h1"]
    assert len(s.devices()) == 2 and s.pool_capacity(name="sp1", pd_name="pd1").total_kb == 200 * 1048576
    for op, n in (("add_protection_domain", 1), ("add_storage_pool", 1), ("add_sds", 2), ("add_device", 2)):
        assert world.applied(op) == n == world.attempts(op), op
    steps = {k for k, o in d.outcomes}
    assert {"cluster/gateway", "cluster/protection-domain", "cluster/storage-pool:sp1", "h0/sds-register",
            "h0/device:/dev/sdb"} <= steps

    # A second deploy from scratch (a new engine, e.g. after losing its state) changes nothing.
    again = Driver(opts, agents)
    assert again.run() == Status.COMPLETE
    assert all(not o.result.get("changed") for _, o in again.outcomes)
    for op, n in (("add_protection_domain", 1), ("add_storage_pool", 1), ("add_sds", 2), ("add_device", 2)):
        assert world.attempts(op) == n, op


def test_refused_device_puts_its_step_in_error_with_the_mdms_reason(world, password):
    ip = world.sds_host([{"path": "/dev/sdb", "size_gb": 100, "has_data": True}])
    agents = [AgentInfo("agent-0", "h0", ip)]
    d = Driver(make_options(world, password, {"h0": ["/dev/sdb"]}), agents)
    assert d.run() == Status.ERROR
    step = d.engine.steps["h0/device:/dev/sdb"]
    assert step.state == Status.ERROR and "contains data" in step.reason
    assert step.attempts == 1                   # permanent: not retried
    assert d.engine.steps["h0/sds-register"].state == Status.COMPLETE
    assert world.applied("add_device") == 0


def test_wrong_ca_fails_the_gateway_step_permanently(world, password, tmp_path):
    from dcos_scaleio.sandbox.scaleio import tls
    other = tls.ensure_ca(tmp_path / "other")
    opts = make_options(world, password, {}, gateway={"ca_file": str(other)})
    d = Driver(opts, [])
    assert d.run() == Status.ERROR
    step = d.engine.steps["cluster/gateway"]
    assert step.state == Status.ERROR and "TLS verification" in step.reason and step.attempts == 1
    assert password not in json.dumps([o.to_json() for _, o in d.outcomes])


def test_ca_pem_option_is_written_once_with_mode_0600(world, password, tmp_path):
    pem = world.server.ca_path.read_text()
    opts = make_options(world, password, {}, gateway={"ca_pem": pem})
    cfg = config_from_options(opts, opts.scaleio.existing.gateway_endpoint, ca_dir=tmp_path)
    path = tmp_path / "gateway-ca.pem"
    assert cfg.ca_path == str(path) and path.read_text() == pem and (path.stat().st_mode & 0o777) == 0o600
    mtime = path.stat().st_mtime_ns
    config_from_options(opts, opts.scaleio.existing.gateway_endpoint, ca_dir=tmp_path)
    assert path.stat().st_mtime_ns == mtime
    assert Gateway(cfg).connect() == "3.0"
