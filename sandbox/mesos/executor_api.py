"""``POST /api/v1/executor`` on an agent: the checks in the order of mesos-http-api.md section 3.1, then
SUBSCRIBE (a RecordIO stream, no Mesos-Stream-Id), UPDATE, MESSAGE and HEARTBEAT.

State changes are delegated to the agent (``executor_subscribed``, ``executor_update``,
``executor_message``); this module only speaks the protocol.
"""
from .httpserver import Response, Stream
from .protocol import (CallError, check_accept, check_transport, check_uuid16, check_bytes, invalid,
                       require_id, require_message)

WHAT = "Executor::Call"
TYPES = {"SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT", "UNKNOWN"}


async def handle(agent, request):
    try:
        if agent.state == "recovering" and not agent.accepting_subscriptions:
            raise CallError(503, "Agent has not finished recovery")
        call = check_transport(request)
        ctype = call.get("type")
        if ctype is None:
            raise invalid("Expecting 'type' to be present", WHAT)
        if ctype not in TYPES:
            raise CallError(400, f"Failed to convert JSON into Call protobuf: Failed to find enum for '{ctype}'")
        eid = require_id(call, "executor_id", what=WHAT)
        fid = require_id(call, "framework_id", what=WHAT)
        if ctype == "UNKNOWN":
            raise CallError(501, "Received an unexpected 'UNKNOWN' call")
        if ctype == "SUBSCRIBE":
            if call.get("subscribe") is None:
                raise invalid("Expecting 'subscribe' to be present", WHAT)
        elif ctype == "UPDATE":
            update = call.get("update")
            if update is None:
                raise invalid("Expecting 'update' to be present", WHAT)
            status = require_message(update, "status", what=WHAT)
            require_id(status, "task_id", what=WHAT)
            if not isinstance(status.get("state"), str):
                raise invalid("Not initialized: update.status.state", WHAT)
            check_uuid16(status, what=WHAT)
            if status.get("source", "SOURCE_EXECUTOR") != "SOURCE_EXECUTOR":
                raise invalid("Received Call from executor with invalid source", WHAT)
            if status["state"] == "TASK_STAGING":
                raise invalid("Received TASK_STAGING from executor", WHAT)
            sid = (status.get("executor_id") or {}).get("value")
            if sid is not None and sid != eid:
                raise invalid("ExecutorID in Call and in TaskStatus do not match", WHAT)
            if "data" in status:
                check_bytes(status, "data")
        elif ctype == "MESSAGE":
            message = call.get("message")
            if message is None:
                raise invalid("Expecting 'message' to be present", WHAT)
            if check_bytes(message, "data") is None:
                raise invalid("Not initialized: message.data", WHAT)
        if ctype == "HEARTBEAT":
            return Response(202, b"")
        if ctype == "SUBSCRIBE":
            check_accept(request)
        elif agent.state == "recovering":
            raise CallError(503, "Agent has not finished recovery")
        if fid not in agent.frameworks:
            raise CallError(400, "Framework cannot be found")
        executor = agent.executors.get((fid, eid))
        if executor is None:
            raise CallError(400, "Executor cannot be found")
        if ctype == "SUBSCRIBE":
            stream = Stream()
            agent.executor_subscribed(executor, stream, call["subscribe"])
            return stream
        if executor.stream is None and not executor.ever_subscribed:
            raise CallError(403, "Executor is not subscribed")
        if ctype == "UPDATE":
            agent.executor_update(executor, call["update"]["status"])
        else:
            agent.executor_message(executor, call["message"]["data"])
        return Response(202, b"")
    except CallError as exc:
        return exc.response()
