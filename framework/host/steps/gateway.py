"""``gateway`` (MDM nodes): LIA and the ScaleIO gateway, configured with the MDM addresses.

- LIA is installed with ``TOKEN=<admin password>``, the gateway with
  ``GATEWAY_ADMIN_PASSWORD=<admin password>`` (and ``MDM_IP``), both in the command's environment,
  never in argv (scaleio-commands.md 2.3).
- ``gatewayUser.properties``: ``mdm.ip.addresses=<ip1>;<ip2>`` and
  ``security.bypass_certificate_check=true``, other lines kept, mode 0600 (it holds a password hash).
- ``catalina.properties``: ``ssl.port=<port>``.
- ``scaleio-gateway`` is restarted only when one of those files changed, and must then listen on
  the port.
"""
from __future__ import annotations

from .. import services, validate as v
from ..step import Step, StepError
from .common import SCALEIO, spec
from .mdm import conf_value, set_conf_value

GATEWAY_DIR = "/opt/emc/scaleio/gateway"
USER_PROPS = GATEWAY_DIR + "/webapps/ROOT/WEB-INF/classes/gatewayUser.properties"
CATALINA_PROPS = GATEWAY_DIR + "/conf/catalina.properties"
UNIT = "scaleio-gateway"


class Gateway(Step):
    NAME = "gateway"
    PARAMS = spec(SCALEIO, mdm_ips=(v.ip_list, True), port=(v.port, False, 443),
                  role=(v.one_of("primary", "secondary", "tiebreaker"), False),
                  manager=(v.boolean, False))

    def wanted_files(self, ctx) -> dict:
        """path -> (key -> value, mode)."""
        p = ctx.params
        return {USER_PROPS: ({"mdm.ip.addresses": ";".join(p["mdm_ips"]),
                              "security.bypass_certificate_check": "true"}, 0o600),
                CATALINA_PROPS: ({"ssl.port": str(p["port"])}, 0o644)}

    def stale_files(self, ctx) -> list:
        out = []
        for path, (keys, mode) in self.wanted_files(ctx).items():
            text = ctx.host.read_text(path)
            if any(conf_value(text, k) != val for k, val in keys.items()) or ctx.host.mode(path) != mode:
                out.append(path)
        return out

    def check(self, ctx):
        from ..packages import version_matches
        todo = []
        versions = ctx.pm.installed_versions([ctx.pm.name(c) for c in ("lia", "gateway")])
        for comp in ("lia", "gateway"):
            have = versions.get(ctx.pm.name(comp))
            ctx.fact(f"{comp}_version", have)
            if not version_matches(have, ctx.params["scaleio_version"]):
                todo.append(comp)
        if not todo and self.stale_files(ctx):
            todo.append("config")
        for unit in ("lia", UNIT):
            if not services.is_active(ctx.host, unit):
                todo.append(unit)
        return todo

    def act(self, ctx, todo):
        p, host = ctx.params, ctx.host
        password = ctx.secret("admin_password")
        tls = p["artifact_tls_verify"]
        ctx.pm.ensure(ctx, "lia", p["scaleio_version"], env={"TOKEN": password}, verify_tls=tls)
        ctx.pm.ensure(ctx, "gateway", p["scaleio_version"],
                                     env={"GATEWAY_ADMIN_PASSWORD": password, "MDM_IP": ",".join(p["mdm_ips"])},
                                     verify_tls=tls)
        changed = []
        for path, (keys, mode) in self.wanted_files(ctx).items():
            text = host.read_text(path)
            for key, value in keys.items():
                text = set_conf_value(text, key, value)
            if host.write_text(path, text, mode):
                changed.append(path.rsplit("/", 1)[-1])
        if changed:
            ctx.changed("configured " + ", ".join(changed))
        services.ensure_running(host, ctx, "lia")
        if changed and services.is_active(host, UNIT):
            services.restart(host, ctx, UNIT, "configuration changed")
        else:
            services.ensure_running(host, ctx, UNIT)

    def verify(self, ctx):
        stale = self.stale_files(ctx)
        if stale:
            raise StepError(f"gateway configuration not as wanted: {', '.join(stale)}")
        for unit in ("lia", UNIT):
            if not services.is_active(ctx.host, unit):
                raise StepError(f"service {unit} is not active")
        if not services.wait_port(ctx.params["port"], 30):
            raise StepError(f"the gateway does not listen on TCP {ctx.params['port']}")
        ctx.fact("gateway_port", ctx.params["port"])
