"""``rexray``: REX-Ray with the ScaleIO driver, configured deterministically (scaleio-commands.md 6).

- Plain Mesos agents: the ``rexray`` package at the wanted version (from the configured artifact,
  sha256-checked), ``/etc/rexray/config.yml`` rendered from the parameters (mode 0600: it holds the
  gateway password), the unit ordered after ``scini`` (a drop-in is added if the package's unit
  lacks it), started once ``scini`` runs, restarted only when its config changed.
- DC/OS agents ship ``dcos-rexray``: the same config goes to ``/opt/mesosphere/etc/rexray.conf``
  (the unit copies it over ``/etc/rexray/config.yml`` at each start), the original is kept in
  ``/var/lib/dcos-scaleio/rexray.conf.orig`` for uninstall, and no second REX-Ray is installed.

Verified by the service being active and ``rexray volume ls`` exiting 0.
"""
from __future__ import annotations

import re

from .. import services, validate as v, yamltext
from ..packages import version_matches
from ..step import Step, StepError
from .common import COMMON, spec

CONFIG = "/etc/rexray/config.yml"
DCOS_CONFIG = "/opt/mesosphere/etc/rexray.conf"
DCOS_BIN = "/opt/mesosphere/bin/rexray"
DCOS_UNIT = "dcos-rexray"
UNIT = "rexray"
STATE_DIR = "/var/lib/dcos-scaleio"
DCOS_BACKUP = STATE_DIR + "/rexray.conf.orig"
DROP_IN = "/etc/systemd/system/rexray.service.d/10-after-scini.conf"
HEX16 = re.compile(r"^[0-9a-f]{16}$")
VERIFY_TIMEOUT_S = 20.0


def _system_id(value):
    if value == "":
        return ""
    if not isinstance(value, str) or not HEX16.fullmatch(value):
        raise v._Bad("must be a ScaleIO system ID (16 lowercase hex digits)")
    return value


def _https_url(value):
    value = v.url(value)
    if not value.startswith("https://"):
        raise v._Bad("must be an https:// URL")
    return value


class Rexray(Step):
    NAME = "rexray"
    PARAMS = spec(COMMON, gateway_endpoint=(_https_url, True), system_name=(v.scaleio_name, False),
                  system_id=(_system_id, False, ""), protection_domain=(v.scaleio_name, True),
                  storage_pool=(v.scaleio_name, True), version=(v.semver, False),
                  tls_verify=(v.boolean, False, True), thin_provisioning=(v.boolean, False, True),
                  mount_preempt=(v.boolean, False, True), ignore_used_count=(v.boolean, False, True),
                  log_level=(v.one_of("debug", "info", "warn", "error"), False, "warn"),
                  user=(v.scaleio_name, False, "admin"),
                  packages=(v.packages, False, {}))

    # ------------------------------------------------------------------ config
    def render(self, ctx) -> str:
        p = ctx.params
        endpoint = p["gateway_endpoint"].rstrip("/")
        if not endpoint.endswith("/api"):
            endpoint += "/api"
        rexray = {"logLevel": p["log_level"]}
        if self.dcos(ctx):
            # DC/OS docs: keep REX-Ray's admin port off the task port range.
            rexray["modules"] = {"default-admin": {"host": "tcp://127.0.0.1:61003"}}
        sio = {"endpoint": endpoint, "insecure": not p["tls_verify"], "userName": p["user"],
               "password": ctx.secret("admin_password")}
        if p["system_id"]:
            sio["systemID"] = p["system_id"]
        elif p.get("system_name"):
            sio["systemName"] = p["system_name"]
        else:
            raise StepError("system_id or system_name is required", retryable=False)
        sio.update(protectionDomainName=p["protection_domain"], storagePoolName=p["storage_pool"],
                   thinOrThick="ThinProvisioned" if p["thin_provisioning"] else "ThickProvisioned")
        tree = {"rexray": rexray,
                "libstorage": {"service": "scaleio", "integration": {"volume": {"operations": {
                    "mount": {"preempt": p["mount_preempt"]},
                    "unmount": {"ignoreUsedCount": p["ignore_used_count"]}}}}},
                "scaleio": sio}
        return "# Managed by dcos-scaleio: changes are overwritten.\n" + yamltext.render(tree)

    def dcos(self, ctx) -> bool:
        return ctx.params["flavour"] == "dcos"

    def paths(self, ctx):
        """(config file, unit, rexray binary)."""
        return (DCOS_CONFIG, DCOS_UNIT, DCOS_BIN) if self.dcos(ctx) else (CONFIG, UNIT, "/usr/bin/rexray")

    # ------------------------------------------------------------------ contract
    def check(self, ctx):
        todo = []
        config, unit, binary = self.paths(ctx)
        if self.dcos(ctx):
            if not ctx.host.exists(binary):
                raise StepError(f"DC/OS flavour but {binary} is missing: is this a DC/OS agent?", retryable=False)
        else:
            have = ctx.pm.installed_version("rexray")
            ctx.fact("rexray_version", have)
            if not version_matches(have, ctx.params.get("version")):
                todo.append("package")
            if not self.ordered_after_scini(ctx):
                todo.append("unit-order")
        if ctx.host.read_text(config) != self.render(ctx) or ctx.host.mode(config) != 0o600:
            todo.append("config")
        if not services.is_active(ctx.host, unit) or services.restart_pending(ctx.host, unit):
            todo.append("service")
        return todo

    def ordered_after_scini(self, ctx) -> bool:
        text = (services.unit_text(ctx.host, "rexray") or "") + (ctx.host.read_text(DROP_IN) or "")
        return any(line.startswith("After=") and "scini" in line for line in text.splitlines())

    def act(self, ctx, todo):
        host = ctx.host
        config, unit, _ = self.paths(ctx)
        if not self.dcos(ctx):
            ctx.pm.ensure(ctx, "rexray", ctx.params.get("version"), verify_tls=ctx.params["artifact_tls_verify"])
            if not self.ordered_after_scini(ctx):
                host.write_text(DROP_IN, "[Unit]\nWants=scini.service\nAfter=scini.service\n", 0o644)
                host.run(["systemctl", "daemon-reload"], timeout=60)
                ctx.changed("ordered rexray after scini")
        elif not host.exists(DCOS_BACKUP) and host.exists(DCOS_CONFIG):
            # Keep DC/OS's own config once, before our first write, so uninstall can restore it.
            host.write_text(DCOS_BACKUP, host.read_text(DCOS_CONFIG), 0o600)
        text = self.render(ctx)
        if host.read_text(config) != text or host.mode(config) != 0o600:
            services.mark_restart(host, unit)
            host.write_text(config, text, 0o600)
            ctx.changed(f"wrote {config}")
        if not services.is_active(host, "scini"):
            raise StepError("scini (the SDC driver) is not running: REX-Ray starts after it (run the sdc step)")
        services.settle(host, ctx, unit, "configuration changed")

    def verify(self, ctx):
        host = ctx.host
        config, unit, binary = self.paths(ctx)
        if host.read_text(config) != self.render(ctx) or host.mode(config) != 0o600:
            raise StepError(f"{config} is not the rendered configuration with mode 0600")
        if not services.is_active(host, unit):
            raise StepError(f"service {unit} is not active")
        last = {}

        def lists():
            last["r"] = host.run([binary, "volume", "ls"], timeout=60)
            return last["r"].ok

        if not services.wait_until(lists, VERIFY_TIMEOUT_S, 0.5):
            raise StepError(host.failure(last["r"], "rexray volume ls"))
        ctx.fact("volumes_listed", max(0, len(last["r"].out.strip().splitlines()) - 1))
