"""``dvdi``: dvdcli and the agent's volume isolator (scaleio-commands.md 7 and phase 5).

- dvdcli: the package on plain Mesos agents; DC/OS ships ``/opt/mesosphere/bin/dvdcli``.
- Isolator ``native`` (default): ``filesystem/linux`` and ``docker/volume`` appended to the agent's
  isolation (existing isolators kept, in order) and ``docker_volume_checkpoint_dir`` set.
  Isolator ``dvdi``: the module ``.so`` for the agent's exact Mesos version (sha256-checked) in
  ``/usr/lib``, ``/usr/lib/dvdi-mod.json`` (parameter ``work_dir`` = the agent's work dir),
  ``modules=file:///usr/lib/dvdi-mod.json`` and the module's isolator appended.
- Before the first flag change the agent's original values (where we write them) are recorded in
  ``/var/lib/dcos-scaleio/agent-flags.json`` so uninstall restores them exactly.
- The agent unit is ordered after REX-Ray (``rexray`` / DC/OS ``dcos-rexray``) by our drop-in
  ``/etc/systemd/system/<agent unit>.service.d/dcos-scaleio-rexray.conf`` (``Wants=`` + ``After=``,
  see ``agentorder``): the isolator unmounts orphaned volumes when the agent starts, which needs
  REX-Ray's socket. Written (+ ``daemon-reload``) before any agent restart of this step, so it costs
  no restart of its own; on an agent whose isolator config is already complete it only matters at
  the agent's next start.
- The new flags take effect only when the agent restarts. The step asks the running agent
  (``/flags``); until it runs with them, the result says ``restart: "agent"``. Only with
  ``self_restart: true`` does the step restart the agent unit itself.
"""
from __future__ import annotations

import json

from .. import agentorder, artifacts, services, validate as v
from ..agentflags import AGENT_UNIT, AgentFlags
from ..step import Step, StepError
from .common import COMMON, spec
from .rexray import DCOS_UNIT as DCOS_REXRAY_UNIT, UNIT as REXRAY_UNIT

STATE_FILE = "/var/lib/dcos-scaleio/agent-flags.json"
MODULE_NAME = "com_emccode_mesos_DockerVolumeDriverIsolator"
MODULE_JSON = "/usr/lib/dvdi-mod.json"
MODULES_FLAG = "file://" + MODULE_JSON
NATIVE = ["filesystem/linux", "docker/volume"]
TOUCHED = ("isolation", "modules", "docker_volume_checkpoint_dir")
DCOS_DVDCLI = "/opt/mesosphere/bin/dvdcli"


def module_path(mesos_version: str) -> str:
    return f"/usr/lib/libmesos_dvdi_isolator-{mesos_version}.so"


def load_state(host) -> dict:
    try:
        return json.loads(host.read_text(STATE_FILE) or "{}")
    except ValueError:
        return {}


def save_state(host, state: dict) -> None:
    host.write_text(STATE_FILE, json.dumps(state, indent=1, sort_keys=True) + "\n", 0o600)


class Dvdi(Step):
    NAME = "dvdi"
    PARAMS = spec(COMMON, isolator=(v.one_of("native", "dvdi"), False, "native"),
                  module=(v.optional_artifact, False), mesos_version=(v.mesos_version, False),
                  docker_volume_checkpoint_dir=(v.abs_path, False, "/var/lib/mesos/isolators/docker/volume"),
                  self_restart=(v.boolean, False, False), agent_unit=(v.one_of(*agentorder.AGENT_UNITS), False),
                  packages=(v.packages, False, {}), allow_restart=(v.boolean, False, False))

    # ------------------------------------------------------------------ wanted state
    def flags(self, ctx) -> AgentFlags:
        return AgentFlags(ctx.host, ctx.params["flavour"])

    def wanted_flags(self, ctx) -> dict:
        p, flags = ctx.params, self.flags(ctx)
        isolation = flags.isolation()
        add = NATIVE if p["isolator"] == "native" else [MODULE_NAME]
        missing = [i for i in add if i not in isolation]
        out = {"isolation": ",".join(isolation + missing)}
        if p["isolator"] == "native":
            # An agent that already runs docker/volume (modern DC/OS) is left alone: the checkpoint
            # dir is optional and changing it alone would cost an agent restart. Once we started
            # changing flags (recorded originals), we finish the set even after a crash.
            ours = p["docker_volume_checkpoint_dir"]
            if missing or "original" in load_state(ctx.host) or flags.get("docker_volume_checkpoint_dir") == ours:
                out["docker_volume_checkpoint_dir"] = ours
        else:
            out["modules"] = MODULES_FLAG
        return out

    def module_json(self, ctx) -> str:
        work_dir = self.flags(ctx).get("work_dir") or "/var/lib/mesos"
        doc = {"libraries": [{"file": module_path(ctx.params["mesos_version"]),
                              "modules": [{"name": MODULE_NAME,
                                           "parameters": [{"key": "work_dir", "value": work_dir}]}]}]}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    def agent_unit(self, ctx) -> str:
        return ctx.params.get("agent_unit") or AGENT_UNIT[ctx.params["flavour"]]

    def rexray_unit(self, ctx) -> str:
        return DCOS_REXRAY_UNIT if ctx.params["flavour"] == "dcos" else REXRAY_UNIT

    def dvdcli(self, ctx) -> str:
        return DCOS_DVDCLI if ctx.params["flavour"] == "dcos" else "/usr/bin/dvdcli"

    def validate_mode(self, ctx):
        p = ctx.params
        if p["isolator"] == "dvdi" and not (p.get("module") and p.get("mesos_version")):
            raise StepError("isolator dvdi needs the module (url, sha256) for this agent's exact Mesos version "
                            "and mesos_version", retryable=False)

    # ------------------------------------------------------------------ contract
    def check(self, ctx):
        self.validate_mode(ctx)
        todo = []
        host, p = ctx.host, ctx.params
        if p["flavour"] == "dcos":
            if not host.exists(DCOS_DVDCLI):
                raise StepError(f"DC/OS flavour but {DCOS_DVDCLI} is missing", retryable=False)
        elif ctx.pm.installed_version("dvdcli") is None:
            todo.append("dvdcli")
        if p["isolator"] == "dvdi" and (
                artifacts.sha256_file(module_path(p["mesos_version"])) != p["module"]["sha256"]
                or host.read_text(MODULE_JSON) != self.module_json(ctx)):
            todo.append("module")
        if not agentorder.in_place(host, self.agent_unit(ctx), self.rexray_unit(ctx)):
            todo.append("agent-order")
        flags = self.flags(ctx)
        if any(flags.get(k) != val for k, val in self.wanted_flags(ctx).items()):
            todo.append("flags")
        if load_state(host).get("restart_pending") or self.agent_runs_with(ctx) is False:
            todo.append("agent")
        return todo

    def agent_runs_with(self, ctx) -> bool | None:
        """Whether the running agent (its ``/flags``) has the wanted isolation; None if unreachable."""
        running = self.flags(ctx).running_flags()
        if running is None:
            return None
        have = [i.strip() for i in str(running.get("isolation", "")).split(",")]
        wanted = self.wanted_flags(ctx)
        ok = all(i in have for i in wanted["isolation"].split(","))
        if "modules" in wanted:
            ok = ok and MODULE_JSON in str(running.get("modules", ""))
        return ok

    def act(self, ctx, todo):
        host, p = ctx.host, ctx.params
        if p["flavour"] != "dcos":
            ctx.pm.ensure(ctx, "dvdcli", None, verify_tls=p["artifact_tls_verify"])
        if p["isolator"] == "dvdi":
            path = module_path(p["mesos_version"])
            if artifacts.sha256_file(path) != p["module"]["sha256"]:
                try:
                    artifacts.fetch(p["module"]["url"], p["module"]["sha256"], "/usr/lib",
                                    name=path.rsplit("/", 1)[-1], verify=p["artifact_tls_verify"])
                except artifacts.ArtifactError as exc:
                    raise StepError(f"DVDI module: {exc}", retryable=exc.retryable) from None
                ctx.changed(f"installed {path}")
            if host.write_text(MODULE_JSON, self.module_json(ctx), 0o644):
                ctx.changed(f"wrote {MODULE_JSON}")
        # Before any agent restart below, so the restart that loads the isolator also honours the order.
        agentorder.ensure(host, ctx, self.agent_unit(ctx), self.rexray_unit(ctx))
        flags = self.flags(ctx)
        state = load_state(host)
        wanted = self.wanted_flags(ctx)
        if any(flags.get(k) != val for k, val in wanted.items()):
            if "original" not in state:
                # Recorded before the first change, never overwritten: uninstall restores these.
                state = {"flavour": p["flavour"], "original": {k: flags.own(k) for k in TOUCHED}}
                save_state(host, state)
            for key, value in wanted.items():
                if flags.set(key, value):
                    ctx.changed(f"agent flag {key}={value}")
            state["restart_pending"] = True
            save_state(host, state)
        self.settle_restart(ctx, state)

    def settle_restart(self, ctx, state):
        """Clear our pending restart once the running agent has the flags; else restart or ask.

        Without a pending restart of ours and with the agent's /flags unreachable, the flag files
        (which are as wanted) are trusted: nothing to restart for.
        """
        host, p = ctx.host, ctx.params
        running = self.agent_runs_with(ctx)
        if running or (running is None and not state.get("restart_pending")):
            if state.get("restart_pending"):
                state["restart_pending"] = False
                save_state(host, state)
            return
        unit = self.agent_unit(ctx)
        if p["self_restart"]:
            services.restart(host, ctx, unit, "isolator flags changed")
            if services.wait_until(lambda: self.agent_runs_with(ctx), 60, 0.5):
                state["restart_pending"] = False
                save_state(host, state)
                return
            raise StepError(f"the agent ({unit}) does not report the new isolation flags after a restart")
        ctx.need_restart("agent", f"the agent must restart ({unit}) to load isolation "
                                  f"{self.wanted_flags(ctx)['isolation']}")

    def verify(self, ctx):
        host, p = ctx.host, ctx.params
        flags = self.flags(ctx)
        bad = {k: flags.get(k) for k, val in self.wanted_flags(ctx).items() if flags.get(k) != val}
        if bad:
            raise StepError(f"agent flags not as wanted: {bad}")
        r = host.run([self.dvdcli(ctx), "version"], timeout=60)
        if not r.ok:
            raise StepError(host.failure(r, "dvdcli version"))
        ctx.fact("dvdcli", self.dvdcli(ctx))
        ctx.fact("isolation", flags.get("isolation"))
        if not agentorder.in_place(host, self.agent_unit(ctx), self.rexray_unit(ctx)):
            raise StepError(f"{agentorder.DROP_INS[self.agent_unit(ctx)]} is not in place or not loaded by systemd")
        if p["isolator"] == "dvdi" and artifacts.sha256_file(module_path(p["mesos_version"])) != p["module"]["sha256"]:
            raise StepError("the DVDI module on disk does not match its sha256")
        running = self.agent_runs_with(ctx)
        ctx.fact("agent_flags_confirmed", running)      # None: the agent's /flags was not reachable
        if ctx.restart is None and (load_state(host).get("restart_pending") or running is False):
            ctx.need_restart("agent", "the running agent does not report the isolation flags")
