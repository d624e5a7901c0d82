"""Reverse steps (scaleio-commands.md section 9), each idempotent like the forward ones.

Cluster-side removals (``scli --remove_sdc``/``--remove_sds``, volumes, pools) are the
scheduler's; these only undo what the host steps did on this host:

- ``uninstall-mdm|sds|sdc|gateway``: stop the services, remove the packages (``I_AM_SURE=1``);
  files the packages' scripts created (conf.txt, drv_cfg.txt) stay, as with the real packages.
- ``uninstall-rexray``: plain Mesos: stop, remove the package, our config and drop-in; DC/OS:
  restore the recorded ``rexray.conf`` and restart ``dcos-rexray``.
- ``uninstall-dvdi``: restore the agent flags recorded before the first change, remove the module
  files we installed, our agent-unit drop-in ordering it after REX-Ray (only a file carrying our
  marker, then ``daemon-reload``) and dvdcli; reports ``restart: "agent"`` when flags changed back.
"""
from __future__ import annotations

import json

from .. import agentorder, services, validate as v
from ..agentflags import AGENT_UNIT, AgentFlags
from ..step import Step, StepError
from . import dvdi, rexray
from .common import COMMON, spec

SURE = {"I_AM_SURE": "1"}


class RemovePackages(Step):
    COMPONENTS: tuple = ()
    UNITS: tuple = ()
    PARAMS = spec(COMMON)

    def names(self, ctx):
        return [ctx.pm.name(c) for c in self.COMPONENTS]

    def check(self, ctx):
        return [n for n in self.names(ctx) if ctx.pm.installed_version(n) is not None]

    def act(self, ctx, todo):
        for unit in self.UNITS:
            services.stop_disable(ctx.host, ctx, unit)
        for name in reversed(self.names(ctx)):
            if ctx.pm.remove(name, env=SURE):
                ctx.changed(f"removed {name}")

    def verify(self, ctx):
        left = self.check(ctx)
        if left:
            raise StepError(f"still installed: {' '.join(left)}")


class UninstallMdm(RemovePackages):
    NAME, COMPONENTS, UNITS = "uninstall-mdm", ("mdm",), ("mdm",)


class UninstallSds(RemovePackages):
    """Also, at the data uninstall level, wipes the signatures (``wipefs -a``) of the devices the
    scheduler names in ``wipe_devices`` (those this SDS contributed), once the SDS is gone."""
    NAME, COMPONENTS, UNITS = "uninstall-sds", ("sds",), ("sds",)
    PARAMS = spec(COMMON, wipe_devices=(v.device_list, False, []))

    def signed(self, ctx) -> list:
        """The devices to wipe that still carry a signature blkid recognises."""
        return [d for d in ctx.params["wipe_devices"] if ctx.host.run(["blkid", "-p", d], timeout=60).rc == 0]

    def check(self, ctx):
        return super().check(ctx) + [f"wipe {d}" for d in self.signed(ctx)]

    def act(self, ctx, todo):
        super().act(ctx, todo)
        for dev in self.signed(ctx):
            r = ctx.host.run(["wipefs", "-a", dev], timeout=300)
            if not r.ok:
                raise StepError(ctx.host.failure(r, f"wipefs -a {dev}"))
            ctx.changed(f"wiped the signatures of {dev}")


class UninstallSdc(RemovePackages):
    NAME, COMPONENTS, UNITS = "uninstall-sdc", ("sdc",), ("scini",)


class UninstallGateway(RemovePackages):
    NAME, COMPONENTS, UNITS = "uninstall-gateway", ("lia", "gateway"), ("scaleio-gateway", "lia")


class UninstallRexray(Step):
    NAME = "uninstall-rexray"
    PARAMS = spec(COMMON)

    def check(self, ctx):
        host = ctx.host
        if ctx.params["flavour"] == "dcos":
            backup = host.read_text(rexray.DCOS_BACKUP)
            return ["restore"] if backup is not None else []
        todo = [p for p in (rexray.CONFIG, rexray.DROP_IN) if host.exists(p)]
        if ctx.pm.installed_version("rexray") is not None:
            todo.append("package")
        return todo

    def act(self, ctx, todo):
        host = ctx.host
        if ctx.params["flavour"] == "dcos":
            host.write_text(rexray.DCOS_CONFIG, host.read_text(rexray.DCOS_BACKUP), 0o644)
            ctx.changed(f"restored {rexray.DCOS_CONFIG}")
            if services.is_active(host, rexray.DCOS_UNIT):
                # Whether DC/OS's own configuration lets dcos-rexray run is DC/OS's business: the
                # restart is requested, its outcome only reported.
                host.run(["systemctl", "restart", rexray.DCOS_UNIT], timeout=120)
                ctx.changed(f"restarted {rexray.DCOS_UNIT}")
                ctx.fact("dcos_rexray", services.state(host, rexray.DCOS_UNIT))
            host.remove(rexray.DCOS_BACKUP)
            return
        services.stop_disable(host, ctx, "rexray")
        if ctx.pm.remove("rexray"):
            ctx.changed("removed rexray")
        for path in (rexray.CONFIG, rexray.DROP_IN):
            if host.remove(path):
                ctx.changed(f"removed {path}")

    def verify(self, ctx):
        left = self.check(ctx)
        if left:
            raise StepError(f"REX-Ray not fully removed: {', '.join(left)}")


class UninstallDvdi(Step):
    NAME = "uninstall-dvdi"
    PARAMS = spec(COMMON)

    def check(self, ctx):
        host = ctx.host
        todo = []
        if "original" in dvdi.load_state(host):
            todo.append("flags")
        if host.exists(dvdi.MODULE_JSON):
            todo.append("module")
        if agentorder.ours(host):
            todo.append("agent-order")
        if ctx.params["flavour"] != "dcos" and ctx.pm.installed_version("dvdcli") is not None:
            todo.append("dvdcli")
        return todo

    def act(self, ctx, todo):
        host = ctx.host
        state = dvdi.load_state(host)
        if "original" in state:
            flags = AgentFlags(host, state.get("flavour", ctx.params["flavour"]))
            changed = [k for k, value in state["original"].items() if flags.set(k, value)]
            if changed:
                ctx.changed("restored agent flags " + ", ".join(changed))
                ctx.need_restart("agent", f"the agent must restart ({AGENT_UNIT[flags.flavour]}) to drop "
                                          "the volume isolator")
            host.remove(dvdi.STATE_FILE)
        try:
            libs = json.loads(host.read_text(dvdi.MODULE_JSON) or "{}").get("libraries") or []
        except ValueError:
            libs = []
        # Only the module files we install (by their fixed name pattern), then the JSON that names them.
        ours = [lib.get("file") for lib in libs if isinstance(lib, dict)
                and str(lib.get("file", "")).startswith("/usr/lib/libmesos_dvdi_isolator-")]
        for path in ours + [dvdi.MODULE_JSON]:
            if host.remove(path):
                ctx.changed(f"removed {path}")
        agentorder.remove(host, ctx)
        if ctx.params["flavour"] != "dcos" and ctx.pm.remove("dvdcli"):
            ctx.changed("removed dvdcli")

    def verify(self, ctx):
        left = self.check(ctx)
        if left:
            raise StepError(f"DVDI not fully removed: {', '.join(left)}")
