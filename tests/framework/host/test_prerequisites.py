"""Regression: deps may run on an agent before it is chosen as an MDM (``mdm`` false, e.g. it came
up before the MDM placement was decided). The mdm and gateway steps then install the MDM and
gateway prerequisites themselves instead of failing on the gateway package's Java dependency."""
import pytest

from .conftest import PASSWORD, VERSION

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

JAVA = {"ubuntu": "openjdk-8-jre", "rhel": "java-1.8.0-openjdk"}


def _params(world, agent, *components, **extra):
    return {"hostname": agent.name, "os_family": agent.family, "flavour": agent.flavour,
            "scaleio_version": VERSION.split("-")[0], "packages": world.packages(agent.family, *components), **extra}


def _installed(agent, name) -> bool:
    argv = ["dpkg-query", "-W", name] if agent.family == "ubuntu" else ["rpm", "-q", name]
    return agent.sh(*argv).returncode == 0


@pytest.mark.parametrize("family", ["rhel"])
def test_mdm_and_gateway_install_their_prerequisites_after_a_data_deps(world, family):
    agent = world.agent("late-mdm", family)
    res = agent.step("deps", _params(world, agent, mdm=False))
    assert res["status"] == "COMPLETE", res["reason"]
    assert not _installed(agent, JAVA[family])
    res = agent.step("mdm", _params(world, agent, "mdm", role="primary"))
    assert res["status"] == "COMPLETE", (res["reason"], res["_stderr"][-2000:])
    assert any("prerequisites" in c for c in res["changes"]), res["changes"]
    # The gateway step gets past its packages (the Java dependency is there now); its final login
    # check needs an MDM cluster, which this test does not build.
    res = agent.step("gateway", _params(world, agent, "lia", "gateway", mdm_ips=[agent.ip], port=8443),
                     {"admin_password": PASSWORD})
    assert _installed(agent, JAVA[family]), (res["reason"], res["_stderr"][-2000:])
    assert _installed(agent, "EMC-ScaleIO-gateway"), res["reason"]
    assert "dependenc" not in res["reason"].lower(), res["reason"]
