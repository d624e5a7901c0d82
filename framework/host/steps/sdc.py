"""``sdc``: the SDC package (``MDM_IP`` at install), the ``scini`` driver loaded, and the MDMs
configured persistently with ``drv_cfg --add_mdm --ip .. --file <drv_cfg.txt>`` (or
``--mod_mdm_ip`` when the system's addresses changed), verified connected with
``drv_cfg --query_mdms`` (scaleio-commands.md section 4 and phase 3a/3b).

When ``scini`` cannot start because the SDC package has no module for the running kernel, the
step fails (not retryable) saying so, and whether a kernel the package supports is installed
(then a reboot into it would be needed: ``reboot_needed`` in the facts). With ``allow_reboot``
(the operator's ``agents.allow_reboot``) and such a kernel installed, the step instead completes
with ``restart: "reboot"`` and the reason, leaving the MDM configuration for its next run; with
``self_restart`` (the scheduler's reboot task) it reboots the host through its init
(``systemctl reboot``) and does not return unless that fails.
"""
from __future__ import annotations

import os
import re

from .. import services, validate as v
from ..packages import version_matches
from ..step import Step, StepError
from .common import SCALEIO, spec

DRV_CFG = "/opt/emc/scaleio/sdc/bin/drv_cfg"
DRV_CFG_TXT = {2: "/bin/emc/scaleio/drv_cfg.txt", 3: "/etc/emc/scaleio/drv_cfg.txt"}
# Where scini modules for a kernel release K can be: modprobe's tree /lib/modules/K (the SDC package
# installs one per supported kernel), driver_sync's cache, and older packages' own module directory.
MODULE_DIRS = ("/lib/modules", "/bin/emc/scaleio/scini_sync/driver_cache", "/opt/emc/scaleio/sdc/modules")
CONNECT_TIMEOUT_S = 20.0
ZERO_ID = re.compile(r"^0+$")


def drv_cfg_txt(version: str) -> str:
    """3.x keeps drv_cfg.txt in /etc/emc/scaleio, 2.x in /bin/emc/scaleio; an existing file wins."""
    major = 2 if version.startswith("2") else 3
    wanted, other = DRV_CFG_TXT[major], DRV_CFG_TXT[5 - major]
    return other if not os.path.exists(wanted) and os.path.exists(other) else wanted


def file_systems(text: str | None) -> list:
    return [sorted(p for p in line.split(None, 1)[1].split(",") if p)
            for line in (text or "").splitlines() if line.startswith("mdm ") and len(line.split()) > 1]


def query_mdms(host) -> list:
    """[{"ips": [...], "system_id": str, "connected": bool}] from ``drv_cfg --query_mdms``."""
    r = host.run([DRV_CFG, "--query_mdms"], timeout=60)
    if not r.ok:
        raise StepError(host.failure(r, "drv_cfg --query_mdms"))
    out = []
    for line in r.out.splitlines():
        m = re.match(r"\s*MDM-ID (\S+) SDC ID (\S+) .*?IPs (.*)$", line)
        if m:
            ips = re.findall(r"\[\d+\]-(\S+)", m.group(3))
            out.append({"ips": ips, "system_id": m.group(1),
                        "connected": not ZERO_ID.match(m.group(1)) and not ZERO_ID.match(m.group(2))})
    return out


def kernels_with_scini() -> set:
    """Kernel releases some scini.ko is available for (in any of :data:`MODULE_DIRS`)."""
    out = set()
    for base in MODULE_DIRS:
        try:
            kernels = os.listdir(base)
        except OSError:
            continue
        for kernel in kernels:
            for dirpath, dirnames, files in os.walk(os.path.join(base, kernel)):
                if "scini.ko" in files:
                    out.add(kernel)
                    break
                if dirpath.count("/") - base.count("/") >= 4:
                    dirnames[:] = []
    return out


def kernel_diagnosis(host) -> tuple[str, dict]:
    """Why scini may not load: (reason, facts)."""
    kernel = host.kernel()
    supported = kernels_with_scini()
    installed = set()
    for name in (os.listdir("/boot") if os.path.isdir("/boot") else []):
        if name.startswith("vmlinuz-"):
            installed.add(name[len("vmlinuz-"):])
    facts = {"kernel": kernel, "installed_kernels": sorted(installed)}
    if kernel in supported:
        return f"scini does not start although a scini module exists for kernel {kernel}", facts
    usable = sorted(installed & supported)
    if usable:
        facts.update(reboot_needed=True, reboot_kernel=usable[-1])
        return (f"the SDC package has no scini module for the running kernel {kernel}; kernel {usable[-1]} is "
                f"installed and supported: a reboot into it would be needed"), facts
    facts["reboot_needed"] = False
    return (f"the SDC package has no scini module for the running kernel {kernel} and no supported kernel is "
            "installed (install one, or configure driver_sync)"), facts


def scini_loaded(host) -> bool:
    r = host.run(["lsmod"], timeout=60)
    if not r.ok:
        raise StepError(host.failure(r, "lsmod"))
    return any(line.split()[:1] == ["scini"] for line in r.out.splitlines())


REBOOT_WAIT_S = 300.0


def reboot(host, ctx, why: str) -> None:
    """Reboot the host through its init. Returns only by raising: a refused reboot, or a host still
    up after REBOOT_WAIT_S (this process dies with the host otherwise)."""
    ctx.changed(f"rebooting the host: {why}")
    r = host.run(["systemctl", "reboot"], timeout=120)
    if not r.ok:
        raise StepError(host.failure(r, "systemctl reboot"))
    services.wait_until(lambda: False, REBOOT_WAIT_S, 1.0)
    raise StepError(f"the host did not reboot within {REBOOT_WAIT_S:.0f} s of systemctl reboot")


class Sdc(Step):
    NAME = "sdc"
    PARAMS = spec(SCALEIO, mdm_ips=(v.ip_list, True), allow_reboot=(v.boolean, False, False),
                  self_restart=(v.boolean, False, False))

    def wanted(self, ctx):
        return sorted(ctx.params["mdm_ips"])

    def check(self, ctx):
        todo = []
        have = ctx.pm.installed_version(ctx.pm.name("sdc"))
        ctx.fact("sdc_version", have)
        if not version_matches(have, ctx.params["scaleio_version"]):
            return ["package", "scini", "mdms"]
        if not services.is_active(ctx.host, "scini"):
            return ["scini", "mdms"]
        path = drv_cfg_txt(ctx.params["scaleio_version"])
        if self.wanted(ctx) not in file_systems(ctx.host.read_text(path)):
            todo.append("mdms")
        elif not any(sorted(s["ips"]) == self.wanted(ctx) for s in query_mdms(ctx.host)):
            todo.append("mdms")
        return todo

    def act(self, ctx, todo):
        p, host = ctx.params, ctx.host
        ctx.pm.ensure(ctx, "sdc", p["scaleio_version"], env={"MDM_IP": ",".join(p["mdm_ips"])},
                      verify_tls=p["artifact_tls_verify"])
        if not services.is_active(host, "scini"):
            try:
                services.ensure_running(host, ctx, "scini", timeout_s=15)
            except StepError:
                reason, facts = kernel_diagnosis(host)
                if not (facts.get("reboot_needed") and p["allow_reboot"]):
                    raise StepError(reason, retryable=False, **facts) from None
                for key, value in facts.items():
                    ctx.fact(key, value)
                if p["self_restart"]:
                    reboot(host, ctx, reason)
                ctx.need_restart("reboot", reason)
                return
        self.configure_mdms(ctx)

    def configure_mdms(self, ctx):
        host, wanted = ctx.host, self.wanted(ctx)
        path = drv_cfg_txt(ctx.params["scaleio_version"])
        running = query_mdms(host)
        in_runtime = any(sorted(s["ips"]) == wanted for s in running)
        in_file = wanted in file_systems(host.read_text(path))
        if in_runtime and in_file:
            return
        ips = ",".join(ctx.params["mdm_ips"])
        overlap = next((s for s in running if set(s["ips"]) & set(wanted) and sorted(s["ips"]) != wanted), None)
        if overlap is not None:
            argv = [DRV_CFG, "--mod_mdm_ip", "--ip", overlap["ips"][0], "--new_mdm_ip", ips, "--file", path]
            what = f"changed the SDC's MDM addresses {','.join(overlap['ips'])} -> {ips}"
        else:
            argv = [DRV_CFG, "--add_mdm", "--ip", ips, "--file", path]
            what = f"added MDMs {ips} to the SDC ({path})"
        r = host.run(argv, timeout=120)
        if not r.ok:
            raise StepError(host.failure(r, f"drv_cfg {argv[1]}"))
        ctx.changed(what)

    def verify(self, ctx):
        if ctx.restart == "reboot":
            return          # verified by the next run, after the reboot
        host, wanted = ctx.host, self.wanted(ctx)
        if not services.is_active(host, "scini"):
            raise StepError("service scini is not active")
        if not scini_loaded(host):
            reason, facts = kernel_diagnosis(host)
            raise StepError(f"the scini module is not loaded (lsmod): {reason}", retryable=False, **facts)
        path = drv_cfg_txt(ctx.params["scaleio_version"])
        if wanted not in file_systems(host.read_text(path)):
            raise StepError(f"{path} does not list the MDMs {','.join(wanted)} (not persistent)")
        state = {}

        def connected():
            state["mdms"] = query_mdms(host)
            return any(sorted(s["ips"]) == wanted and s["connected"] for s in state["mdms"])

        if not services.wait_until(connected, CONNECT_TIMEOUT_S, 0.5):
            raise StepError(f"the SDC is not connected to the MDMs {','.join(wanted)} "
                            f"(drv_cfg --query_mdms: {state.get('mdms')})")
        guid = host.run([DRV_CFG, "--query_guid"], timeout=60)
        if not guid.ok or not guid.out.strip():
            raise StepError(host.failure(guid, "drv_cfg --query_guid"))
        ctx.fact("sdc_guid", guid.out.strip().splitlines()[-1])
        ctx.fact("system_id", next(s["system_id"] for s in state["mdms"] if sorted(s["ips"]) == wanted))
        ctx.fact("drv_cfg_file", path)
