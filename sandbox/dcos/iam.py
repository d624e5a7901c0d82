"""The sandbox's DC/OS IAM: users, login, RS256 ACS tokens and the published public keys.

Wire contract (served by the Admin Router, see :mod:`.adminrouter`), as DC/OS Open has it:

- ``POST /acs/api/v1/auth/login`` with ``{"uid": ..., "password": ...}`` -> 200 ``{"token": <jwt>}``;
  wrong uid/password -> 401 ``{"title", "description", "code": "ERR_INVALID_CREDENTIALS"}``;
  a body that is not a JSON object with string uid and password -> 400 ``code "ERR_INVALID_DATA"``.
- ``GET /acs/api/v1/auth/jwks`` -> ``{"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid", "n", "e"}]}``.

A token is a JWT signed RS256 with this IAM's key (RSA-2048, one per instance), header ``kid``,
claims ``uid`` (str) and ``exp`` (int, seconds since the epoch). Users are ``bootstrapuser`` (the
operator) and ``viewer``, each with a generated password (:attr:`Iam.users`).

Python API for tests::

    iam = Iam()
    token = iam.mint("bootstrapuser")                 # what login would answer
    expired = iam.mint("bootstrapuser", exp=int(time.time()) - 10)
    foreign = Iam().mint("bootstrapuser")             # another key: verify() refuses it
    iam.verify(token)                                 # -> claims; InvalidToken otherwise
"""
from __future__ import annotations

import base64
import hmac
import json
import secrets
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

LOGIN_PATH = "/acs/api/v1/auth/login"
JWKS_PATH = "/acs/api/v1/auth/jwks"
OPEN_PATHS = frozenset({LOGIN_PATH, JWKS_PATH})
BOOTSTRAP_USER = "bootstrapuser"
VIEWER_USER = "viewer"
DEFAULT_TTL_S = 5 * 24 * 3600   # DC/OS login tokens last five days


class InvalidToken(Exception):
    """A credential that is missing, malformed, signed by another key, or expired."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _error(status: int, title: str, description: str, code: str) -> tuple[int, dict]:
    return status, {"title": title, "description": description, "code": code}


class Iam:
    """One cluster's identity provider. Thread-safe (immutable after construction)."""

    def __init__(self, users: dict[str, str] | None = None, ttl_s: int = DEFAULT_TTL_S):
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.ttl_s = int(ttl_s)
        self.users: dict[str, str] = dict(users) if users is not None else {
            BOOTSTRAP_USER: secrets.token_urlsafe(12), VIEWER_USER: secrets.token_urlsafe(12)}

    # ------------------------------------------------------------------ tokens
    def mint(self, uid: str, ttl_s: int | None = None, exp: int | None = None) -> str:
        """A token for ``uid`` expiring at ``exp`` (epoch s) or ``ttl_s`` from now (default :attr:`ttl_s`).

        ``uid`` need not be a known user (tests mint tokens for identities the IAM never had)."""
        if exp is None:
            exp = int(time.time()) + int(self.ttl_s if ttl_s is None else ttl_s)
        return jwt.encode({"uid": uid, "exp": int(exp)}, self._key, algorithm="RS256",
                          headers={"kid": self.kid})

    def verify(self, token: str) -> dict:
        """The claims of a token this IAM signed and that has not expired; :class:`InvalidToken` otherwise."""
        if not isinstance(token, str) or not token:
            raise InvalidToken("no token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if header.get("kid") != self.kid:
            raise InvalidToken("token signed by an unknown key")
        try:
            claims = jwt.decode(token, self._key.public_key(), algorithms=["RS256"],
                                options={"require": ["exp", "uid"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        if not isinstance(claims.get("uid"), str):
            raise InvalidToken("invalid token: uid is not a string")
        return claims

    def jwks(self) -> dict:
        """The public key set as ``GET /acs/api/v1/auth/jwks`` publishes it."""
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                          "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}]}

    # ------------------------------------------------------------------ login
    def check_password(self, uid: str, password: str) -> bool:
        expected = self.users.get(uid)
        # compare_digest on equal-type str; an unknown uid still costs one comparison
        return hmac.compare_digest((expected or "\0").encode(), password.encode()) and expected is not None

    def login(self, body: bytes) -> tuple[int, dict]:
        """Answer a login request body: ``(status, JSON object)``."""
        try:
            data = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "Bad Request", "Request body is not valid JSON.", "ERR_INVALID_DATA")
        if not isinstance(data, dict) or not isinstance(data.get("uid"), str) \
                or not isinstance(data.get("password"), str):
            return _error(400, "Bad Request", "Expected an object with string fields uid and password.",
                          "ERR_INVALID_DATA")
        if not self.check_password(data["uid"], data["password"]):
            return _error(401, "Unauthorized", "Invalid credentials.", "ERR_INVALID_CREDENTIALS")
        return 200, {"token": self.mint(data["uid"])}
