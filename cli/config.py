"""The DC/OS CLI's configuration, resolved exactly as the DC/OS CLI (0.6 Python and 1.x Go) does.

Every key is looked up in the environment first, then in the cluster's ``dcos.toml``:

================================  =====================================================================
key                               environment (first set wins)
================================  =====================================================================
``core.dcos_url``                 ``DCOS_URL``, ``DCOS_DCOS_URL``
``core.dcos_acs_token``           ``DCOS_ACS_TOKEN``, ``DCOS_DCOS_ACS_TOKEN``
``core.ssl_verify``               ``DCOS_TLS_INSECURE`` (1/true: no verification), ``DCOS_TLS_CA_PATH``
                                  (CA bundle), ``DCOS_SSL_VERIFY``; value true / false / CA bundle path
``core.timeout``                  ``DCOS_TIMEOUT`` (seconds to wait for an answer; default 60)
``package.cosmos_url``            ``DCOS_PACKAGE_COSMOS_URL`` (default: ``core.dcos_url``)
``scaleio.service_name``          ``DCOS_SCALEIO_SERVICE_NAME`` (default ``scaleio``; ``--name`` wins)
``scaleio.url``                   ``DCOS_SCALEIO_URL``: the service's base URL, bypassing the Admin
                                  Router (default ``<dcos_url>/service/<name>``)
================================  =====================================================================

The file: ``$DCOS_DIR`` (default ``~/.dcos``) ``/clusters/<id>/dcos.toml`` of the cluster selected
by ``DCOS_CLUSTER`` (its id or its ``cluster.name``), else of the *attached* cluster (the one whose
folder holds a file named ``attached``; a single configured cluster counts as attached, as the CLI
attaches it), else the legacy ``$DCOS_DIR/dcos.toml`` (or ``DCOS_CONFIG``) when no ``clusters/``
folder exists. Like the DC/OS CLI, a ``dcos.toml`` readable by group or others is refused (it holds
the token). Unlike the DC/OS CLI, an unset ``core.ssl_verify`` means *verify with the system CAs*.

Parsed with the stdlib ``tomllib``; the PyPI ``dcos`` package is never needed (it breaks on 3.10+).
The file is read only if a key is not in the environment (the Go CLI passes everything as env).
"""
from __future__ import annotations

import os
import os.path

from .errors import CONFIG, CliError

DEFAULT_SERVICE_NAME = "scaleio"
DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 5.0   # the DC/OS CLI's fixed connect timeout

_ENV = {
    "core.dcos_url": ("DCOS_URL", "DCOS_DCOS_URL"),
    "core.dcos_acs_token": ("DCOS_ACS_TOKEN", "DCOS_DCOS_ACS_TOKEN"),
    "core.ssl_verify": ("DCOS_SSL_VERIFY",),
    "core.timeout": ("DCOS_TIMEOUT",),
    "package.cosmos_url": ("DCOS_PACKAGE_COSMOS_URL",),
    "scaleio.service_name": ("DCOS_SCALEIO_SERVICE_NAME",),
    "scaleio.url": ("DCOS_SCALEIO_URL",),
}

# What ``dcos config set scaleio.<key>`` may set (printed by ``--config-schema``).
CONFIG_SCHEMA = {
    "$schema": "http://json-schema.org/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "service_name": {"title": "Service name", "type": "string",
                         "description": "Name of the ScaleIO service to manage (default: scaleio)"},
        "url": {"title": "Service URL", "type": "string", "pattern": "^https?://",
                "description": "Base URL of the service's API, bypassing the Admin Router "
                               "(default: <core.dcos_url>/service/<service_name>)"},
    },
}

_TRUE = ("1", "true", "yes", "on")


def _truthy(value: str) -> bool:
    return value.strip().lower() in _TRUE


class Config:
    """The resolved configuration. ``environ`` defaults to ``os.environ``; nothing is read eagerly."""

    def __init__(self, environ=None):
        self.environ = dict(os.environ if environ is None else environ)
        self._file: dict | None = None
        self._path: str | None = None
        self._loaded = False

    # ------------------------------------------------------------------ the file
    @property
    def dcos_dir(self) -> str:
        # Paths are plain strings: pathlib would cost start-up time for nothing (see cli/http.py).
        return self.environ.get("DCOS_DIR") or os.path.join(self.environ.get("HOME") or os.path.expanduser("~"),
                                                            ".dcos")

    def config_path(self) -> str | None:
        """The dcos.toml that applies, or None when there is none (env-only configuration)."""
        clusters = os.path.join(self.dcos_dir, "clusters")
        wanted = self.environ.get("DCOS_CLUSTER")
        folders = sorted(e.path for e in os.scandir(clusters) if e.is_dir()) if os.path.isdir(clusters) else []
        if wanted:
            for folder in folders:
                toml = os.path.join(folder, "dcos.toml")
                if os.path.basename(folder) == wanted or _cluster_name(toml) == wanted:
                    return toml
            raise CliError(CONFIG, f"DCOS_CLUSTER={wanted}: no such cluster in {clusters}",
                           "List the clusters with `dcos cluster list`.")
        if folders:
            attached = [f for f in folders if os.path.exists(os.path.join(f, "attached"))]
            if len(attached) == 1 or len(folders) == 1:
                return os.path.join((attached or folders)[0], "dcos.toml")
            raise CliError(CONFIG, f"no cluster is attached ({len(folders)} configured in {clusters})",
                           "Run `dcos cluster attach <name>` or set DCOS_CLUSTER.")
        legacy = self.environ.get("DCOS_CONFIG")
        path = legacy or os.path.join(self.dcos_dir, "dcos.toml")
        return path if os.path.isfile(path) else None

    def _load(self) -> dict:
        if not self._loaded:
            self._loaded = True
            self._path = self.config_path()
            self._file = _read_toml(self._path) if self._path is not None and os.path.isfile(self._path) else {}
        return self._file

    @property
    def path(self) -> str | None:
        self._load()
        return self._path

    # ------------------------------------------------------------------ keys
    def get(self, key: str, default=None):
        """``section.name`` from the environment, else from the file, else ``default``."""
        for var in _ENV.get(key, ()):
            value = self.environ.get(var)
            if value:
                return value
        node = self._load()
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return default if node is None or node == "" else node

    @property
    def dcos_url(self) -> str | None:
        url = self.get("core.dcos_url")
        return str(url).rstrip("/") if url else None

    @property
    def acs_token(self) -> str | None:
        token = self.get("core.dcos_acs_token")
        return str(token) if token else None

    @property
    def ssl_verify(self):
        """True (system CAs), False (no verification) or a CA bundle path."""
        if _truthy(self.environ.get("DCOS_TLS_INSECURE", "")):
            return False
        if self.environ.get("DCOS_TLS_CA_PATH"):
            return self.environ["DCOS_TLS_CA_PATH"]
        value = self.get("core.ssl_verify", True)
        if isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text

    @property
    def timeout(self) -> float:
        value = self.get("core.timeout", DEFAULT_TIMEOUT)
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise CliError(CONFIG, f"core.timeout must be a number of seconds, not {value!r}")
        return seconds if seconds > 0 else DEFAULT_TIMEOUT

    def service_name(self, override: str | None = None) -> str:
        return override or str(self.get("scaleio.service_name", DEFAULT_SERVICE_NAME))

    def require_dcos_url(self) -> str:
        url = self.dcos_url
        if not url:
            where = f" (read {self.path})" if self.path else ""
            raise CliError(CONFIG, f"no DC/OS cluster is configured: core.dcos_url is not set{where}",
                           "Run `dcos cluster setup <url>` (or set DCOS_URL and DCOS_ACS_TOKEN).")
        if not url.startswith(("http://", "https://")):
            raise CliError(CONFIG, f"core.dcos_url must start with http:// or https://, not {url!r}")
        return url

    def service_url(self, name: str | None = None) -> str:
        """Base URL of the service's API (no trailing slash)."""
        direct = self.get("scaleio.url")
        if direct:
            return str(direct).rstrip("/")
        return f"{self.require_dcos_url()}/service/{self.service_name(name)}"

    def cosmos_url(self) -> str:
        url = self.get("package.cosmos_url")
        return str(url).rstrip("/") if url else self.require_dcos_url()


def _check_permissions(path: str) -> None:
    mode = os.stat(path).st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        raise CliError(CONFIG, f"Permissions '{mode:04o}' for configuration file '{path}' are too open: "
                               "it holds your ACS token", f"Run `chmod 600 {path}`.")


def _read_toml(path: str) -> dict:
    import tomllib
    try:
        _check_permissions(path)
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise CliError(CONFIG, f"cannot read the configuration file {path}: {exc.strerror}")
    except tomllib.TOMLDecodeError as exc:
        raise CliError(CONFIG, f"the configuration file {path} is not valid TOML: {exc}")


def _cluster_name(path: str) -> str | None:
    try:
        return _read_toml(path).get("cluster", {}).get("name")
    except CliError:
        return None
