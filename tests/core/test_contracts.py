"""Contracts with the parts that act on the engine's decisions: every host step the engine launches
is a step the executor's runner knows, with parameters it accepts; every cluster action is one the
scheduler's dispatcher knows (except the two the scheduler handles itself)."""
import json

from dcos_scaleio.framework.cluster.dispatch import ACTIONS
from dcos_scaleio.framework.host.steps import STEPS
from dcos_scaleio.framework.host.validate import check_params
from dcos_scaleio.plan import Engine, LaunchHostStep, RunClusterAction, Status

# Handled by the scheduler itself, not by framework.cluster: the post-restart agent check reads the
# agent's /flags; deregistering tears the framework down. volumes-destroy is not implemented there.
SCHEDULER_ACTIONS = {"verify-agent", "deregister-service", "volumes-destroy"}


def _all_decisions(kit):
    mod = {"mesos_version": "1.4.1", "url": "https://m/dvdi.so", "sha256": "d" * 64}
    devs = {"host_devices": {f"h{i}": ["/dev/sdb"] for i in range(1, 5)}}
    opts = kit.options(devices=devs, agents={"allow_restart": True}, isolator={"mode": "dvdi", "dvdi_modules": [mod]})
    w = kit.World(opts, [kit.agent(i, mesos_version="1.4.1") for i in range(1, 5)])
    w.outcomes["h1/dvdi"] = [("finish", {"restart": "agent"})]
    assert w.run() is Status.COMPLETE
    data = kit.options(devices=devs, uninstall={"level": "data", "confirm": "yes-really-destroy-data"})
    u = kit.World(data, list(w.agents.values()), now=w.now)
    u.engine = Engine.restore(data, json.loads(json.dumps(w.engine.snapshot())), uninstall=True)
    assert u.run() is Status.COMPLETE
    return w.log + u.log


def test_every_host_step_is_known_to_the_runner_with_valid_params(kit):
    launches = [d for d in _all_decisions(kit) if isinstance(d, LaunchHostStep)]
    assert {d.action for d in launches} == set(STEPS)
    for d in launches:
        check_params(json.loads(json.dumps(dict(d.params))), STEPS[d.action].PARAMS)   # raises BadParams


def test_every_cluster_action_is_dispatched(kit):
    actions = {d.action for d in _all_decisions(kit) if isinstance(d, RunClusterAction)}
    assert actions - SCHEDULER_ACTIONS <= set(ACTIONS)
    assert actions & SCHEDULER_ACTIONS == SCHEDULER_ACTIONS


def test_cluster_action_params_parse_as_the_dispatcher_expects(kit):
    from dcos_scaleio.framework.cluster import specs
    parse = {
        "protection-domain": specs.ProtectionDomainSpec.from_params,
        "storage-pool": specs.StoragePoolSpec.from_params,
        "sds-register": specs.SdsSpec.from_params,
        "device": specs.DeviceSpec.from_params,
        "sds-remove": lambda p: specs.OwnedObject.from_params(p, "sds_id"),
        "storage-pool-remove": lambda p: specs.OwnedObject.from_params(p, "storage_pool_id"),
        "protection-domain-remove": lambda p: specs.OwnedObject.from_params(p, "protection_domain_id"),
        "volumes-check": specs.VolumeScope.from_params,
        "gateway-reachable": lambda p: None,
    }
    seen = set()
    for d in _all_decisions(kit):
        if isinstance(d, RunClusterAction) and d.action not in SCHEDULER_ACTIONS:
            parse[d.action](json.loads(json.dumps(dict(d.params))))   # raises InvalidParameters
            seen.add(d.action)
    assert seen == set(parse) - {"volumes-check"}   # data level: volumes-destroy replaces the check
