"""``GET|POST /v1/preview``: a dry run of the deploy plan. Nothing is executed and nothing is stored.

``GET`` previews the options the scheduler runs with; ``POST`` previews the options in the body
(a JSON object, as given to ``dcos package install --options``: defaults are merged in and the
whole is validated with :func:`dcos_scaleio.options.validate`). Either way the agents are the ones
the scheduler knows now, each with the OS family it reported (unknown until its ``deps`` step ran).

200 ``{"valid": true, "errors": [], "warnings": [...], "plan": <plan JSON>, "ignored": {host: why},
"agents": [{"hostname", "agent_id", "ip", "os_family"}], "steps": [{"step", "name", "phase", "kind",
"action", "agent", "requires", "params", "commands": [{"argv": [...], "when": "..."}] | null,
"files": [{"path", "mode"}] | null}]}``;
invalid options: 200 with ``"valid": false`` and ``errors`` ``[{"field", "message"}]`` (the plan is
then null). ``commands`` lists, for host steps, what the executor runs on a host where nothing is
installed yet (:func:`dcos_scaleio.framework.host.dryrun.step_commands`), null when the agent's OS
family is not known yet. Secrets never appear (the admin password is not a step parameter).
"""
from __future__ import annotations

from dcos_scaleio.framework.scheduler.http_api import json_reply
from dcos_scaleio.plan import HOST, preview

from .common import field_error_json, BadRequest, engine_call, handled, json_body

__all__ = ["install", "build_preview"]


def _agents(c) -> list[tuple]:
    """On the core thread: (AgentInfo, os_family) of every node the engine knows."""
    return [(n.info, n.os_family or "") for n in c.engine.nodes.values()]


def build_preview(options, agents, now: float) -> dict:
    """The preview body for validated ``options`` over ``agents`` [(AgentInfo, os_family)]."""
    from dcos_scaleio.framework.host.dryrun import step_commands, step_files
    families = {h.hostname: fam for h, fam in agents}
    infos = [a for a, _ in agents]
    # One dry run per OS family present (the engine's params depend on the node's family).
    runs = {fam: preview(options, infos, now=now, os_family=fam) for fam in sorted(set(families.values()))} \
        or {"": preview(options, infos, now=now)}
    base = runs[sorted(runs)[0]]
    steps = []
    for i, step in enumerate(base["steps"]):
        fam = families.get(step["agent"] or "", "")
        if fam in runs:
            step = runs[fam]["steps"][i]
        step = dict(step)
        host_step = step["kind"] == HOST
        step["commands"] = step_commands(step["action"], step["params"], fam) if host_step and fam else None
        step["files"] = step_files(step["action"], step["params"]) if host_step else None
        steps.append(step)
    return {"plan": base["plan"], "ignored": base["ignored"], "steps": steps,
            "agents": [{"hostname": a.hostname, "agent_id": a.agent_id, "ip": a.ip, "os_family": fam or None}
                       for a, fam in agents]}


def install(api, core, context, clock) -> None:
    from dcos_scaleio.options import validate

    def answer(options, errors, warnings):
        if errors:
            return json_reply(200, {"valid": False, "errors": errors, "warnings": list(warnings), "plan": None,
                                    "steps": [], "ignored": {}, "agents": []})
        body = build_preview(options, engine_call(core, _agents), clock())
        return json_reply(200, {"valid": True, "errors": [], "warnings": list(warnings), **body})

    def current(req):
        if context.options is None:
            return answer(None, [field_error_json(e) for e in context.errors] or
                          [{"field": "(root)", "message": "options are missing"}], ())
        return answer(context.options, [], ())

    def posted(req):
        body = json_body(req, allow_empty=True)
        if req.body and not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object of options", field="(body)")
        result = validate(body or {})
        return answer(result.options, [e.to_json() for e in result.errors], result.warnings)

    api.route("GET", "/v1/preview", handled(current))
    api.route("POST", "/v1/preview", handled(posted))

