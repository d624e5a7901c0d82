"""Plans, as the dcos-commons scheduler serves them.

- ``GET /v1/plans`` -> the plan names; ``GET /v1/plans/<plan>`` -> plan JSON with 200 (COMPLETE),
  202 (in progress) or 417 (errors); 404 ``{"message": "Plan X not found"}``.
- ``POST /v1/plans/<plan>/<verb>?phase=&step=`` with verb ``start``, ``stop``, ``interrupt``
  (pause), ``continue`` (resume), ``forceComplete``, ``restart``; phase and step by name or id.
  200 ``{"message": "Received cmd: <verb> <plan> ..."}``; 404 naming the unknown plan, phase or step;
  409 when the plan has errors (invalid options: the engine runs nothing).
  ``start`` accepts the SDK's optional JSON object of parameters, which must be empty (this
  service's plans take none). Authenticated (see :mod:`.auth`).
"""
from __future__ import annotations

from urllib.parse import unquote

from dcos_scaleio.framework.scheduler.http_api import json_reply
from dcos_scaleio.plan import OperatorCommand, RequestRejected, UnknownElement, http_status, plan_json, plan_status

from .common import BadRequest, engine_call, error, guarded, handled, json_body

__all__ = ["install", "VERBS"]

# URL verb -> engine verb (OperatorCommand.verb)
VERBS = {"start": "start", "stop": "stop", "interrupt": "interrupt", "continue": "continue",
         "forceComplete": "force_complete", "restart": "restart"}
PREFIX = "/v1/plans/"


def _split(path: str) -> list[str]:
    return [unquote(p) for p in path[len(PREFIX):].split("/")]


def install(api, core, reads, authenticator, clock) -> None:
    def names(req):
        return json_reply(200, reads.get("plan-names", lambda c: list(c.engine.plans)))

    def get_plan(req):
        parts = _split(req.path)
        if len(parts) != 1 or not parts[0]:
            return error(404, f"no such endpoint: GET {req.path}")
        name = parts[0]
        # Known names first: the read cache must not grow with every name a client makes up.
        if name not in reads.get("plan-names", lambda c: list(c.engine.plans)):
            return error(404, f"Plan {name} not found")
        body, code = reads.get("plan:" + name, lambda c: (plan_json(c.engine, name),
                                                          http_status(plan_status(c.engine, name))))
        return json_reply(code, body)

    def command(req):
        parts = _split(req.path)
        if len(parts) != 2 or not parts[0] or parts[1] not in VERBS:
            verbs = ", ".join(VERBS)
            return error(404, f"no such endpoint: POST {req.path} (verbs: {verbs})")
        plan, verb = parts
        params = json_body(req, allow_empty=True)
        if req.body and not isinstance(params, dict):
            raise BadRequest("the body must be a JSON object of parameters", field="(body)")
        if params:
            raise BadRequest("this service's plans take no parameters", field=next(iter(params)))
        phase, step = req.query.get("phase") or None, req.query.get("step") or None
        if step and not phase:
            raise BadRequest("a step needs its phase (?phase=...&step=...)", field="phase")
        event = OperatorCommand(clock(), VERBS[verb], plan, phase, step)

        def run(c):
            target = c.engine.plans.get(plan)
            if target is None:
                raise UnknownElement(f"Plan {plan} not found")
            if target.errors:
                # The engine ignores every event then: say so instead of "Received".
                raise RequestRejected("plan", f"plan {plan} has errors (see GET /v1/plans/{plan}): "
                                              "fix the service's options; commands cannot run", 409)
            c.apply(event)
        try:
            engine_call(core, run)
        except UnknownElement as exc:
            return error(404, str(exc))
        except RequestRejected as exc:
            return error(exc.status, exc.message, field=exc.field)
        target = plan + "".join(f" {k}={v}" for k, v in (("phase", phase), ("step", step)) if v)
        return json_reply(200, {"message": f"Received cmd: {verb} {target}"})

    api.route("GET", "/v1/plans", handled(names))
    api.route_prefix("GET", PREFIX, handled(get_plan))
    api.route("GET", "/v1/plans/deploy", handled(get_plan))
    api.route_prefix("POST", PREFIX, guarded(authenticator, command))
