"""What Cosmos does with a package: resolve options, render the Marathon app, and the labels it
stamps on the app (so that list, describe, update and uninstall can find their way back).

Rendering itself is :func:`dcos_scaleio.sandbox.dcos.render.render` (Cosmos-style mustache). Before
it, the user's options are deep-merged over the config.json defaults and the result validated
against config.json (Draft 4): a mismatch is 400 ``JsonSchemaMismatch`` listing every error. After it
the result must be a JSON object (``MarathonTemplateMustBeJsonObject``), ``appId`` replaces ``id``, and
Cosmos's labels are added (a package cannot override them): ``DCOS_PACKAGE_NAME``,
``DCOS_PACKAGE_VERSION``, ``DCOS_PACKAGE_SOURCE`` (the repository URI), ``DCOS_PACKAGE_OPTIONS``
(base64 of the user's options), ``DCOS_PACKAGE_DEFINITION`` (base64 of a storage envelope: the whole
package, gzipped), and the older ``DCOS_PACKAGE_METADATA``, ``DCOS_PACKAGE_REGISTRY_VERSION``,
``DCOS_PACKAGE_RELEASE``, ``DCOS_PACKAGE_IS_FRAMEWORK``.
"""
from __future__ import annotations

import base64
import gzip
import json

from dcos_scaleio.options.schema import deep_merge, defaults

from .errors import CosmosError
from .marathon import normalize_app_id

__all__ = ["resolve_options", "render_app", "package_labels", "installed_package", "user_options",
           "package_details", "PACKAGE_TYPE"]

PACKAGE_TYPE = "application/vnd.dcos.universe.package+json;charset=utf-8;version=v4"
DETAIL_FIELDS = ("packagingVersion", "name", "version", "maintainer", "description", "tags", "selected", "scm",
                 "website", "framework", "preInstallNotes", "postInstallNotes", "postUninstallNotes", "licenses")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def package_details(pkg: dict) -> dict:
    """The package.json fields of a package (Cosmos's ``packageDetails``)."""
    return {k: pkg[k] for k in DETAIL_FIELDS if k in pkg}


def resolve_options(pkg: dict, options: dict | None) -> dict:
    """config.json defaults deep-merged with ``options``, validated; raise 400 on a mismatch."""
    options = options or {}
    if not isinstance(options, dict):
        raise CosmosError(400, "JsonSchemaMismatch", "Options must be a JSON object", {"errors": []})
    config = pkg.get("config")
    if not config:
        if options:
            raise CosmosError(400, "OptionsNotAllowed", "No schema available to validate the provided options", {})
        return {}
    merged = deep_merge(defaults(config), options)
    import jsonschema
    errors = sorted(jsonschema.Draft4Validator(config).iter_errors(merged), key=lambda e: list(e.path))
    if errors:
        listed = [{"instance": {"pointer": "/" + "/".join(str(p) for p in e.path)}, "keyword": e.validator,
                   "message": e.message, "level": "error", "domain": "validation"} for e in errors]
        raise CosmosError(400, "JsonSchemaMismatch", "Options JSON failed validation", {"errors": listed})
    return merged


def package_labels(pkg: dict, source: str, options: dict | None) -> dict[str, str]:
    envelope = {"metadata": {"Content-Type": PACKAGE_TYPE, "Content-Encoding": "gzip"},
                "data": _b64(gzip.compress(_json_bytes(pkg), mtime=0))}
    metadata = dict(package_details(pkg), images=(pkg.get("resource") or {}).get("images") or {})
    return {"DCOS_PACKAGE_NAME": pkg["name"], "DCOS_PACKAGE_VERSION": pkg["version"],
            "DCOS_PACKAGE_SOURCE": source, "DCOS_PACKAGE_OPTIONS": _b64(_json_bytes(options or {})),
            "DCOS_PACKAGE_DEFINITION": _b64(_json_bytes(envelope)),
            "DCOS_PACKAGE_METADATA": _b64(_json_bytes(metadata)), "DCOS_PACKAGE_REGISTRY_VERSION": "4.0",
            "DCOS_PACKAGE_RELEASE": str(pkg.get("releaseVersion", 0)),
            "DCOS_PACKAGE_IS_FRAMEWORK": "true" if pkg.get("framework") else "false"}


def render_app(pkg: dict, options: dict | None, source: str, app_id: str | None = None) -> dict:
    """The Marathon app Cosmos would POST for ``pkg`` with the user's ``options``."""
    from dcos_scaleio.sandbox.dcos.render import render
    resolve_options(pkg, options)
    if not (pkg.get("marathon") or {}).get("v2AppMustacheTemplate"):
        raise CosmosError(400, "ServiceMarathonTemplateNotFound",
                          f"Package: [{pkg['name']}] version: [{pkg['version']}] does not have a Marathon template "
                          "defined and can not be rendered", {"packageName": pkg["name"], "packageVersion": pkg["version"]})
    try:
        app = render(pkg, options or {})
    except (ValueError, TypeError) as exc:
        if type(exc).__name__ == "MustacheSyntaxError":
            raise CosmosError(400, "InvalidMustacheTemplate", f"The package's Marathon template does not compile: "
                              f"{exc}", {"packageName": pkg["name"], "packageVersion": pkg["version"]}) from None
        raise CosmosError(400, "MarathonTemplateMustBeJsonObject",
                          f"Rendered Marathon JSON must be a JSON object ({exc})", {}) from None
    if not isinstance(app, dict):
        raise CosmosError(400, "MarathonTemplateMustBeJsonObject", "Rendered Marathon JSON must be a JSON object", {})
    labels = app.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise CosmosError(400, "InvalidLabelSchema", "Labels of the rendered app must be a map of strings", {})
    if app_id:
        app["id"] = normalize_app_id(app_id)
    if not isinstance(app.get("id"), str) or not app["id"].strip("/"):
        raise CosmosError(400, "MarathonTemplateMustBeJsonObject", "Rendered Marathon JSON has no id", {})
    app["labels"] = {**labels, **package_labels(pkg, source, options)}
    return app


def _decode_json_label(labels: dict, key: str):
    try:
        return json.loads(base64.b64decode(labels[key]))
    except (KeyError, ValueError, TypeError):
        return None


def installed_package(app: dict) -> dict | None:
    """The whole package an app was installed from (its ``DCOS_PACKAGE_DEFINITION``), or None."""
    envelope = _decode_json_label(app.get("labels") or {}, "DCOS_PACKAGE_DEFINITION")
    if not isinstance(envelope, dict) or "data" not in envelope:
        return None
    try:
        data = base64.b64decode(envelope["data"])
        if (envelope.get("metadata") or {}).get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        pkg = json.loads(data)
    except (ValueError, TypeError, OSError):
        return None
    return pkg if isinstance(pkg, dict) else None


def user_options(app: dict) -> dict | None:
    """The options the user gave at install/update (``DCOS_PACKAGE_OPTIONS``), or None if not stored."""
    opts = _decode_json_label(app.get("labels") or {}, "DCOS_PACKAGE_OPTIONS")
    return opts if isinstance(opts, dict) else None
