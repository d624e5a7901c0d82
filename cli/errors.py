"""Exit codes of ``dcos-scaleio`` and the one exception every verb raises to end with one.

The codes are part of the CLI's contract (documented in cli/README.md); scripts may rely on them:

====  ==================  =========================================================================
code  name                meaning
====  ==================  =========================================================================
0     OK                  done; for plan reads and waits: the plan is COMPLETE
1     ERROR               anything else (an unexpected answer from the cluster, a 5xx)
2     USAGE               bad command line (unknown verb, missing argument)
3     PLAN_INCOMPLETE     the plan is not COMPLETE yet (in progress, pending, waiting, timed out)
4     PLAN_ERROR          the plan (or a step of it) is in ERROR
5     VALIDATION          options or a request refused as invalid (locally or a 400/422), field named
6     AUTH                401: no, invalid or expired ACS token: run ``dcos auth login``
7     FORBIDDEN           403: the identity may not do this
8     UNREACHABLE         the cluster cannot be reached (connection refused, DNS, timeout, TLS)
9     NOT_INSTALLED       the service is not installed (the Admin Router knows no /service/<name>)
10    NOT_FOUND           unknown node, plan, phase, step or endpoint
11    UNAVAILABLE         the service is installed but its scheduler does not answer (502/503/504)
12    CONFIG              no usable DC/OS CLI configuration (no dcos_url, unreadable dcos.toml)
130   INTERRUPTED         Ctrl-C
====  ==================  =========================================================================
"""
from __future__ import annotations

OK = 0
ERROR = 1
USAGE = 2
PLAN_INCOMPLETE = 3
PLAN_ERROR = 4
VALIDATION = 5
AUTH = 6
FORBIDDEN = 7
UNREACHABLE = 8
NOT_INSTALLED = 9
NOT_FOUND = 10
UNAVAILABLE = 11
CONFIG = 12
INTERRUPTED = 130

NAMES = {value: name for name, value in globals().items() if name.isupper() and isinstance(value, int)}


class CliError(Exception):
    """Ends the command with ``code`` after printing ``message`` (and ``hint``, what to do) to stderr.

    ``details`` are extra lines (e.g. one per invalid field) printed under the message.
    """

    def __init__(self, code: int, message: str, hint: str | None = None, details: list[str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.details = list(details or [])

    def render(self) -> str:
        lines = [f"Error: {self.message}"] + [f"  {d}" for d in self.details]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)
