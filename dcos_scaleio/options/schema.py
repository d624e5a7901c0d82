"""The options schema (the Universe ``config.json``) and Cosmos' way of applying it.

There is one copy of the schema in git: ``universe/config.json``. A built package ships it as
package data at ``dcos_scaleio/schema/config.json``. :func:`schema_path` finds the source
checkout's copy first (so an edit is seen at once in an editable install) and the package data
otherwise.

:func:`defaults` and :func:`deep_merge` reproduce what Cosmos does before it renders the Marathon
template (``JsonSchema.extractDefaultsFromSchema`` and circe's ``deepMerge``), so the scheduler,
the CLI and the preview see exactly the options Cosmos would have produced.
"""
import copy
import functools
import importlib.resources
import json
import pathlib

__all__ = ["schema_path", "load_schema", "defaults", "deep_merge", "merged_options"]

_CHECKOUT_COPY = pathlib.Path(__file__).resolve().parents[2] / "universe" / "config.json"


def schema_path() -> pathlib.Path:
    """Where the schema is read from: the source checkout, else the installed package data."""
    if _CHECKOUT_COPY.is_file():
        return _CHECKOUT_COPY
    packaged = importlib.resources.files("dcos_scaleio") / "schema" / "config.json"
    with importlib.resources.as_file(packaged) as path:
        if pathlib.Path(path).is_file():
            return pathlib.Path(path)
    raise FileNotFoundError(
        f"options schema not found: neither {_CHECKOUT_COPY} nor dcos_scaleio/schema/config.json exists")


@functools.lru_cache(maxsize=1)
def _cached_schema_text() -> str:
    return schema_path().read_text(encoding="ascii")


def load_schema() -> dict:
    """A fresh copy of the options schema (callers may not mutate a shared one)."""
    return json.loads(_cached_schema_text())


def defaults(schema: dict) -> dict:
    """The defaults of a schema, the way Cosmos extracts them.

    A property with ``default`` contributes it; otherwise, if it has ``properties``, Cosmos
    recurses; nested objects without any default are dropped.
    """
    out = {}
    for name, prop in schema.get("properties", {}).items():
        if "default" in prop:
            out[name] = copy.deepcopy(prop["default"])
        elif "properties" in prop:
            nested = defaults(prop)
            if nested:
                out[name] = nested
    return out


def deep_merge(base: dict, override: dict) -> dict:
    """circe's ``deepMerge``: objects merge key by key, anything else in ``override`` wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merged_options(user_options: dict | None, schema: dict | None = None) -> dict:
    """Defaults deep-merged with the user's options (user values win), as Cosmos renders them."""
    schema = schema if schema is not None else load_schema()
    return deep_merge(defaults(schema), user_options or {})
