"""Validation of scheduler calls, step 4 of the master's check order (``400 Failed to validate
scheduler::Call: <why>``), as in mesos-http-api.md section 1.5: required fields, the sub-message of each
call type, SUBSCRIBE's framework id rules, 16-byte ACKNOWLEDGE uuids, LAUNCH task shapes."""
from .protocol import CallError, check_bytes, check_uuid16, invalid, require_id, require_message

CALL_TYPES = {"SUBSCRIBE", "TEARDOWN", "ACCEPT", "DECLINE", "ACCEPT_INVERSE_OFFERS", "DECLINE_INVERSE_OFFERS",
              "REVIVE", "KILL", "SHUTDOWN", "ACKNOWLEDGE", "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE",
              "RECONCILE_OPERATIONS", "MESSAGE", "REQUEST", "SUPPRESS", "UPDATE_FRAMEWORK", "UNKNOWN"}
# The sub-message each call type must carry (validation.cpp: "Expecting 'x' to be present").
PAYLOAD = {"ACCEPT": "accept", "DECLINE": "decline", "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
           "DECLINE_INVERSE_OFFERS": "decline_inverse_offers", "KILL": "kill", "SHUTDOWN": "shutdown",
           "ACKNOWLEDGE": "acknowledge", "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
           "RECONCILE": "reconcile", "RECONCILE_OPERATIONS": "reconcile_operations", "MESSAGE": "message",
           "REQUEST": "request", "UPDATE_FRAMEWORK": "update_framework", "SUBSCRIBE": "subscribe"}


def validate_call(call):
    """Return ``(type, framework_id or None)`` or raise CallError."""
    ctype = call.get("type")
    if ctype is None:
        raise invalid("Expecting 'type' to be present")
    if not isinstance(ctype, str) or ctype not in CALL_TYPES:
        raise CallError(400, f"Failed to convert JSON into Call protobuf: Failed to find enum for '{ctype}'")
    if ctype == "UNKNOWN":
        raise CallError(501, "Received an unexpected 'UNKNOWN' call")
    fid = require_id(call, "framework_id", required=False)
    payload_key = PAYLOAD.get(ctype)
    if payload_key is not None:
        payload = call.get(payload_key)
        if payload is not None and not isinstance(payload, dict):
            raise CallError(400, f"Failed to convert JSON into Call protobuf: "
                                 f"Not expecting a JSON {type(payload).__name__} for field '{payload_key}'")
    if ctype == "SUBSCRIBE":
        sub = call.get("subscribe")
        if sub is None:
            raise invalid("Expecting 'subscribe' to be present")
        info = require_message(sub, "framework_info")
        for field in ("user", "name"):
            if not isinstance(info.get(field), str):
                raise invalid(f"Not initialized: subscribe.framework_info.{field}")
        info_id = require_id(info, "id", required=False)
        if info_id != fid:
            raise invalid("'framework_id' differs from 'subscribe.framework_info.id'")
        return ctype, fid
    if fid is None:
        raise invalid("Expecting 'framework_id' to be present")
    if payload_key is not None and call.get(payload_key) is None:
        raise invalid(f"Expecting '{payload_key}' to be present")
    body = call.get(payload_key) if payload_key else None
    if ctype == "ACKNOWLEDGE":
        require_id(body, "agent_id")
        require_id(body, "task_id")
        check_uuid16(body)
    elif ctype == "KILL":
        require_id(body, "task_id")
        require_id(body, "agent_id", required=False)
    elif ctype == "SHUTDOWN":
        require_id(body, "executor_id")
        require_id(body, "agent_id")
    elif ctype == "MESSAGE":
        require_id(body, "agent_id")
        require_id(body, "executor_id")
        if check_bytes(body, "data") is None:
            raise invalid("Not initialized: message.data")
    elif ctype in ("ACCEPT", "DECLINE"):
        for oid in body.get("offer_ids", []):
            if not isinstance(oid, dict) or not isinstance(oid.get("value"), str):
                raise invalid("Not initialized: offer_ids.value")
        if ctype == "ACCEPT":
            validate_operations(body)
    elif ctype == "RECONCILE":
        for item in body.get("tasks", []):
            require_id(item, "task_id")
    return ctype, fid


def validate_operations(body):
    ops = body.get("operations", [])
    if not isinstance(ops, list):
        raise CallError(400, "Failed to convert JSON into Call protobuf: Expecting a JSON array for field "
                             "'operations'")
    for op in ops:
        if not isinstance(op, dict) or "type" not in op:
            raise invalid("Not initialized: accept.operations.type")
        tasks = []
        if op["type"] == "LAUNCH":
            tasks = require_message(op, "launch", required=False) or {}
            tasks = tasks.get("task_infos", [])
        elif op["type"] == "LAUNCH_GROUP":
            group = require_message(op, "launch_group", required=False) or {}
            executor = require_message(group, "executor")
            require_id(executor, "executor_id")
            tasks = (require_message(group, "task_group") or {}).get("tasks", [])
        for task in tasks:
            if not isinstance(task, dict) or not isinstance(task.get("name"), str):
                raise invalid("Not initialized: task_infos.name")
            require_id(task, "task_id")
            require_id(task, "agent_id")
            if "data" in task:
                check_bytes(task, "data")
