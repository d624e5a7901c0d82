"""Options: the Universe ``config.json`` schema, Cosmos-style defaults, validation, the typed object.

Typical use::

    result = validate(user_options)      # never raises on bad input
    if not result.ok:
        for err in result.errors: print(err.path, err.message)
    opts = result.options                 # frozen dataclasses, secrets wrapped in Secret

Names are imported lazily (PEP 562): ``import dcos_scaleio.options.patterns`` (the executor, the
CLI) does not pay for jsonschema, which is only imported when options are validated.
"""
import importlib

_EXPORTS = {
    "validate": "validate", "Validation": "validate", "FieldError": "validate", "redact": "validate",
    "update_errors": "update",
    "Options": "model", "Secret": "model", "Artifact": "model", "ArtifactOptions": "model", "REDACTED": "model",
    "SECRET_FIELDS": "model", "DESTROY_CONFIRMATION": "model", "OS_FAMILIES": "model", "COMPONENTS": "model",
    "load_schema": "schema", "schema_path": "schema", "defaults": "schema", "deep_merge": "schema",
    "merged_options": "schema",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
