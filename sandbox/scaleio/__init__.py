"""The simulated ScaleIO world: one system (MDM cluster + storage objects), its gateway REST API, TLS.

- :mod:`.system`   -- :class:`System`, the shared state every ScaleIO tool and the gateway act on.
- :mod:`.errors`   -- typed MDM refusals carrying the real status texts / gateway error codes.
- :mod:`.records`  -- the immutable records the system returns.
- :mod:`.gateway`  -- the gateway REST API server (HTTPS, token auth) PyPowerFlex talks to.
- :mod:`.tls`      -- per-sandbox CA and server certificates.
- :mod:`.prebuilt` -- :class:`~.prebuilt.ExistingCluster`, a ready system + gateway for tests.
- :mod:`.cli`      -- ``python -m dcos_scaleio.sandbox scaleio``: a pre-built system + gateway + mirror.

Scope: ScaleIO / VxFlex OS 2.x-3.x. The gateway reports REST API version 3.0, which PyPowerFlex
(2.0.1) drives as a first-generation system (basic-auth token login). PowerFlex 4.x (``/rest/auth``,
bearer tokens, primary/secondary naming) is out of scope.

This package's ``__init__`` stays light (no TLS/HTTP imports): host tools import it on every call.
"""
from .errors import ScaleIOError
from .system import System

__all__ = ["ScaleIOError", "System"]
