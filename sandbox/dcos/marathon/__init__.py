"""The sandbox's Marathon (see :mod:`.server` for the REST contract and its deviations).

- :mod:`.appdef`: AppDefinition validation/defaults, label selectors;
- :mod:`.tasks`: one app version run as supervised tasks in fresh sandboxes, with health checks;
- :mod:`.server`: :class:`Marathon`, apps, deployments and the HTTP API.
"""
from .server import Marathon

__all__ = ["Marathon"]
