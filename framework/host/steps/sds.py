"""``sds``: the SDS package, its service running and listening on TCP 7072.

Registration with the cluster and devices are cluster steps run by the scheduler, not here.
"""
from __future__ import annotations

from .. import services
from ..packages import version_matches
from ..step import Step, StepError
from .common import SCALEIO, spec

SDS_PORT = 7072


class Sds(Step):
    NAME = "sds"
    PARAMS = spec(SCALEIO)

    def check(self, ctx):
        todo = []
        have = ctx.pm.installed_version(ctx.pm.name("sds"))
        ctx.fact("sds_version", have)
        if not version_matches(have, ctx.params["scaleio_version"]):
            todo.append("package")
        if not services.is_active(ctx.host, "sds"):
            todo.append("service")
        return todo

    def act(self, ctx, todo):
        ctx.pm.ensure(ctx, "sds", ctx.params["scaleio_version"], verify_tls=ctx.params["artifact_tls_verify"])
        services.ensure_running(ctx.host, ctx, "sds")

    def verify(self, ctx):
        if not services.is_active(ctx.host, "sds"):
            raise StepError("service sds is not active")
        if not services.wait_port(SDS_PORT, 30):
            raise StepError(f"the SDS does not listen on TCP {SDS_PORT}")
