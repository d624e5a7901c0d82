"""What every operator endpoint shares: error answers, JSON bodies, the auth guard, engine calls.

Contracts: every error is ``{"message": ...}`` (plus ``field`` naming the offending input for
400s); a body that is not JSON is a 400; a mutating handler runs only after
:class:`~.auth.Authenticator` allowed the request; an engine read that the core loop cannot
serve in time is a 503, never a 500.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import TimeoutError as FutureTimeout

from dcos_scaleio.framework.scheduler.http_api import Reply, json_reply

__all__ = ["error", "field_error_json", "BadRequest", "json_body", "guarded", "engine_call", "EngineBusy", "text_reply"]

LOG = logging.getLogger(__name__)
ENGINE_TIMEOUT_S = 10.0


class BadRequest(Exception):
    """A request the handler refuses: ``status`` (default 400), ``message``, ``field`` (or None)."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status

    def reply(self) -> Reply:
        return error(self.status, self.message, field=self.field)


class EngineBusy(Exception):
    """The core loop did not answer in time (or is not running)."""


def error(status: int, message: str, field: str | None = None, **headers) -> Reply:
    body = {"message": message}
    if field is not None:
        body["field"] = field
    return json_reply(status, body, **headers)


def text_reply(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Reply:
    return Reply(status, text.encode(), content_type=content_type)


def json_body(req, *, allow_empty: bool = False):
    """The request body as JSON; :class:`BadRequest` when it is not valid UTF-8 JSON.
    An absent (zero-length) body is None when ``allow_empty``, else a 400."""
    if not req.body:            # no body at all; whitespace alone is not JSON (400)
        if allow_empty:
            return None
        raise BadRequest("a JSON request body is required", field="(body)")
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {_short(exc)}", field="(body)") from None


def _short(exc) -> str:
    text = str(exc)
    return text if len(text) < 120 else text[:117] + "..."


def guarded(authenticator, handler):
    """``handler`` behind the auth check; also turns :class:`BadRequest`/:class:`EngineBusy` into answers."""
    def run(req):
        decision = authenticator.decide(req.headers.get("authorization"))
        if not decision.allowed:
            return error(decision.status, decision.message, **decision.headers)
        req.identity = decision.identity
        return handled(handler)(req)
    return run


def handled(handler):
    """``handler`` with :class:`BadRequest` and :class:`EngineBusy` mapped to 4xx/503 answers."""
    def run(req):
        try:
            return handler(req)
        except BadRequest as exc:
            return exc.reply()
        except EngineBusy as exc:
            return error(503, str(exc))
    return run


def engine_call(core, fn, timeout: float = ENGINE_TIMEOUT_S):
    """``fn(core)`` on the core thread. Engine errors propagate; a stuck or stopped core is :class:`EngineBusy`."""
    try:
        return core.call(fn, timeout=timeout)
    except FutureTimeout:
        raise EngineBusy("the scheduler is busy: try again shortly") from None


def field_error_json(err) -> dict:
    """An options error (FieldError or text) as ``{"field", "message"}``."""
    return err.to_json() if hasattr(err, "to_json") else {"field": "(root)", "message": str(err)}
