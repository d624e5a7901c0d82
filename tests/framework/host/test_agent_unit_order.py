"""``dvdi`` orders the Mesos agent unit after REX-Ray with a systemd drop-in of ours; ``uninstall-dvdi``
removes it (and only it). Agents of their own (Ubuntu and CentOS plain Mesos, an older Ubuntu DC/OS),
so this module does not depend on test_steps_flow's order. The agent roots' systemctl is the witness:
``systemctl show -p After`` reports what its manager has loaded (a drop-in without daemon-reload is
not seen), and the step result's ``commands`` list every command the step ran (no second
daemon-reload, never an agent restart: these agents run without self_restart)."""
import pytest

from .conftest import parallel

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

PLAIN = "/etc/systemd/system/mesos-slave.service.d/dcos-scaleio-rexray.conf"
DCOS = "/etc/systemd/system/dcos-mesos-slave.service.d/dcos-scaleio-rexray.conf"
OPERATOR = "/etc/systemd/system/mesos-slave.service.d/operator.conf"


@pytest.fixture(scope="module")
def agents(world):
    return world.mixed_agents("ord-u", "ord-r", "ord-d")


def each(agents, fn):
    return parallel(*[(fn, a) for a in agents])


def dvdi(world, agent):
    packages = world.packages(agent.family, "dvdcli") if agent.flavour == "mesos" else {}
    res = agent.step("dvdi", {"flavour": agent.flavour, "packages": packages})
    assert res["status"] == "COMPLETE" and res["_rc"] == 0, (res["reason"], res["_stderr"][-2000:])
    return res


def ran(res, *argv):
    """The command lines (as the result lists them) the step ran that start with ``argv``."""
    prefix = " ".join(argv)
    return [c["argv"] for c in res["commands"] if c["argv"] == prefix or c["argv"].startswith(prefix + " ")]


def after(agent, unit):
    return agent.sh("systemctl", "show", "-p", "After", "--value", unit).stdout.split()


def since(agent, unit):
    return agent.sh("systemctl", "show", "-p", "ActiveEnterTimestamp", "--value", unit).stdout.strip()


def test_dvdi_orders_the_agent_after_rexray_with_one_reload_and_no_restart(world, agents):
    ubuntu, rhel, dcos = agents
    before = {a.name: since(a, "dcos-mesos-slave" if a.flavour == "dcos" else "mesos-slave") for a in agents}
    assert all(before.values()), before                                 # the agent units run
    for res in each(agents, lambda a: dvdi(world, a)):
        assert res["changed"] is True and res["restart"] == "agent"    # the flags need a restart: asked, not done
        assert len(ran(res, "systemctl", "daemon-reload")) == 1 and ran(res, "systemctl", "restart") == []
    for agent in (ubuntu, rhel):
        text = agent.read(PLAIN)
        assert text.startswith("# Managed by dcos-scaleio:") and "orphaned volumes" in text
        assert text.splitlines()[-3:] == ["[Unit]", "Wants=rexray.service", "After=rexray.service"]
        assert "rexray.service" in after(agent, "mesos-slave")
        assert agent.read(DCOS) is None
    assert dcos.read(DCOS).splitlines()[-2:] == ["Wants=dcos-rexray.service", "After=dcos-rexray.service"]
    assert "dcos-rexray.service" in after(dcos, "dcos-mesos-slave") and dcos.read(PLAIN) is None
    # A re-run finds everything in place: nothing written, no daemon-reload, the agents untouched.
    for res in each(agents, lambda a: dvdi(world, a)):
        assert res["changed"] is False, res["changes"]
        assert ran(res, "systemctl", "daemon-reload") == [] and ran(res, "systemctl", "restart") == []
    assert before == {a.name: since(a, "dcos-mesos-slave" if a.flavour == "dcos" else "mesos-slave") for a in agents}


def test_a_missing_or_unloaded_drop_in_alone_costs_a_reload_not_a_restart(world, agents):
    ubuntu, rhel, _ = agents
    # Missing (an agent configured before this drop-in existed): written, reloaded, nothing else changes.
    assert ubuntu.sh("rm", PLAIN).returncode == 0 and ubuntu.sh("systemctl", "daemon-reload").returncode == 0
    assert "rexray.service" not in after(ubuntu, "mesos-slave")
    res = dvdi(world, ubuntu)
    assert res["changes"] == [f"ordered mesos-slave after rexray ({PLAIN})"]
    assert len(ran(res, "systemctl", "daemon-reload")) == 1 and ran(res, "systemctl", "restart") == []
    assert "rexray.service" in after(ubuntu, "mesos-slave")
    # On disk but never loaded (a crash between the write and the reload): the reload alone is done.
    text = rhel.read(PLAIN)
    assert rhel.sh("rm", PLAIN).returncode == 0 and rhel.sh("systemctl", "daemon-reload").returncode == 0
    rhel.root.write_text(PLAIN, text)
    assert "rexray.service" not in after(rhel, "mesos-slave")
    res = dvdi(world, rhel)
    assert res["changes"] == [f"systemctl daemon-reload: systemd had not loaded {PLAIN}"]
    assert len(ran(res, "systemctl", "daemon-reload")) == 1 and ran(res, "systemctl", "restart") == []
    assert "rexray.service" in after(rhel, "mesos-slave") and rhel.read(PLAIN) == text


def test_uninstall_removes_our_drop_in_and_nothing_else(world, agents):
    ubuntu, rhel, dcos = agents
    ubuntu.root.write_text(OPERATOR, "[Unit]\nAfter=network-online.target\n")
    # A file at our path without our marker is the operator's: kept.
    dcos.root.write_text(DCOS, "[Unit]\nAfter=dcos-rexray.service\n")
    results = each(agents, lambda a: a.step("uninstall-dvdi", {"flavour": a.flavour}))
    for agent, res in zip(agents, results):
        assert res["status"] == "COMPLETE", res["reason"]
        removed = f"removed {DCOS if agent.flavour == 'dcos' else PLAIN}"
        assert (removed in res["changes"]) is (agent.flavour == "mesos")
    for agent in (ubuntu, rhel):
        assert agent.read(PLAIN) is None and "rexray.service" not in after(agent, "mesos-slave")
    assert ubuntu.read(OPERATOR) == "[Unit]\nAfter=network-online.target\n"
    assert "network-online.target" in after(ubuntu, "mesos-slave")
    assert dcos.read(DCOS) == "[Unit]\nAfter=dcos-rexray.service\n"
    for res in each(agents, lambda a: a.step("uninstall-dvdi", {"flavour": a.flavour})):
        assert res["status"] == "COMPLETE" and res["changed"] is False, res["changes"]
        assert ran(res, "systemctl", "daemon-reload") == []
