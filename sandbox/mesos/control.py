"""The emulator's control API (fault hooks for tests, chaos runs and the agents' own service units).

``{control_url}`` is ``http://<host>:<port>/control``. JSON in, JSON out:

- ``GET  {control_url}/state``                         -> cluster info (as printed by ``sandbox mesos``)
- ``POST {control_url}/agents``                        body: AgentSpec fields -> agent info (added, booted)
- ``POST {control_url}/agents/{name}/restart``         body ``{"down_seconds": s, "wait": bool}``; default
  ``wait`` false: answers once the old process is gone and the new one is starting (systemd Type=simple),
  so an executor inside the agent can call it and still resubscribe
- ``POST {control_url}/agents/{name}/stop|kill``       the agent process dies, executors live on
- ``POST {control_url}/agents/{name}/start``           body ``{"wait": bool}``
- ``POST {control_url}/agents/{name}/reboot``          body ``{"start": bool}`` (default true); with
  ``start`` false the host stays powered off (what "the agent's host died" looks like: every process
  in it is gone, its SDC disconnects, its docker volumes stay mapped)
- ``POST {control_url}/agents/{name}/remove|partition|heal``
- ``POST {control_url}/frameworks/drop``               body ``{"framework_id": id or null}``
- ``POST {control_url}/frameworks/freeze``             same body: the subscription goes silently half-open
- ``POST {control_url}/master/leader``                 body ``{"to": index or null}``
- ``POST {control_url}/master/restart``                body ``{"down_seconds": s}``
- ``POST {control_url}/master/recovering``             body ``{"value": bool}``
- ``POST {control_url}/master/rescind``                body ``{"offer_id": id or null}``
- ``POST {control_url}/master/agent_ping_timeout``     body ``{"seconds": s}``: how long a disconnected
  agent may stay away before the master marks it unreachable (real master: ``--agent_ping_timeout`` x
  ``--max_agent_ping_timeouts``, 75 s by default); applies to disconnections from then on
- ``POST {control_url}/time_scale``                    body ``{"scale": float}``
"""
import json

from .httpserver import HttpServer, Response, json_response
from .spec import AgentSpec


class ControlApi:
    def __init__(self, cluster, host, port=0):
        self.cluster = cluster
        self.server = HttpServer(host, port, self.handle, name="control")

    async def start(self):
        await self.server.start()

    async def stop(self):
        await self.server.stop()

    @property
    def url(self):
        return f"http://{self.server.host}:{self.server.port}/control"

    async def handle(self, request):
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != "control":
            return Response(404, b"")
        parts = parts[1:]
        try:
            body = json.loads(request.body or b"{}") if request.body else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            return Response(400, f"bad JSON: {exc}")
        c = self.cluster
        try:
            if parts == ["state"] and request.method == "GET":
                return json_response(c.info())
            if request.method != "POST":
                return Response(405, b"", headers={"Allow": "POST"})
            if parts == ["agents"]:
                return json_response(await c._add_agent(AgentSpec.from_dict(body)))
            if len(parts) == 3 and parts[0] == "agents":
                name, action = parts[1], parts[2]
                if name not in c.agents:
                    return Response(404, f"no agent {name}")
                if action == "restart":
                    return json_response(await c._restart_agent(name, float(body.get("down_seconds", 0)),
                                                                bool(body.get("wait", False))))
                if action in ("stop", "kill"):
                    return json_response(await c._stop_agent(name))
                if action == "start":
                    return json_response(await c._start_agent(name, bool(body.get("wait", False))))
                if action == "reboot":
                    return json_response(await c._reboot_agent(name, bool(body.get("start", True))))
                if action == "remove":
                    return json_response({"removed": await c._remove_agent(name)})
                if action in ("partition", "heal"):
                    return json_response(await c._partition(name, action == "heal"))
                return Response(404, f"unknown action {action}")
            if parts == ["frameworks", "drop"]:
                return json_response({"dropped": await c._drop(body.get("framework_id"))})
            if parts == ["frameworks", "freeze"]:
                return json_response({"frozen": await c._freeze(body.get("framework_id"))})
            if parts == ["master", "leader"]:
                if c.masters < 2:
                    return Response(409, "leader change needs masters >= 2")
                return json_response({"leader": await c._leader(body.get("to"))})
            if parts == ["master", "restart"]:
                return json_response({"leader": await c._restart_master(float(body.get("down_seconds", 0.5)))})
            if parts == ["master", "recovering"]:
                return json_response({"ok": await c._set("recovering", body.get("value", True))})
            if parts == ["master", "rescind"]:
                return json_response({"ok": await c._rescind(body.get("offer_id"))})
            if parts == ["master", "agent_ping_timeout"]:
                seconds = float(body["seconds"])
                if not 0 < seconds <= 86400:
                    raise ValueError("seconds must be in (0, 86400]")
                c.master.agent_ping_timeout = seconds
                return json_response({"agent_ping_timeout": seconds})
            if parts == ["time_scale"]:
                return json_response({"ok": await c._set("time_scale", body["scale"])})
        except (ValueError, KeyError, TypeError) as exc:
            return Response(400, str(exc))
        return Response(404, b"")
