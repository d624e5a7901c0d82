"""Strict validation of step parameters, before any command runs.

The value patterns are the options' own (:mod:`dcos_scaleio.options.patterns`), so the CLI, the
scheduler and the host steps agree on what is acceptable; this module adds the few host-only
patterns (package versions, Mesos versions, file names) and a small declarative checker.

A step declares ``PARAMS = {name: (checker, required)}``; :func:`check_params` returns the cleaned
parameters or raises :class:`BadParams` naming *every* offending field. Parameters a step does not
declare are dropped, so they can never reach a command.
"""
from __future__ import annotations

import re

from dcos_scaleio.options import patterns

__all__ = ["BadParams", "check_params", "ip", "ip_list", "device_path", "scaleio_name", "hostname",
           "url", "sha256", "boolean", "device_list", "port", "one_of", "scaleio_version", "semver", "mesos_version",
           "abs_path", "artifact", "packages", "members", "optional_artifact", "file_name", "is_ipv4"]

SCALEIO_VERSION = re.compile(r"^[23]\.[0-9]+(\.[0-9]+)*(-[0-9]+(\.[0-9]+)*)?$")
SEMVER = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
ABS_PATH = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,200}$")
is_ipv4 = patterns.is_ipv4


class BadParams(ValueError):
    """Parameters refused; ``errors`` maps each offending field to why."""

    def __init__(self, errors: dict):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


class _Bad(ValueError):
    pass


def _str(value, what: str, regex=None, predicate=None, max_len=1024) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise _Bad(f"must be a non-empty {what}")
    if regex is not None and not regex.fullmatch(value):
        raise _Bad(f"is not a valid {what}")
    if predicate is not None and not predicate(value):
        raise _Bad(f"is not a valid {what}")
    return value


def ip(value) -> str:
    return _str(value, "IPv4 address", predicate=patterns.is_ipv4)


def ip_list(value) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise _Bad("must be a non-empty list of IPv4 addresses")
    out = [ip(v) for v in value]
    if len(set(out)) != len(out):
        raise _Bad("has duplicate addresses")
    return out


def device_path(value) -> str:
    return _str(value, "block device path under /dev", predicate=patterns.is_device_path)


def device_list(value) -> list:
    if not isinstance(value, (list, tuple)):
        raise _Bad("must be a list of block device paths")
    return [device_path(d) for d in value]


def scaleio_name(value) -> str:
    return _str(value, "ScaleIO name (letters, digits, _ . -, at most 31 characters)",
                predicate=patterns.is_scaleio_name)


def hostname(value) -> str:
    return _str(value, "host name", predicate=patterns.is_hostname)


def url(value) -> str:
    return _str(value, "http(s)/file URL", regex=patterns.URL)


def sha256(value) -> str:
    return _str(value, "sha256 (64 lowercase hex digits)", regex=patterns.SHA256)


def scaleio_version(value) -> str:
    return _str(value, "ScaleIO version (e.g. 3.0 or 3.0-200.104)", regex=SCALEIO_VERSION)


def semver(value) -> str:
    return _str(value, "version (x.y.z)", regex=SEMVER)


mesos_version = semver


def abs_path(value) -> str:
    value = _str(value, "absolute path", regex=ABS_PATH)
    if any(part in (".", "..") for part in value.split("/")):
        raise _Bad("must not contain . or .. components")
    return value


def file_name(value) -> str:
    return _str(value, "file name", regex=FILE_NAME)


def boolean(value) -> bool:
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


def port(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _Bad("must be a TCP port (1-65535)")
    return value


def one_of(*choices):
    def check(value):
        if value not in choices:
            raise _Bad(f"must be one of {', '.join(map(str, choices))}")
        return value
    check.__name__ = "one_of(" + ",".join(map(str, choices)) + ")"
    return check


def artifact(value) -> dict:
    if not isinstance(value, dict):
        raise _Bad("must be an object with url and sha256")
    return {"url": url(value.get("url")), "sha256": sha256(value.get("sha256"))}


def optional_artifact(value):
    return None if value is None else artifact(value)


def packages(value) -> dict:
    """``{component: {url, sha256}}`` for the components a step installs."""
    if not isinstance(value, dict):
        raise _Bad("must be an object of component -> {url, sha256}")
    out = {}
    for comp, art in value.items():
        if comp not in ("mdm", "sds", "sdc", "lia", "gateway", "rexray", "dvdcli"):
            raise _Bad(f"unknown component {str(comp)[:20]!r}")
        try:
            out[comp] = artifact(art)
        except _Bad as exc:
            raise _Bad(f"{comp}: {exc}") from None
    return out


def members(value) -> list:
    """MDM cluster members ``[{name, ip}]`` (standby managers or tie-breakers)."""
    if not isinstance(value, (list, tuple)):
        raise _Bad("must be a list of {name, ip}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise _Bad(f"[{i}] must be an object with name and ip")
        try:
            out.append({"name": scaleio_name(m.get("name")), "ip": ip(m.get("ip"))})
        except _Bad as exc:
            raise _Bad(f"[{i}]: {exc}") from None
    return out


def check_params(params, spec: dict) -> dict:
    """Validate ``params`` against ``spec`` = ``{name: (checker, required[, default])}``."""
    if not isinstance(params, dict):
        raise BadParams({"params": "must be a JSON object"})
    errors, out = {}, {}
    for name, entry in spec.items():
        checker, required = entry[0], entry[1]
        # An empty string means "not configured" (options default to ""), like a missing key.
        if params.get(name) is None or params.get(name) == "":
            if required:
                errors[name] = "is required"
            elif len(entry) > 2:
                out[name] = entry[2]
            continue
        try:
            out[name] = checker(params[name])
        except _Bad as exc:
            errors[name] = str(exc)
    if errors:
        raise BadParams(errors)
    return out
