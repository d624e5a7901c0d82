"""Fetching secrets from the scheduler (contract: GET /v1/executor/secrets).

``GET {SCALEIO_SCHEDULER_URL}/v1/executor/secrets?executor_id=<id>`` with
``Authorization: Bearer <SCALEIO_EXECUTOR_TOKEN>`` -> 200 ``{"admin_password": "..."}``; 401 wrong or
missing token; 403 the token is valid but this executor is no longer the current one.

Secret values live only in the dict :meth:`SecretsClient.fetch` returns; the caller drops it when
the step ends. No value ever reaches a log line or an exception: :class:`SecretsError` messages
are built from the status code and the *names* only, never from the response body.
For ``https://`` scheduler URLs the server certificate is verified against the CA bundle named by
``SCALEIO_SCHEDULER_CA`` when set, else the system store.

DC/OS Enterprise alternative: a secret reference in the executor's environment (ExecutorInfo env
variable of type SECRET, resolved by the agent) named in :data:`ENV_SECRETS`
(``SCALEIO_ADMIN_PASSWORD`` for ``admin_password``). When it is set and non-empty it is used and
the endpoint is not asked for that name. Host commands never inherit it (they get a fixed
environment, see framework.host.hostcmd).
"""
from __future__ import annotations

import os

import requests

URL_ENV, TOKEN_ENV, CA_ENV = "SCALEIO_SCHEDULER_URL", "SCALEIO_EXECUTOR_TOKEN", "SCALEIO_SCHEDULER_CA"
PATH = "/v1/executor/secrets"
ENV_SECRETS = {"admin_password": "SCALEIO_ADMIN_PASSWORD"}
TIMEOUT_S = 10.0


class SecretsError(Exception):
    """The secrets could not be fetched. ``retryable`` is False when retrying with this executor
    cannot help (token refused, executor no longer current, secret missing)."""

    def __init__(self, reason: str, retryable: bool):
        super().__init__(reason)
        self.reason, self.retryable = reason, retryable


class SecretsClient:
    def __init__(self, url: str, token: str, executor_id: str, ca_file: str | None = None,
                 timeout_s: float = TIMEOUT_S, env_secrets=None):
        """``env_secrets``: a mapping read at fetch time for :data:`ENV_SECRETS` (None: not used)."""
        self.url, self.executor_id, self.timeout_s = (url or "").rstrip("/"), executor_id, timeout_s
        self._token = token or ""
        self.verify = ca_file or True
        self._env_secrets = env_secrets

    @classmethod
    def from_env(cls, executor_id: str, env=None) -> "SecretsClient":
        env = os.environ if env is None else env
        return cls(env.get(URL_ENV, ""), env.get(TOKEN_ENV, ""), executor_id, env.get(CA_ENV) or None,
                   env_secrets=env)

    def __repr__(self):          # never shows the token
        return f"SecretsClient({self.url!r}, executor_id={self.executor_id!r})"

    def fetch(self, names) -> dict:
        """``{name: value}`` for every name in ``names`` (empty dict, and no request, for none)."""
        names = list(names)
        found = {}
        if self._env_secrets is not None:
            for name in names:
                value = self._env_secrets.get(ENV_SECRETS.get(name, ""), "")
                if value:
                    found[name] = value
        names = [n for n in names if n not in found]
        if not names:
            return found
        found.update(self._fetch_http(names))
        return found

    def _fetch_http(self, names: list) -> dict:
        if not self.url.startswith(("http://", "https://")):
            raise SecretsError(f"cannot fetch {', '.join(names)}: {URL_ENV} is not set to the scheduler's "
                               "http(s) URL", retryable=False)
        if not self._token:
            raise SecretsError(f"cannot fetch {', '.join(names)}: {TOKEN_ENV} is not set", retryable=False)
        where = f"{self.url}{PATH}"
        try:
            resp = requests.get(where, params={"executor_id": self.executor_id}, timeout=self.timeout_s,
                                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                                verify=self.verify, allow_redirects=False)
        except requests.RequestException as exc:
            raise SecretsError(f"cannot reach the scheduler's secrets endpoint {where}: {type(exc).__name__}",
                               retryable=True) from None
        with resp:
            if resp.status_code == 401:
                raise SecretsError("the scheduler refused this executor's token (401) at the secrets endpoint",
                                   retryable=False)
            if resp.status_code == 403:
                raise SecretsError("the scheduler says this executor is no longer current (403): "
                                   "secrets are only served to the current executor", retryable=False)
            if resp.status_code != 200:
                raise SecretsError(f"the scheduler's secrets endpoint answered HTTP {resp.status_code}",
                                   retryable=resp.status_code >= 500)
            try:
                body = resp.json()
            except ValueError:
                body = None
        if not isinstance(body, dict):
            raise SecretsError("the scheduler's secrets endpoint did not answer a JSON object", retryable=True)
        missing = [n for n in names if not isinstance(body.get(n), str) or not body.get(n)]
        if missing:
            raise SecretsError(f"the scheduler did not provide {', '.join(missing)}", retryable=False)
        return {n: body[n] for n in names}
