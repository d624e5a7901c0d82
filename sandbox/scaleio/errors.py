"""Typed errors of the simulated ScaleIO system, carrying the text and codes the real tools show.

Every refusal of the MDM is a :class:`ScaleIOError`. Its ``message`` is the MDM status text, i.e. what
``scli`` prints after ``Error: MDM failed command.  Status: `` and what the gateway puts in the
``message`` field of its JSON error body. ``error_code`` is the gateway's ``errorCode``,
``http_status`` the gateway's HTTP status and ``scli_exit`` the exit code ``scli`` uses.

Where a code is known from public drivers it is used (volume not found = 3, already mapped = 81,
not mapped = 84, from the OpenStack/Cinder ScaleIO driver); the others are sandbox choices, stable
so tests can assert on them.
"""
from __future__ import annotations

SCLI_ERROR_PREFIX = "Error: MDM failed command.  Status: "


class ScaleIOError(Exception):
    """Base of every MDM refusal. ``str(err)`` is the status text."""

    error_code = 1
    http_status = 500
    scli_exit = 7

    def __init__(self, message: str, *, error_code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if http_status is not None:
            self.http_status = http_status

    @property
    def scli_line(self) -> str:
        """The line ``scli`` prints on stderr for this refusal."""
        return SCLI_ERROR_PREFIX + self.message

    def gateway_body(self) -> dict:
        """The gateway's JSON error body for this refusal."""
        return {"message": self.message, "httpStatusCode": self.http_status, "errorCode": self.error_code}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class NotFound(ScaleIOError):
    """An object named in the request does not exist ("Could not find the SDC")."""

    error_code = 3


class AlreadyExists(ScaleIOError):
    """A name, IP or device path is already taken; the object already exists."""

    error_code = 6


class AlreadyMapped(AlreadyExists):
    """The volume is already mapped to this SDC (or to another one without multi-map)."""

    error_code = 81


class NotMapped(ScaleIOError):
    """The volume is not mapped to the SDC."""

    error_code = 84


class InvalidState(ScaleIOError):
    """The operation is not allowed in the current state (non-empty pool, mapped volume, ...)."""

    error_code = 18


class InsufficientCapacity(InvalidState):
    """Not enough capacity to create a volume or to migrate data off a removed SDS/device."""

    error_code = 47


class InvalidParameter(ScaleIOError):
    """A malformed value (bad IP, bad size, name too long, bad cluster mode)."""

    error_code = 2
    http_status = 400


class NoCluster(ScaleIOError):
    """No MDM cluster has been created yet."""

    error_code = 7

    def __init__(self, message: str = "This MDM is not attached to a system.", **kw):
        super().__init__(message, **kw)


class AuthFailed(ScaleIOError):
    """Bad user name or password."""

    error_code = 10
    http_status = 401

    def __init__(self, message: str = "Permission denied: invalid username or password", **kw):
        super().__init__(message, **kw)


class InvalidSession(ScaleIOError):
    """Unknown, logged-out or expired session token."""

    error_code = 11
    http_status = 401

    def __init__(self, message: str = "Invalid session. Please login and try again.", **kw):
        super().__init__(message, **kw)


class Unreachable(ScaleIOError):
    """A component the MDM must talk to (SDS on 7072, MDM on 9011) does not answer."""

    error_code = 20
