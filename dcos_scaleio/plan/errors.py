"""Errors the engine raises to its caller (the HTTP API maps them to 4xx answers)."""

__all__ = ["UnknownElement", "RequestRejected"]


class UnknownElement(LookupError):
    """An operator command named a plan, phase or step that does not exist (HTTP 404)."""


class RequestRejected(ValueError):
    """An add-device request is invalid; ``field`` names the offending input (HTTP 4xx)."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status
