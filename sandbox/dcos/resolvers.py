"""Service resolvers for the Admin Router's ``/service/<name>/...`` routes.

A resolver is any callable ``name -> "http://ip:port" | None`` (the service's base URL, no trailing
slash; None when it does not know the name). The Admin Router asks its resolvers in order.

- :class:`StaticResolver`: a fixed table (what ``sandbox up`` started); a value may be a callable
  returning the current URL, so a service that moves (a restarted scheduler) is followed.
- :func:`marathon_app_resolver`: DC/OS's first rule, over the apps of a Marathon: the app whose label
  ``DCOS_SERVICE_NAME`` equals the name and that has a running task; proxied to the task's host and
  its port ``DCOS_SERVICE_PORT_INDEX`` with scheme ``DCOS_SERVICE_SCHEME`` (default ``http``).
"""
from __future__ import annotations

import threading
from typing import Callable, Iterable, Optional, Union

Target = Union[str, Callable[[], Optional[str]]]


class StaticResolver:
    """``name -> url`` from a table that can be changed while the router runs (thread-safe)."""

    def __init__(self, table: dict[str, Target] | None = None):
        self._lock = threading.Lock()
        self._table: dict[str, Target] = dict(table or {})

    def set(self, name: str, target: Target) -> None:
        with self._lock:
            self._table[name] = target

    def remove(self, name: str) -> None:
        with self._lock:
            self._table.pop(name, None)

    def __call__(self, name: str) -> str | None:
        with self._lock:
            target = self._table.get(name)
        if callable(target):
            target = target()
        return target.rstrip("/") if target else None


def resolve_from_apps(name: str, apps: Iterable[dict]) -> str | None:
    """The base URL for ``name`` from Marathon app JSON with embedded tasks (``tasks[].host``,
    ``tasks[].ports``, ``tasks[].state``), or None."""
    for app in apps:
        labels = app.get("labels") or {}
        if labels.get("DCOS_SERVICE_NAME") != name:
            continue
        try:
            index = int(labels.get("DCOS_SERVICE_PORT_INDEX", "0"))
        except ValueError:
            continue
        scheme = (labels.get("DCOS_SERVICE_SCHEME") or "http").lower()
        if scheme not in ("http", "https"):
            continue
        for task in app.get("tasks") or []:
            ports = task.get("ports") or []
            if task.get("state", "TASK_RUNNING") == "TASK_RUNNING" and 0 <= index < len(ports):
                return f"{scheme}://{task.get('host', '127.0.0.1')}:{ports[index]}"
    return None


def marathon_app_resolver(list_apps: Callable[[], Iterable[dict]]) -> Callable[[str], str | None]:
    """A resolver over ``list_apps()`` (Marathon app dicts with their tasks, e.g. ``Marathon.apps_json``)."""
    def resolve(name: str) -> str | None:
        return resolve_from_apps(name, list_apps())
    return resolve
