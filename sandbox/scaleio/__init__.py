"""The simulated ScaleIO world: one system (MDM cluster + storage objects), its gateway REST API, TLS.

- :mod:`.system`   -- :class:`System`, the shared state every ScaleIO tool and the gateway act on.
- :mod:`.errors`   -- typed MDM refusals carrying the real status texts / gateway error codes.
- :mod:`.records`  -- the immutable records the system returns.
- :mod:`.gateway`  -- the gateway REST API server (HTTPS, token auth) PyPowerFlex talks to.
- :mod:`.tls`      -- per-sandbox CA and server certificates.
- :mod:`.cli`      -- ``python -m dcos_scaleio.sandbox scaleio``: a pre-built system + gateway.
"""
from .errors import ScaleIOError  # noqa: F401
from .system import System  # noqa: F401
