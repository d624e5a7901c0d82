"""The plan engine's host-step launches are exactly what the host steps accept: every
``LaunchHostStep`` of a whole deploy (provision mode, both OS families, both agent flavours, native
and DVDI isolators) names a known step and passes its parameter validation unchanged."""
import pytest

from dcos_scaleio.framework.host.steps import STEPS
from dcos_scaleio.framework.host.validate import check_params
from dcos_scaleio.options import validate
from dcos_scaleio.plan import (AgentInfo, AgentsListed, ClusterActionResult, Engine, LaunchHostStep, OfferSeen,
                               RunClusterAction, TaskStatusUpdate)

ARTIFACTS = {fam: {comp: {"url": f"https://mirror.test/{fam}/{comp}.pkg", "sha256": "e" * 64}
                   for comp in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli")}
             for fam in ("rhel", "ubuntu")}


def deploy_launches(flavour: str, isolator: str) -> list:
    user = {"scaleio": {"admin_password": "Pw-for-alignment1", "mode": "provision"},
            "artifacts": ARTIFACTS, "agents": {"flavour": flavour},
            "devices": {"host_devices": [{"host": "h1", "paths": ["/dev/sdb"]}]},
            "isolator": {"mode": isolator, "dvdi_modules": [
                {"mesos_version": "1.0.1", "url": "https://mirror.test/libmesos_dvdi_isolator-1.0.1.so",
                 "sha256": "f" * 64}]}}
    result = validate(user)
    assert result.ok, result.errors
    engine = Engine(result.options)
    # Mesos versions: the module's, another one, and unknown (empty) — all must be launchable.
    agents = [AgentInfo(f"id-{i}", f"h{i}", f"10.0.0.{i}", mesos_version=("1.0.1", "1.11.0", "")[i % 3])
              for i in range(1, 5)]
    family = {a.agent_id: ("ubuntu", "rhel")[i % 2] for i, a in enumerate(agents)}
    now, launches, seq = 1.0, [], 0
    pending = engine.resume(now) + engine.handle(AgentsListed(now, tuple(agents)))
    for _ in range(200):
        answers = []
        for d in pending:
            if isinstance(d, LaunchHostStep):
                launches.append(d)
                answers.append(TaskStatusUpdate(now, d.task_id, "TASK_FINISHED",
                                                result={"os_family": family[d.agent_id]}))
            elif isinstance(d, RunClusterAction):
                answers.append(ClusterActionResult(now, d.action_id, True))
        for a in agents:
            seq += 1
            answers.append(OfferSeen(now, f"o{seq}", a.agent_id))
        now += 1.0
        pending = [d for ev in answers for d in engine.handle(ev)]
        if not pending and not answers:
            break
    return launches


@pytest.mark.parametrize("flavour,isolator", [("mesos", "native"), ("mesos", "dvdi"), ("dcos", "native")])
def test_every_launch_passes_the_steps_validation(flavour, isolator):
    launches = deploy_launches(flavour, isolator)
    actions = {d.action for d in launches}
    assert {"deps", "mdm", "cluster-create", "gateway", "sds", "sdc", "rexray", "dvdi"} <= actions
    for d in launches:
        assert d.action in STEPS
        check_params(dict(d.params), STEPS[d.action].PARAMS)   # raises BadParams naming the fields
    if isolator == "dvdi":
        modules = [d.params for d in launches if d.action == "dvdi" and d.params.get("isolator") == "dvdi"]
        assert modules and all(p["mesos_version"] == "1.0.1" for p in modules)
