"""``sdc`` on a host whose running kernel the SDC package has no ``scini`` module for: a clear,
non-retryable ERROR, and once a supported kernel is installed, the hint that a reboot is needed."""
import pytest

from .conftest import VERSION

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

OLD_KERNEL = "3.10.0-693.el7.x86_64"
GOOD_KERNEL = "3.10.0-1160.el7.x86_64"


def test_unsupported_kernel_is_reported_with_the_reboot_hint(world):
    agent = world.agent("oldkernel", "rhel", kernel=OLD_KERNEL)
    params = {"os_family": "rhel", "scaleio_version": VERSION, "mdm_ips": ["127.0.0.9"],
              "packages": world.packages("rhel", "sdc")}
    assert agent.step("deps", {"os_family": "rhel"})["status"] == "COMPLETE"
    res = agent.step("sdc", params)
    assert res["status"] == "ERROR" and res["retryable"] is False and res["_rc"] == 1, res["reason"]
    assert f"no scini module for the running kernel {OLD_KERNEL}" in res["reason"]
    assert res["facts"]["kernel"] == OLD_KERNEL and res["facts"]["reboot_needed"] is False
    assert not agent.active("scini")
    assert agent.sh("yum", "-y", "install", f"kernel-{GOOD_KERNEL}").returncode == 0
    res = agent.step("sdc", params)
    assert res["status"] == "ERROR" and res["retryable"] is False
    assert "a reboot into it would be needed" in res["reason"]
    assert res["facts"]["reboot_needed"] is True and res["facts"]["reboot_kernel"] == GOOD_KERNEL
    assert not any("rpm -Uvh" in c["argv"] for c in res["commands"])      # the package stays installed


def test_allowed_reboot_is_requested_and_the_rebooted_host_loads_scini(world):
    from dcos_scaleio.sandbox import hosts
    agent = world.agent("rebootme", "rhel", kernel=OLD_KERNEL)
    params = {"os_family": "rhel", "scaleio_version": VERSION, "mdm_ips": ["127.0.0.9"],
              "packages": world.packages("rhel", "sdc"), "allow_reboot": True}
    assert agent.step("deps", {"os_family": "rhel"})["status"] == "COMPLETE"
    # No supported kernel installed: a reboot would not help, so none is asked for.
    res = agent.step("sdc", params)
    assert res["status"] == "ERROR" and res["restart"] is None and res["facts"]["reboot_needed"] is False
    assert agent.sh("yum", "-y", "install", f"kernel-{GOOD_KERNEL}").returncode == 0
    res = agent.step("sdc", params)
    assert res["status"] == "COMPLETE" and res["restart"] == "reboot", res["reason"]
    assert "a reboot into it would be needed" in res["restart_reason"]
    assert res["facts"]["reboot_kernel"] == GOOD_KERNEL
    # What `systemctl reboot` does on a real host (the scheduler's reboot task): boot the new kernel.
    agent.root.reboot()
    assert hosts.boot(agent.root) == []
    assert agent.sh("uname", "-r").stdout.strip() == GOOD_KERNEL
    res = agent.step("sdc", params)
    assert res["restart"] is None
    assert agent.active("scini")                      # loads now; MDM 127.0.0.9 does not exist here
    assert "kernel" not in res["reason"], res["reason"]
