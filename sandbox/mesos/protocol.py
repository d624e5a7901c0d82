"""Protocol facts shared by master and agent: request checks, JSON strictness, IDs, states, durations.

Every check returns a :class:`~.httpserver.Response` with the status and text a real Mesos gives, or
None when the request passes (see mesos-http-api.md sections 1.1, 1.5 and 3.1).
"""
import base64
import binascii
import json
import re
import time

from .httpserver import Response

TERMINAL_STATES = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
                   "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}
PARTITION_STATES = {"TASK_UNREACHABLE", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
ALL_STATES = TERMINAL_STATES | {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING",
                                "TASK_UNREACHABLE", "TASK_UNKNOWN"}
JSON = "application/json"
PROTOBUF = "application/x-protobuf"

DEFAULT_VERSION = "1.11.0"


class CallError(Exception):
    """A request failure that maps to one HTTP answer."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers

    def response(self):
        return Response(self.status, self.message, headers=self.headers)


def check_transport(request):
    """Method, Content-Type and body parsing (steps 3 of the master's order). Returns the call dict."""
    if request.method != "POST":
        raise CallError(405, f"Expecting 'POST', received '{request.method}'", {"Allow": "POST"})
    ctype = request.header("content-type")
    if ctype is None:
        raise CallError(400, "Expecting 'Content-Type' to be present")
    if ctype not in (JSON, PROTOBUF):
        raise CallError(415, f"Expecting 'Content-Type' of {JSON} or {PROTOBUF}")
    if ctype == PROTOBUF:
        # We only speak JSON; a real master would parse protobuf. Nothing in this project sends it.
        raise CallError(400, "Failed to parse body into Call protobuf")
    try:
        call = json.loads(request.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CallError(400, f"Failed to parse body into JSON: {exc}")
    if not isinstance(call, dict):
        raise CallError(400, "Failed to convert JSON into Call protobuf: Expecting a JSON object")
    return _drop_nulls(call)


def check_accept(request):
    """406 unless the client accepts JSON (a missing Accept means anything)."""
    accept = request.header("accept")
    if accept is None:
        return
    kinds = [a.split(";")[0].strip() for a in accept.split(",")]
    if not any(k in (JSON, "*/*", "application/*") for k in kinds):
        raise CallError(406, f"Expecting 'Accept' to allow '{JSON}' or '{PROTOBUF}'")


def _drop_nulls(obj):
    # stout treats JSON null as "unset".
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj if v is not None]
    return obj


def convert_error(why):
    return CallError(400, f"Failed to convert JSON into Call protobuf: {why}")


def invalid(why, what="scheduler::Call"):
    return CallError(400, f"Failed to validate {what}: {why}")


def require_message(obj, field, *, what="scheduler::Call", required=True):
    """``obj[field]`` must be a JSON object (message); a missing required one is a validation error."""
    value = obj.get(field)
    if value is None:
        if required:
            raise invalid(f"Not initialized: {field}", what)
        return None
    if not isinstance(value, dict):
        raise convert_error(f"Expecting a JSON object for field '{field}'")
    return value


def require_id(obj, field, *, what="scheduler::Call", required=True):
    """An ``{"value": str}`` ID message; returns the string value or None."""
    value = require_message(obj, field, what=what, required=required)
    if value is None:
        return None
    if not isinstance(value.get("value"), str):
        if "value" not in value:
            raise invalid(f"Not initialized: {field}.value", what)
        raise convert_error(f"Not expecting a JSON {type(value['value']).__name__} for field 'value'")
    return value["value"]


def check_bytes(obj, field):
    """A ``bytes`` field: standard base64 text. Returns the decoded bytes (or None if absent)."""
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, dict):
        raise convert_error(f"Not expecting a JSON object for field '{field}'")
    if not isinstance(value, str):
        raise convert_error(f"Not expecting a JSON {type(value).__name__} for field '{field}'")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise convert_error(f"Failed to base64-decode field '{field}'")


def check_uuid16(obj, field="uuid", what="scheduler::Call"):
    raw = check_bytes(obj, field)
    if raw is None:
        raise invalid(f"Not initialized: {field}", what)
    if len(raw) != 16:
        raise invalid(f"'{field}' is not a valid UUID (expected 16 bytes, got {len(raw)})", what)
    return obj[field]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def idv(value):
    """A minimal ID object (pymesos compares these with ``==``)."""
    return {"value": value}


def now():
    return time.time()


_UNITS = [("weeks", 7 * 86400), ("days", 86400), ("hrs", 3600), ("mins", 60), ("secs", 1),
          ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)]


def format_duration(seconds: float) -> str:
    """Mesos ``Duration`` printing: ``5secs``, ``15mins``, ``250ms``."""
    for unit, size in _UNITS:
        if seconds >= size and abs(seconds / size - round(seconds / size)) < 1e-9:
            return f"{int(round(seconds / size))}{unit}"
    return f"{int(round(seconds * 1e9))}ns"


def parse_duration(text: str) -> float:
    """Inverse of :func:`format_duration`; accepts decimals (``1.5secs``). ValueError if malformed."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]+)\s*", str(text))
    if not m:
        raise ValueError(f"invalid duration {text!r}")
    for unit, size in _UNITS:
        if m.group(2) == unit:
            return float(m.group(1)) * size
    raise ValueError(f"unknown duration unit in {text!r}")


def version_tuple(version: str):
    return tuple(int(p) for p in version.split(".")[:3])
