"""Options: the Universe ``config.json`` schema, Cosmos-style defaults, validation, the typed object.

Typical use::

    result = validate(user_options)      # never raises on bad input
    if not result.ok:
        for err in result.errors: print(err.path, err.message)
    opts = result.options                 # frozen dataclasses, secrets wrapped in Secret
"""
from .model import (COMPONENTS, DESTROY_CONFIRMATION, OS_FAMILIES, REDACTED, SECRET_FIELDS, Artifact,
                    ArtifactOptions, Options, Secret)
from .schema import deep_merge, defaults, load_schema, merged_options, schema_path
from .update import update_errors
from .validate import FieldError, Validation, redact, validate

__all__ = [
    "validate", "Validation", "FieldError", "redact", "update_errors", "Options", "Secret", "Artifact", "ArtifactOptions",
    "load_schema", "schema_path", "defaults", "deep_merge", "merged_options", "REDACTED",
    "SECRET_FIELDS", "DESTROY_CONFIRMATION", "OS_FAMILIES", "COMPONENTS",
]
