"""The sandbox's Cosmos (DC/OS package manager), mounted by the Admin Router at ``/package``,
``/cosmos`` and ``/capabilities``. See :mod:`.service` for the endpoints.

- :mod:`.media`: media types and content negotiation;
- :mod:`.errors`: the ``{"type", "message", "data"}`` errors;
- :mod:`.repos`: the repository list and fetching Universe repo indexes (v3/v4);
- :mod:`.packages`: options, rendering (via :mod:`..render`) and the labels Cosmos stamps on apps;
- :mod:`.marathon`: the Marathon REST calls;
- :mod:`.uninstall`: Marathon-style and SDK-style (``SDK_UNINSTALL``) uninstall.
"""
from .errors import CosmosError
from .service import Cosmos

__all__ = ["Cosmos", "CosmosError"]
