"""One function that validates options: the schema (draft-04) and the semantic checks together.

:func:`validate` returns *every* problem with the dotted path of the offending field, plus
warnings, and the typed :class:`~dcos_scaleio.options.model.Options` when there are no errors.
The scheduler (which puts the deploy plan in ERROR instead of crash-looping), the CLI (which
refuses before sending) and the preview all call it, so they cannot disagree.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from . import patterns
from .model import DESTROY_CONFIRMATION, REDACTED, SECRET_FIELDS, Options
from .schema import load_schema, merged_options

__all__ = ["FieldError", "Validation", "validate", "redact"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem: ``path`` is the dotted option path (``scaleio.existing.mdm_ips``)."""
    path: str
    message: str

    def __str__(self):
        return f"{self.path}: {self.message}"

    def to_json(self) -> dict:
        return {"field": self.path, "message": self.message}


@dataclass(frozen=True)
class Validation:
    """The outcome of :func:`validate`. ``options`` is None exactly when ``errors`` is not empty."""
    merged: dict
    errors: tuple[FieldError, ...]
    warnings: tuple[str, ...]
    options: Options | None = field(default=None)

    @property
    def ok(self) -> bool:
        return not self.errors

    def redacted(self) -> dict:
        """The merged options with every secret replaced, safe to render anywhere."""
        return redact(self.merged)


def redact(merged: dict) -> dict:
    """A copy of merged options with secret values replaced by a fixed marker (empty stays empty)."""
    out = copy.deepcopy(merged)
    for path in SECRET_FIELDS:
        node = out
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and node.get(path[-1]):
            node[path[-1]] = REDACTED
    return out


def validate(user_options: dict | None, schema: dict | None = None) -> Validation:
    """Validate user options (defaults deep-merged first, as Cosmos does). Never raises on bad input."""
    schema = schema if schema is not None else load_schema()
    if user_options is not None and not isinstance(user_options, dict):
        return Validation({}, (FieldError("(root)", "options must be a JSON object"),), ())
    merged = merged_options(user_options, schema)
    errors = _schema_errors(schema, merged)
    warnings: list[str] = []
    _semantic_checks(merged, errors, warnings)
    errors = tuple(sorted(set(errors), key=lambda e: (e.path, e.message)))
    options = None if errors else Options.from_merged(merged)
    return Validation(merged, errors, tuple(warnings), options)


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(root)"


def _schema_errors(schema: dict, merged: dict) -> list[FieldError]:
    import jsonschema  # here, not at module level: importing it costs ~150 ms of CLI start-up
    errors = []
    for err in jsonschema.Draft4Validator(schema).iter_errors(merged):
        parts = list(err.absolute_path)
        if err.validator == "additionalProperties":
            # Name each unexpected key, not just its parent.
            allowed = set(err.schema.get("properties", {}))
            for key in sorted(set(err.instance) - allowed):
                errors.append(FieldError(_path(parts + [key]), "unknown option"))
            continue
        if tuple(str(p) for p in parts) in SECRET_FIELDS:
            # jsonschema messages quote the value; a secret must never appear in an error.
            message = f"invalid value ({err.validator} {err.validator_value!r})" \
                if err.validator != "type" else f"must be of type {err.validator_value}"
        else:
            message = err.message
        errors.append(FieldError(_path(parts), message))
    return errors


def _semantic_checks(m: dict, errors: list, warnings: list) -> None:
    """Rules the schema cannot express. Each appends FieldErrors/warnings; none returns early."""
    for check in (_check_control_characters, _check_mode, _check_password, _check_devices, _check_artifacts, _check_retry,
                  _check_gateway, _check_uninstall, _check_agents):
        try:
            check(m, errors.append, warnings.append)
        except (KeyError, TypeError, AttributeError, ValueError):
            # The schema already reported the malformed shape this check would read; the other
            # checks still run so that every error is reported at once.
            pass


# Fields where line breaks are legitimate; the password has its own rule in _check_password.
_MULTILINE = {("scaleio", "gateway", "ca_pem")} | set(SECRET_FIELDS)


def _check_control_characters(m, error, warn):
    """Refuse control characters anywhere (the schema's '$' lets a trailing newline through)."""
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (str(key),))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + (str(i),))
        elif isinstance(node, str) and path not in _MULTILINE and any(ord(c) < 32 or ord(c) == 127 for c in node):
            error(FieldError(_path(path), "must not contain control characters or line breaks"))
    walk(m, ())


def _check_mode(m, error, warn):
    sio = m["scaleio"]
    if sio["mode"] == "existing":
        existing = sio["existing"]
        if not existing["mdm_ips"]:
            error(FieldError("scaleio.existing.mdm_ips", "mode=existing needs the IPs of the system's MDM managers"))
        if not existing["gateway_endpoint"]:
            error(FieldError("scaleio.existing.gateway_endpoint", "mode=existing needs the gateway endpoint"))
        elif existing["gateway_endpoint"].startswith("http://"):
            warn("scaleio.existing.gateway_endpoint: plain http sends the admin password unencrypted")
        return
    prov = sio["provision"]
    hosts = prov["mdm_hosts"]
    if hosts and len(hosts) != prov["mdm_count"]:
        error(FieldError("scaleio.provision.mdm_hosts",
                         f"pins {len(hosts)} hosts but mdm_count is {prov['mdm_count']}: pin exactly 3 or 5 "
                         "(primary, secondaries, tie-breakers)"))
    excluded = set(m["agents"]["exclude_hostnames"])
    for i, host in enumerate(hosts):
        if host in excluded:
            error(FieldError(f"scaleio.provision.mdm_hosts.{i}", f"{host} is also in agents.exclude_hostnames"))


def _password_strength_problem(pw: str) -> str | None:
    if any(ord(c) < 32 or ord(c) == 127 for c in pw):
        return "must not contain control characters"
    classes = sum(any(f(c) for c in pw) for f in (str.islower, str.isupper, str.isdigit,
                                                   lambda c: not c.isalnum()))
    if len(pw) < 8 or classes < 3:
        return "ScaleIO needs at least 8 characters from 3 of: lower case, upper case, digits, others"
    return None


def _check_password(m, error, warn):
    sio = m["scaleio"]
    value, secret = sio["admin_password"], sio["admin_password_secret"]
    if not value and not secret:
        error(FieldError("scaleio.admin_password",
                         "required: give admin_password_secret (DC/OS Enterprise) or admin_password"))
        return
    if value and not secret:
        problem = _password_strength_problem(value)
        if problem:
            error(FieldError("scaleio.admin_password", problem))
        warn("scaleio.admin_password is given as a value: it is visible to anyone who can read the "
             "Marathon app; on DC/OS Enterprise use scaleio.admin_password_secret")
    if value and secret:
        warn("scaleio.admin_password is ignored because scaleio.admin_password_secret is set")


def _check_devices(m, error, warn):
    devices = m["devices"]
    seen = {}
    for n, entry in enumerate(devices["host_devices"]):
        host = entry.get("host")
        if host in seen:
            error(FieldError(f"devices.host_devices.{n}.host", f"{host} is already listed at index {seen[host]}"))
        seen.setdefault(host, n)
        for i, path in enumerate(entry.get("paths", ())):
            # The schema reports paths failing the pattern; this catches '.', '..' and '//'.
            if isinstance(path, str) and patterns.DEVICE_PATH.fullmatch(path) and not patterns.is_device_path(path):
                error(FieldError(f"devices.host_devices.{n}.paths.{i}",
                                 "must be a block device path under /dev without '.', '..' or empty components"))
    disc = devices["discovery"]
    if disc["enabled"] and disc["allow"] and set(disc["allow"]) <= set(disc["deny"]):
        error(FieldError("devices.discovery.allow", "every allowed pattern is also denied: nothing can be used"))


def _check_artifacts(m, error, warn):
    arts = m["artifacts"]
    pairs = [("executor", arts["executor"])]
    pairs += [(f"{fam}.{comp}", a) for fam in ("rhel", "ubuntu") for comp, a in arts[fam].items()]
    for name, art in pairs:
        if art["url"] and not art["sha256"]:
            error(FieldError(f"artifacts.{name}.sha256", "required with a URL: every download is checked"))
        if art["sha256"] and not art["url"]:
            error(FieldError(f"artifacts.{name}.url", "a sha256 is given without a URL"))
    if m["isolator"]["mode"] == "dvdi" and not m["isolator"]["dvdi_modules"]:
        warn("isolator.mode=dvdi but no isolator.dvdi_modules: every agent uses the native docker/volume isolator")
    versions = [mod["mesos_version"] for mod in m["isolator"]["dvdi_modules"]]
    for i, v in enumerate(versions):
        if v in versions[:i]:
            error(FieldError(f"isolator.dvdi_modules.{i}.mesos_version", f"Mesos {v} has more than one module"))


def _check_retry(m, error, warn):
    retry = m["service"]["retry"]
    if retry["backoff_max_s"] < retry["backoff_initial_s"]:
        error(FieldError("service.retry.backoff_max_s", "must not be smaller than backoff_initial_s"))


def _check_gateway(m, error, warn):
    gw = m["scaleio"]["gateway"]
    if gw["ca_pem"] and gw["ca_file"]:
        error(FieldError("scaleio.gateway.ca_file", "give ca_pem or ca_file, not both"))
    if gw["ca_pem"] and "-----BEGIN CERTIFICATE-----" not in gw["ca_pem"]:
        error(FieldError("scaleio.gateway.ca_pem", "not a PEM certificate bundle"))
    if not gw["tls_verify"]:
        warn("scaleio.gateway.tls_verify is off: the gateway's identity is not checked")


def _check_uninstall(m, error, warn):
    un = m["uninstall"]
    if un["level"] == "data" and un["confirm"] != DESTROY_CONFIRMATION:
        error(FieldError("uninstall.confirm", f"uninstall.level=data destroys data: set confirm to '{DESTROY_CONFIRMATION}'"))
    if un["level"] == "data" and m["scaleio"]["mode"] == "existing":
        warn("uninstall.level=data in existing mode destroys nothing the framework did not create: "
             "volumes, pools, the protection domain and the MDM cluster stay")
    if un["level"] != "data" and un["confirm"]:
        warn("uninstall.confirm is only used with uninstall.level=data")


def _check_agents(m, error, warn):
    agents = m["agents"]
    if m["service"]["state_store"]["type"] == "sqlite" and agents["flavour"] == "dcos":
        warn("service.state_store.type=sqlite on DC/OS: Marathon relaunches the scheduler in a fresh "
             "sandbox and the state is lost; use zookeeper")
    if m["rexray"]["enabled"] and not agents["allow_restart"]:
        warn("agents.allow_restart is off: agents whose isolator needs a restart report that step in "
             "ERROR until an operator restarts them or allows it")
