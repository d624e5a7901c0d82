"""The operator HTTP API (issue 6) on the scheduler's :class:`~dcos_scaleio.framework.scheduler.http_api.ApiServer`.

:func:`install` is the one hook the scheduler calls (from ``app.install_routes``), once the
issue-5 routes are in place, with everything the operator endpoints need:

- ``api``: the ApiServer (``route``/``route_prefix``);
- ``core``: the scheduler core (engine reads/writes only through ``core.call(fn)``;
  operator commands through ``core.call(lambda c: c.apply(event))``);
- ``reads``: the per-engine-version read cache (``reads.get(name, fn)``);
- ``context``: :class:`ApiContext` (options or None when they are invalid, validation errors,
  a ``gateway(endpoint)`` factory or None, the process environment, and the merged options JSON
  when the scheduler passes it: ``GET /v1/config`` shows that shape, else one built from ``options``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["ApiContext", "install"]


@dataclass
class ApiContext:
    options: Any = None                       # dcos_scaleio.options Options, or None (bad options)
    errors: list = field(default_factory=list)
    gateway: Callable | None = None           # endpoint -> framework.cluster.Gateway
    environ: Mapping[str, str] = field(default_factory=dict)
    merged: Mapping[str, Any] = field(default_factory=dict)   # the validated options as JSON (config.json shape)


def install(api, core, reads, context: ApiContext, clock: Callable[[], float] = time.time) -> None:
    """Add the operator endpoints (see README.md in this folder for the route list).

    Mutating routes are guarded by an :class:`~.auth.Authenticator` built from ``context.environ``
    (``SCALEIO_IAM_JWKS_URL``, ``SCALEIO_IAM_CA``, ``SCALEIO_API_TOKEN``, ``SCALEIO_API_OPERATORS``).
    """
    from . import metrics, nodes, openapi, plans, preview, service
    from .auth import Authenticator
    authenticator = Authenticator.from_environ(context.environ)
    view = service.ClusterView(core, context)
    plans.install(api, core, reads, authenticator, clock)
    nodes.install(api, core, reads, authenticator, clock)
    service.install(api, core, reads, context, view)
    metrics.install(api, core, reads, view)
    preview.install(api, core, context, clock)
    openapi.install(api)
