"""``GET /v1/openapi.json``: the OpenAPI 3.0 document of the scheduler's HTTP API.

It is written to match the server exactly (tests/api run schemathesis against a live scheduler
with it: no 5xx, every status code, content type and body as documented). Response schemas
close no objects (``additionalProperties`` stays open: fields may be added, never renamed);
request bodies are closed where the server refuses unknown fields.
"""
from __future__ import annotations

from dcos_scaleio.options import patterns
from dcos_scaleio.plan import Status, Strategy

from .common import handled
from .nodes import MAX_DEVICES
from .plans import VERBS
from .service import ENDPOINTS

__all__ = ["install", "document"]

_STATUS = {"type": "string", "enum": [s.value for s in Status]}
_STR = {"type": "string"}
_NSTR = {"type": "string", "nullable": True}
_STRS = {"type": "array", "items": _STR}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required, props, **extra):
    return {"type": "object", "required": list(required), "properties": props, **extra}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes):
    why = {400: "Bad request: the body or a parameter is invalid (``field`` names it)",
           401: "Missing, malformed, wrong or expired credential",
           403: "A valid identity that may not change this service",
           404: "Unknown plan, phase, step, node or endpoint",
           409: "Conflicts with the service's state or options",
           413: "Request body too large", 503: "Not available now (reason in the message)"}
    out = {}
    for code in codes:
        resp = _json(_ref("Error"), why[code])
        if code == 401:
            resp["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["acsjwt"]},
                                                    "required": True}}
        out[str(code)] = resp
    return out


_AUTH_ERRORS = (401, 403, 503)

SCHEMAS = {
    "Error": _obj(["message"], {"message": _STR, "field": _STR}),
    "Step": _obj(["id", "name", "message", "status"], {
        "id": _STR, "name": _STR, "message": _STR, "status": _STATUS,
        "kind": {"type": "string", "enum": ["host", "cluster"]}, "agent": _NSTR,
        "attempts": {"type": "integer", "minimum": 0},
        "started": {"type": "number", "nullable": True}, "finished": {"type": "number", "nullable": True},
        "reason": _NSTR}),
    "Phase": _obj(["id", "name", "steps", "strategy", "status"], {
        "id": _STR, "name": _STR, "steps": {"type": "array", "items": _ref("Step")},
        "strategy": _STR, "status": _STATUS}),
    "Plan": _obj(["phases", "strategy", "errors", "status"], {
        "phases": {"type": "array", "items": _ref("Phase")},
        "strategy": {"type": "string", "enum": [s.value for s in Strategy]}, "errors": _STRS, "status": _STATUS}),
    "Device": _obj(["path", "state"], {
        "path": _STR, "state": {"type": "string", "enum": ["added", "pending", "failed", "refused"]},
        "reason": _NSTR, "protection_domain": _STR, "storage_pool": _STR, "source": _STR, "status": _STATUS}),
    "Node": _obj(["hostname", "agent_id", "ip", "present", "persona", "steps", "devices"], {
        "hostname": _STR, "agent_id": _STR, "ip": _STR, "present": {"type": "boolean"},
        "public": {"type": "boolean"}, "os_family": _NSTR, "mdm_slot": _NSTR, "persona": _STRS,
        "restarting": {"type": "boolean"}, "steps": {"type": "array", "items": _ref("Step")},
        "devices": {"type": "array", "items": _ref("Device")}}),
    "DeviceRequest": _obj(["devices"], {
        "devices": {"type": "array", "minItems": 1, "maxItems": MAX_DEVICES,
                    "items": {"type": "string", "pattern": patterns.DEVICE_PATH.pattern, "maxLength": 255}},
        "pool": {"type": "string", "pattern": patterns.SCALEIO_NAME.pattern}}, additionalProperties=False),
    "DeviceAccepted": _obj(["node", "devices", "pool", "steps"], {
        "node": _STR, "devices": _STRS, "pool": _STR, "steps": {"type": "array", "items": _ref("Step")}}),
    "Message": _obj(["message"], {"message": _STR}),
    "Health": _obj(["value", "code", "reasons"], {"value": _STR, "code": {"type": "integer"}, "reasons": _STRS}),
    "Endpoint": _obj(["address", "dns"], {"address": _STRS, "dns": _STRS, "url": _NSTR, "ips": _STRS}),
    "FieldError": _obj(["field", "message"], {"field": _STR, "message": _STR}),
    "Cluster": _obj(["system", "mdms", "protection_domains", "sds", "sdc", "volumes", "capacity", "health"], {
        "system": {"type": "object", "nullable": True}, "mdms": {"type": "array", "items": {"type": "object"}},
        "protection_domains": {"type": "array", "items": {"type": "object"}}, "sds": {"type": "object"},
        "sdc": {"type": "object"}, "volumes": {"type": "object"}, "capacity": {"type": "object"},
        "health": _obj(["status", "problems"], {"status": {"type": "string",
                                                           "enum": ["HEALTHY", "DEGRADED", "UNHEALTHY"]},
                                                "problems": _STRS})}),
    "Preview": _obj(["valid", "errors", "warnings", "plan", "steps", "ignored", "agents"], {
        "valid": {"type": "boolean"}, "errors": {"type": "array", "items": _ref("FieldError")},
        "warnings": _STRS, "plan": {"allOf": [_ref("Plan")], "nullable": True},
        "steps": {"type": "array", "items": _obj(["step", "name", "phase", "kind", "action", "agent", "requires",
                                                   "params", "commands"], {
            "step": _STR, "name": _STR, "phase": _STR, "kind": _STR, "action": _STR, "agent": _NSTR,
            "requires": _STRS, "params": {"type": "object"},
            "commands": {"type": "array", "nullable": True,
                         "items": _obj(["argv", "when"], {"argv": _STRS, "when": _STR})},
            "files": {"type": "array", "nullable": True,
                      "items": _obj(["path", "mode"], {"path": _STR, "mode": _NSTR})}})},
        "ignored": {"type": "object", "additionalProperties": _STR},
        "agents": {"type": "array", "items": _obj(["hostname", "agent_id", "ip", "os_family"], {
            "hostname": _STR, "agent_id": _STR, "ip": _STR, "os_family": _NSTR})}}),
}


def _path_param(name, description):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
            "description": description}


def _query(name, description):
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}


def _paths() -> dict:
    secured = [{"acsToken": []}]
    plan_get = {"get": {"operationId": "getPlan", "summary": "A plan (200 complete, 202 in progress, 417 errors)",
                        "parameters": [_path_param("plan", "Plan name (GET /v1/plans)")],
                        "responses": {"200": _json(_ref("Plan"), "Complete"),
                                      "202": _json(_ref("Plan"), "In progress"),
                                      "417": _json(_ref("Plan"), "The plan has errors"), **_errors(404, 503)}}}
    paths = {
        "/v1/plans": {"get": {"operationId": "listPlans", "summary": "Plan names",
                              "responses": {"200": _json(_STRS, "Plan names"), **_errors(503)}}},
        "/v1/plans/{plan}": plan_get,
        "/v1/nodes": {"get": {"operationId": "listNodes", "summary": "Every node (agent) the service uses",
                              "responses": {"200": _json({"type": "array", "items": _ref("Node")}, "Nodes"),
                                            **_errors(503)}}},
        "/v1/nodes/{node}": {"get": {"operationId": "getNode", "summary": "One node by hostname",
                                     "parameters": [_path_param("node", "Agent hostname")],
                                     "responses": {"200": _json(_ref("Node"), "The node"), **_errors(404, 503)}}},
        "/v1/nodes/{node}/devices": {"post": {
            "operationId": "addDevices", "summary": "Add devices to a node's SDS (all or nothing; idempotent)",
            "security": secured, "parameters": [_path_param("node", "Agent hostname")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("DeviceRequest")}}},
            "responses": {"202": _json(_ref("DeviceAccepted"), "Requested (or already requested)"),
                          **_errors(400, 404, 409, 413, *_AUTH_ERRORS)}}},
        "/v1/health": {"get": {"operationId": "health", "summary": "Service health with the SDK's codes",
                               "responses": {**{str(c): _json(_ref("Health"), n) for c, n in (
                                   (200, "RUNNING"), (202, "DEPLOYING_STARTING"),
                                   (206, "DEGRADED"), (207, "DEPLOYING_WAITING_USER"), (208, "DELAYED"),
                                   (500, "ERROR_CREATING_SERVICE: invalid options"))},
                                   "204": {"description": "DEPLOYING_PENDING (no body, as HTTP wants)"},
                                   **_errors(503)}}},
        "/v1/cluster": {"get": {"operationId": "cluster", "summary": "The ScaleIO system as its gateway reports it",
                                "responses": {"200": _json(_ref("Cluster"), "Summary"), **_errors(503)}}},
        "/v1/endpoints": {"get": {"operationId": "listEndpoints", "summary": "Endpoint names",
                                  "responses": {"200": _json({"type": "array", "items": {
                                      "type": "string", "enum": list(ENDPOINTS)}}, "Names"), **_errors(503)}}},
        "/v1/endpoints/{name}": {"get": {"operationId": "getEndpoint", "summary": "Addresses of an endpoint",
                                         "parameters": [_path_param("name", "gateway or mdm")],
                                         "responses": {"200": _json(_ref("Endpoint"), "Addresses"),
                                                       **_errors(404, 503)}}},
        "/v1/state/frameworkId": {"get": {"operationId": "frameworkId", "summary": "The Mesos framework ID",
                                          "responses": {"200": _json({"type": "array", "items": _STR,
                                                                      "minItems": 1, "maxItems": 1}, "[id]"),
                                                        **_errors(404, 503)}}},
        "/v1/config": {"get": {"operationId": "config", "summary": "Effective options, secrets redacted",
                               "responses": {"200": _json({"type": "object"}, "Options"),
                                             "409": _json(_obj(["message", "errors"], {
                                                 "message": _STR, "errors": {"type": "array",
                                                                             "items": _ref("FieldError")}}),
                                                 "The options are invalid"), **_errors(503)}}},
        "/v1/metrics/prometheus": {"get": {"operationId": "metrics", "summary": "Prometheus text exposition",
                                           "responses": {"200": {"description": "Metrics", "content": {
                                               "text/plain": {"schema": {"type": "string"}}}}, **_errors(503)}}},
        "/v1/preview": {
            "get": {"operationId": "previewCurrent", "summary": "Dry run with the current options",
                    "responses": {"200": _json(_ref("Preview"), "Preview"), **_errors(503)}},
            "post": {"operationId": "previewOptions", "summary": "Dry run with posted options (nothing stored)",
                     "requestBody": {"required": False, "content": {"application/json": {
                         "schema": {"type": "object"}}}},
                     "responses": {"200": _json(_ref("Preview"), "Preview"), **_errors(400, 413, 503)}}},
        "/v1/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                     "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document"),
                                                   **_errors(503)}}},
    }
    for verb in VERBS:
        params = [_path_param("plan", "Plan name"), _query("phase", "Phase name or id"),
                  _query("step", "Step name or id (needs phase)")]
        paths[f"/v1/plans/{{plan}}/{verb}"] = {"post": {
            "operationId": f"plan_{verb}", "summary": f"Plan command {verb}", "security": secured,
            "parameters": params,
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": {"type": "object", "maxProperties": 0}}}},
            "responses": {"200": _json(_ref("Message"), "Command accepted"),
                          **_errors(400, 404, 409, 413, *_AUTH_ERRORS)}}}
    return paths


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "dcos-scaleio scheduler API", "version": "1",
                 "description": "Plans, nodes, add-device, cluster, health, metrics, endpoints and a dry-run "
                                "preview, in the shapes of DC/OS data services (dcos-commons)."},
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"acsToken": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "'token=<DC/OS ACS token>' (or 'Bearer <token>'), or the service API token"}}},
    }


def install(api) -> None:
    from dcos_scaleio.framework.scheduler.http_api import json_reply
    doc = document()
    api.route("GET", "/v1/openapi.json", handled(lambda req: json_reply(200, doc)))

