"""Who may change things through the operator API.

Contract (notes: round-2 "Auth contract"):

- The credential comes in ``Authorization: token=<credential>`` (the DC/OS CLI's form) or
  ``Authorization: Bearer <credential>``.
- It is either a DC/OS ACS token -- a JWT signed RS256, with header ``kid`` and claims ``uid``
  (string) and ``exp`` (int), verified against the JWKS at ``SCALEIO_IAM_JWKS_URL`` (fetched
  lazily, cached, fetched again -- at most every :data:`JWKS_COOLDOWN_S` -- when a token names an
  unknown ``kid``; TLS verified with the CA bundle at ``SCALEIO_IAM_CA``, not at all when it is
  ``false``, else with the system CAs) -- or the service's own API token ``SCALEIO_API_TOKEN``,
  compared in constant time.
- ``SCALEIO_API_OPERATORS``: comma-separated uids that may mutate; unset or empty = every valid
  identity. The API token always may.
- Missing, malformed, wrong or expired credential: 401 with ``WWW-Authenticate: acsjwt``;
  a valid identity that is not an operator: 403; the IAM's keys cannot be fetched: 503.

Nothing here logs or returns a credential.
"""
from __future__ import annotations

import hmac
import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Mapping

import jwt

__all__ = ["Authenticator", "Decision", "credential_from_header", "API_TOKEN_IDENTITY", "JWKS_COOLDOWN_S"]

LOG = logging.getLogger(__name__)
API_TOKEN_IDENTITY = "service-api-token"
JWKS_COOLDOWN_S = 10.0          # least time between two JWKS fetches caused by unknown kids
JWKS_LIFESPAN_S = 300.0         # the cached key set is fetched again after this long
JWKS_TIMEOUT_S = 5.0
CHALLENGE = {"WWW-Authenticate": "acsjwt"}
_LOGIN_HINT = "log in again (dcos auth login) and send 'Authorization: token=<ACS token>'"


@dataclass(frozen=True)
class Decision:
    """``status`` 200 (allowed), 401, 403 or 503; ``identity`` the uid (or the API token's
    pseudo-identity) when the credential was valid; ``message`` says why when refused."""
    status: int
    identity: str | None = None
    message: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200

    @property
    def headers(self) -> dict:
        return dict(CHALLENGE) if self.status == 401 else {}


def credential_from_header(value: str | None) -> str | None:
    """The credential of an ``Authorization`` header value, or None if absent or malformed."""
    if not value:
        return None
    value = value.strip()
    lower = value.lower()
    if lower.startswith("token="):
        cred = value[6:].strip()
    elif lower.startswith("bearer "):
        cred = value[7:].strip()
    else:
        return None
    # A credential is printable ASCII without spaces; anything else is malformed.
    if not cred or len(cred) > 16384 or not all(33 <= ord(ch) < 127 for ch in cred):
        return None
    return cred


def _ssl_context(ca: str | None) -> ssl.SSLContext:
    if ca is not None and ca.strip().lower() == "false":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca and ca.strip():
        return ssl.create_default_context(cafile=ca.strip())
    return ssl.create_default_context()


class Authenticator:
    """Decides on the ``Authorization`` header of a mutating request (see the module docstring)."""

    def __init__(self, jwks_url: str | None = None, ca: str | None = None, api_token: str | None = None,
                 operators=(), cooldown_s: float = JWKS_COOLDOWN_S):
        self.jwks_url = (jwks_url or "").strip() or None
        self._api_token = (api_token or "").encode()
        self.operators = frozenset(u.strip() for u in operators if u and u.strip())
        self._lock = threading.Lock()
        self._client = None
        if self.jwks_url:
            self._client = jwt.PyJWKClient(self.jwks_url, cache_keys=False, cache_jwk_set=True,
                                           lifespan=JWKS_LIFESPAN_S, timeout=JWKS_TIMEOUT_S,
                                           ssl_context=_ssl_context(ca), cooldown_duration=cooldown_s)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Authenticator":
        ops = (environ.get("SCALEIO_API_OPERATORS") or "").split(",")
        return cls(environ.get("SCALEIO_IAM_JWKS_URL"), environ.get("SCALEIO_IAM_CA"),
                   environ.get("SCALEIO_API_TOKEN"), ops)

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a response (the API token)."""
        return [self._api_token.decode()] if self._api_token else []

    def decide(self, authorization: str | None) -> Decision:
        """The decision for a mutating request carrying this ``Authorization`` header value."""
        cred = credential_from_header(authorization)
        if cred is None:
            why = "missing" if not authorization else "malformed"
            return Decision(401, message=f"authentication required: {why} Authorization header; {_LOGIN_HINT}")
        if self._api_token and hmac.compare_digest(cred.encode(), self._api_token):
            return Decision(200, API_TOKEN_IDENTITY)
        if cred.count(".") != 2:
            return Decision(401, message=f"invalid credential (neither an ACS token nor the service API token); "
                                         f"{_LOGIN_HINT}")
        if self._client is None:
            return Decision(401, message="ACS tokens cannot be verified: this service has no IAM key URL "
                                         "(SCALEIO_IAM_JWKS_URL); use the service API token")
        uid = self._verify(cred)
        if isinstance(uid, Decision):
            return uid
        if self.operators and uid not in self.operators:
            return Decision(403, uid, f"user {uid!r} may not change this service (not in SCALEIO_API_OPERATORS)")
        return Decision(200, uid)

    def _verify(self, token: str):
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return Decision(401, message=f"malformed ACS token; {_LOGIN_HINT}")
        if not isinstance(kid, str) or not kid:
            return Decision(401, message=f"ACS token without a key ID (kid); {_LOGIN_HINT}")
        try:
            with self._lock:      # one fetch at a time; PyJWKClient's cache is not meant for races
                key = self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            LOG.warning("cannot fetch the IAM public keys from %s: %s", self.jwks_url, exc)
            return Decision(503, message="cannot verify ACS tokens now: the cluster's public keys are unavailable")
        except jwt.PyJWKClientError:
            return Decision(401, message=f"ACS token signed by an unknown key; {_LOGIN_HINT}")
        except jwt.PyJWTError as exc:     # a JWKS document we cannot use
            LOG.warning("unusable IAM key set from %s: %s", self.jwks_url, exc)
            return Decision(503, message="cannot verify ACS tokens now: the cluster's key set is unusable")
        try:
            claims = jwt.decode(token, key.key, algorithms=["RS256"], options={"require": ["exp", "uid"]})
        except jwt.ExpiredSignatureError:
            return Decision(401, message=f"ACS token expired; {_LOGIN_HINT}")
        except jwt.PyJWTError:
            return Decision(401, message=f"invalid ACS token; {_LOGIN_HINT}")
        uid = claims.get("uid")
        if not isinstance(uid, str) or not uid or not isinstance(claims.get("exp"), int):
            return Decision(401, message=f"ACS token with invalid claims (uid, exp); {_LOGIN_HINT}")
        return uid
