"""``mdm``: the MDM package with the right role (manager or tie-breaker), running, on 9011.

The role is chosen at install time by ``MDM_ROLE_IS_MANAGER=1|0`` and persisted as
``actor_role_is_manager`` in ``/opt/emc/scaleio/mdm/cfg/conf.txt``; a wrong role on an MDM that is
not yet part of a cluster is fixed by editing that line and restarting ``mdm`` (scaleio-commands.md
2.3). An MDM already in a cluster is never re-roled here.
"""
from __future__ import annotations

from .. import services, validate as v
from ..step import Step, StepError
from . import scli
from .common import SCALEIO, spec
from .deps import MDM as MDM_PREREQUISITES, install_prerequisites, missing_prerequisites

MDM_CONF = "/opt/emc/scaleio/mdm/cfg/conf.txt"
MDM_PORT = 9011


def conf_value(text: str | None, key: str) -> str | None:
    for line in (text or "").splitlines():
        k, sep, value = line.partition("=")
        if sep and k.strip() == key:
            return value.strip()
    return None


def set_conf_value(text: str | None, key: str, value: str) -> str:
    lines, done = [], False
    for line in (text or "").splitlines():
        if line.partition("=")[0].strip() == key:
            if not done:
                lines.append(f"{key}={value}")
                done = True
        else:
            lines.append(line)
    if not done:
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


class Mdm(Step):
    NAME = "mdm"
    PARAMS = spec(SCALEIO, role=(v.one_of("primary", "secondary", "tiebreaker"), True),
                  manager=(v.boolean, False))

    def manager_flag(self, ctx) -> str:
        manager = ctx.params.get("manager")
        if manager is None:
            manager = ctx.params["role"] != "tiebreaker"
        return "1" if manager else "0"

    def check(self, ctx):
        todo = ["prerequisites"] if missing_prerequisites(ctx, (MDM_PREREQUISITES,)) else []
        from ..packages import version_matches
        have = ctx.pm.installed_version(ctx.pm.name("mdm"))
        ctx.fact("mdm_version", have)
        if not version_matches(have, ctx.params["scaleio_version"]):
            todo.append("package")
        elif conf_value(ctx.host.read_text(MDM_CONF), "actor_role_is_manager") != self.manager_flag(ctx):
            todo.append("role")
        if not services.is_active(ctx.host, "mdm") or services.restart_pending(ctx.host, "mdm"):
            todo.append("service")
        return todo

    def act(self, ctx, todo):
        flag = self.manager_flag(ctx)
        if "prerequisites" in todo:
            install_prerequisites(ctx, missing_prerequisites(ctx, (MDM_PREREQUISITES,)))
        if "package" in todo:
            ctx.pm.ensure(ctx, "mdm", ctx.params["scaleio_version"], env={"MDM_ROLE_IS_MANAGER": flag},
                          verify_tls=ctx.params["artifact_tls_verify"])
        current = conf_value(ctx.host.read_text(MDM_CONF), "actor_role_is_manager")
        if current != flag:
            if services.is_active(ctx.host, "mdm") and scli.query_cluster(ctx.host).attached:
                raise StepError(f"this MDM is part of a cluster with actor_role_is_manager={current}, "
                                f"but the {ctx.params['role']} role needs {flag}; not changing a formed "
                                "cluster's member", retryable=False)
            services.mark_restart(ctx.host, "mdm")
            ctx.host.write_text(MDM_CONF, set_conf_value(ctx.host.read_text(MDM_CONF),
                                                         "actor_role_is_manager", flag), 0o644)
            ctx.changed(f"set actor_role_is_manager={flag}")
        services.settle(ctx.host, ctx, "mdm", "role changed")

    def verify(self, ctx):
        if not services.is_active(ctx.host, "mdm"):
            raise StepError("service mdm is not active")
        role = conf_value(ctx.host.read_text(MDM_CONF), "actor_role_is_manager")
        if role != self.manager_flag(ctx):
            raise StepError(f"{MDM_CONF} has actor_role_is_manager={role}, expected {self.manager_flag(ctx)}")
        if not services.wait_port(MDM_PORT, 30):
            raise StepError(f"the MDM does not listen on TCP {MDM_PORT}")
        ctx.fact("role", ctx.params["role"])
