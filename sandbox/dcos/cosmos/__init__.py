"""The sandbox's Cosmos (DC/OS package manager), mounted by the Admin Router at ``/package``,
``/cosmos`` and ``/capabilities``. See :mod:`.service` for the endpoints.

- :mod:`.media`: media types and content negotiation;
- :mod:`.errors`: the ``{"type", "message", "data"}`` errors;
- :mod:`.repos`: the repository list and fetching Universe repo indexes (v3/v4);
- :mod:`.packages`: options, rendering (via :mod:`..render`) and the labels Cosmos stamps on apps;
- :mod:`.marathon`: the Marathon REST calls;
- :mod:`.uninstall`: Marathon-style and SDK-style (``SDK_UNINSTALL``) uninstall;
- :mod:`.universe_server`: a Universe repository server for a built ``repo.json`` (+ ``build_repo``).

Deviations from DC/OS's Cosmos (0.6.x), on purpose:

- state (the repository list, SDK uninstalls in progress) lives in memory, not in ZooKeeper; no
  default Universe repository (no internet); repositories are fetched on every lookup (no cache);
- it reaches an SDK scheduler at its Marathon task's address (``DCOS_SERVICE_*`` labels), not
  through the Admin Router with its own credentials; it polls every ``uninstall_poll_s`` (1 s, not
  10 s) for at most ``uninstall_timeout_s``; a service update during an SDK uninstall keeps
  ``SDK_UNINSTALL=true`` on the app;
- ``service/describe`` answers empty ``upgradesTo``/``downgradesTo`` (one package version at a time);
- v3/v4 repositories only (packagingVersion up to 4.0); no ``/package/list-versions`` paging,
  ``/package/add`` (Package Registry) or ``/package/resource``;
- error types where the real name is unknown or Finch-generated are named here: ``MalformedRequest``
  (undecodable body), ``RepositoryNotValid``, ``ServiceNotManagedByCosmos``, ``InvalidMustacheTemplate``,
  ``NotFound``/``MethodNotAllowed``, ``Unexpected`` (500).
"""
from .errors import CosmosError
from .service import Cosmos

__all__ = ["Cosmos", "CosmosError"]
