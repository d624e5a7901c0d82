"""The agent's operator API (``POST /api/v1``; pymesos's agent driver uses ``/api/v1/operator``):
GET_HEALTH, GET_FLAGS, GET_VERSION, GET_AGENT and GET_STATE (a minimal one). Other calls answer 501."""
from .httpserver import json_response
from .protocol import CallError, check_accept, check_transport, idv, invalid


async def handle(agent, request):
    try:
        call = check_transport(request)
        ctype = call.get("type")
        if ctype is None:
            raise invalid("Expecting 'type' to be present", "agent::Call")
        check_accept(request)
        if ctype == "GET_HEALTH":
            return json_response({"type": ctype, "get_health": {"healthy": True}})
        if ctype == "GET_FLAGS":
            flags = [{"name": k, "value": v} for k, v in sorted(agent.config.flags.items())]
            return json_response({"type": ctype, "get_flags": {"flags": flags}})
        if ctype == "GET_VERSION":
            return json_response({"type": ctype, "get_version": {"version_info": {"version": agent.version}}})
        if ctype == "GET_AGENT":
            return json_response({"type": ctype, "get_agent": {"agent_info": agent_info(agent)}})
        if ctype == "GET_STATE":
            tasks = [{"name": t.info.get("name", ""), "task_id": idv(tid), "framework_id": idv(fid),
                      "agent_id": idv(agent.agent_id), "state": t.state}
                     for (fid, tid), t in agent.tasks.items()]
            return json_response({"type": ctype, "get_state": {"get_tasks": {"launched_tasks": tasks}}})
        raise CallError(501, f"Call {ctype} is not supported by this agent")
    except CallError as exc:
        return exc.response()


def agent_info(agent):
    return {"hostname": agent.hostname, "port": agent.port, "id": idv(agent.agent_id),
            "resources": agent._resources_proto(), "attributes": agent.attributes_proto()}
