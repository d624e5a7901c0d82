"""Typed errors of the cluster steps: retryable (try again later) versus permanent (needs a human).

Every error carries a ``reason`` fit for a step's message and the operator: the gateway's own
message where there is one, never a secret. The scheduler turns them into the plan engine's
``ClusterActionResult(ok=False, message=err.reason, retryable=err.retryable)``.

- :class:`RetryableError`: the gateway or MDM is down, slow, busy or answered 5xx; the session
  expired twice in a row; an asynchronous operation (SDS removal) is still running.
- :class:`PermanentError`: wrong credentials, TLS verification failed, bad configuration, an MDM
  refusal (device carries data, too small, not enough capacity), or one of our own refusals
  (SDS IP in use by another SDS, object not ours).
"""
from __future__ import annotations

from typing import Iterable

__all__ = ["ClusterError", "RetryableError", "PermanentError", "GatewayUnavailable", "SessionExpired",
           "OperationPending", "GatewayAuthError", "GatewayTLSError", "GatewayConfigError", "GatewayRefused",
           "ActionRefused", "InvalidParameters", "Redactor", "REDACTED"]

REDACTED = "******"


class Redactor:
    """Replaces every known secret value in a text. Holds the values; never prints them."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()):
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text) -> str:
        text = str(text)
        for s in self._secrets:
            text = text.replace(s, REDACTED)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class ClusterError(Exception):
    """Base of every cluster-step failure.

    ``reason``: one line for the operator (already redacted). ``status``: the gateway's HTTP status
    when one was received. ``error_code``: the gateway's ``errorCode`` (MDM refusal code) or None.
    ``operation``: what was being done (``"create ProtectionDomain pd1"``).
    """

    retryable = False
    kind = "error"

    def __init__(self, reason: str, *, operation: str = "", status: int | None = None,
                 error_code: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.operation = operation
        self.status = status
        self.error_code = error_code

    def __str__(self) -> str:
        return f"{self.operation}: {self.reason}" if self.operation else self.reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def to_json(self) -> dict:
        return {"error": self.kind, "reason": self.reason, "operation": self.operation,
                "retryable": self.retryable, "status": self.status, "error_code": self.error_code}


class RetryableError(ClusterError):
    """Transient: the same call may succeed later (the plan engine backs off and retries)."""

    retryable = True


class PermanentError(ClusterError):
    """Retrying the same call will fail the same way until something outside changes."""


class GatewayUnavailable(RetryableError):
    """Connection refused/reset, timeout, TLS transport failure, gateway or MDM 5xx, odd responses."""

    kind = "gateway-unavailable"


class SessionExpired(RetryableError):
    """The gateway rejected the session token again right after a fresh login."""

    kind = "session-expired"


class OperationPending(RetryableError):
    """An accepted asynchronous operation has not finished yet (e.g. SDS removal migrating data)."""

    kind = "pending"


class GatewayAuthError(PermanentError):
    """The gateway refused the admin credentials at login."""

    kind = "auth"


class GatewayTLSError(PermanentError):
    """The gateway's certificate does not verify against the configured CA (or the system store)."""

    kind = "tls"


class GatewayConfigError(PermanentError):
    """Our configuration cannot work: malformed endpoint, unsupported API version."""

    kind = "config"


class GatewayRefused(PermanentError):
    """The MDM (through the gateway) refused the operation; ``reason`` is its status text."""

    kind = "refused"


class ActionRefused(PermanentError):
    """The action itself refuses: the real state conflicts with what was asked."""

    kind = "conflict"


class InvalidParameters(PermanentError):
    """The action's parameters are missing or malformed (a bug or bad options upstream)."""

    kind = "params"
