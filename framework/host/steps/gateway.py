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

import warnings

from .. import services, validate as v
from ..hostcmd import local_address_for
from ..step import Step, StepError
from .common import SCALEIO, spec
from .deps import GATEWAY, MDM, install_prerequisites, missing_prerequisites
from .mdm import conf_value, set_conf_value

GATEWAY_DIR = "/opt/emc/scaleio/gateway"
USER_PROPS = GATEWAY_DIR + "/webapps/ROOT/WEB-INF/classes/gatewayUser.properties"
CATALINA_PROPS = GATEWAY_DIR + "/conf/catalina.properties"
UNIT = "scaleio-gateway"
PREREQUISITES = (MDM, GATEWAY)     # LIA and the gateway run on MDM agents only (see deps)


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
        todo = ["prerequisites"] if missing_prerequisites(ctx, PREREQUISITES) else []
        versions = ctx.pm.installed_versions([ctx.pm.name(c) for c in ("lia", "gateway")])
        for comp in ("lia", "gateway"):
            have = versions.get(ctx.pm.name(comp))
            ctx.fact(f"{comp}_version", have)
            if not version_matches(have, ctx.params["scaleio_version"]):
                todo.append(comp)
        if not todo and self.stale_files(ctx):
            todo.append("config")
        for unit in ("lia", UNIT):
            if not services.is_active(ctx.host, unit) or services.restart_pending(ctx.host, unit):
                todo.append(unit)
        return todo

    def act(self, ctx, todo):
        p, host = ctx.params, ctx.host
        password = ctx.secret("admin_password")
        tls = p["artifact_tls_verify"]
        if "prerequisites" in todo:
            install_prerequisites(ctx, missing_prerequisites(ctx, PREREQUISITES))
        ctx.pm.ensure(ctx, "lia", p["scaleio_version"], env={"TOKEN": password}, verify_tls=tls)
        ctx.pm.ensure(ctx, "gateway", p["scaleio_version"],
                                     env={"GATEWAY_ADMIN_PASSWORD": password, "MDM_IP": ",".join(p["mdm_ips"])},
                                     verify_tls=tls)
        changed = []
        for path, (keys, mode) in self.wanted_files(ctx).items():
            old = host.read_text(path)
            text = old
            for key, value in keys.items():
                text = set_conf_value(text, key, value)
            if text != old or host.mode(path) != mode:
                services.mark_restart(host, UNIT)
                host.write_text(path, text, mode)
                changed.append(path.rsplit("/", 1)[-1])
        if changed:
            ctx.changed("configured " + ", ".join(changed))
        services.ensure_running(host, ctx, "lia")
        services.settle(host, ctx, UNIT, "configuration changed")

    def verify(self, ctx):
        stale = self.stale_files(ctx)
        if stale:
            raise StepError(f"gateway configuration not as wanted: {', '.join(stale)}")
        for unit in ("lia", UNIT):
            if not services.is_active(ctx.host, unit):
                raise StepError(f"service {unit} is not active")
        port = ctx.params["port"]
        if not services.wait_port(port, 30):
            raise StepError(f"the gateway does not listen on TCP {port}")
        self.check_login(ctx, port)
        ctx.fact("gateway_port", port)

    @staticmethod
    def check_login(ctx, port: int, timeout_s: float = 30.0) -> None:
        """``GET https://<listen address>:<port>/api/login`` as admin must return a token (phase 3c).

        Certificate verification is off for this one request only: it goes to the gateway on this
        very host, whose certificate is its own self-signed one; what is checked is the password.
        """
        import requests
        import urllib3
        url = f"https://{local_address_for(port)}:{port}/api/login"
        last = {}

        def logged_in():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                    resp = requests.get(url, auth=("admin", ctx.secret("admin_password")), verify=False, timeout=10)
            except requests.RequestException as exc:
                last["why"] = f"{type(exc).__name__}"
                return False
            last["status"] = resp.status_code
            return resp.status_code in (200, 401, 403)

        if not services.wait_until(logged_in, timeout_s, 0.5):
            raise StepError(f"the gateway at {url} does not answer ({last})")
        if last["status"] != 200:
            raise StepError(f"the gateway at {url} refuses the configured admin password "
                            f"(HTTP {last['status']})", retryable=False)
