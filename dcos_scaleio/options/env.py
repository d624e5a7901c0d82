"""Options as environment variables: how the Marathon template passes them to the scheduler.

Marathon env values are strings and Cosmos' mustache cannot render objects as JSON, so every leaf
option travels as its own variable, ``OPT_<PATH>`` (``service.retry.max_attempts`` ->
``OPT_SERVICE_RETRY_MAX_ATTEMPTS``), encoded so a plain mustache expression produces it:

- strings, numbers, booleans: their text (``{{service.cpus}}`` renders 0.5, ``true``/``false``);
- arrays of strings: items each followed by ``,`` (``{{#a}}{{.}},{{/a}}``);
- arrays of objects: each object followed by ``;``, its fields in schema order separated by one
  space, an array field's items each followed by ``,``. The schema's patterns forbid spaces,
  ``,`` and ``;`` in those fields, so the encoding is unambiguous.

:func:`mustache_env` generates the template's ``env`` entries from the schema, :func:`to_env`
computes what they render to, and :func:`from_env` turns the variables back into user options
(unparseable values are kept as text, so :func:`~dcos_scaleio.options.validate` names the field).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .schema import load_schema

__all__ = ["PREFIX", "Leaf", "leaves", "env_name", "to_env", "from_env", "mustache_env"]

PREFIX = "OPT_"


@dataclass(frozen=True)
class Leaf:
    path: tuple
    env: str
    kind: str               # string | integer | number | boolean | list | records
    fields: tuple = ()      # records: ((name, "scalar"|"list"), ...)


def env_name(path) -> str:
    return PREFIX + "_".join(p.upper() for p in path)


def leaves(schema: dict | None = None) -> list[Leaf]:
    """Every leaf option of the schema, in schema order."""
    schema = schema if schema is not None else load_schema()
    out: list[Leaf] = []

    def walk(node, path):
        for name, prop in node.get("properties", {}).items():
            p = path + (name,)
            kind = prop.get("type")
            if kind == "object" and "properties" in prop:
                walk(prop, p)
            elif kind == "array" and prop.get("items", {}).get("type") == "object":
                fields = tuple((f, "list" if fp.get("type") == "array" else "scalar")
                               for f, fp in prop["items"]["properties"].items())
                out.append(Leaf(p, env_name(p), "records", fields))
            elif kind == "array":
                out.append(Leaf(p, env_name(p), "list"))
            else:
                out.append(Leaf(p, env_name(p), kind))
    walk(schema, ())
    return out


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode(leaf: Leaf, value) -> str:
    if leaf.kind == "list":
        return "".join(_text(v) + "," for v in value)
    if leaf.kind == "records":
        parts = []
        for rec in value:
            fields = [("".join(_text(v) + "," for v in rec.get(f, ())) if k == "list" else _text(rec.get(f, "")))
                      for f, k in leaf.fields]
            parts.append(" ".join(fields) + ";")
        return "".join(parts)
    return _text(value)


def to_env(merged: Mapping, schema: dict | None = None) -> dict[str, str]:
    """The variables the template renders for these merged options."""
    env = {}
    for leaf in leaves(schema):
        node = merged
        for key in leaf.path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if node is not None:
            env[leaf.env] = _encode(leaf, node)
    return env


def _items(text: str, sep: str) -> list[str]:
    return [t for t in text.split(sep) if t != ""]


def _decode(leaf: Leaf, text: str):
    kind = leaf.kind
    if kind == "list":
        return _items(text, ",")
    if kind == "records":
        recs = []
        for entry in _items(text, ";"):
            values = entry.strip().split(" ")
            rec = {}
            for (name, k), raw in zip(leaf.fields, values):
                rec[name] = _items(raw, ",") if k == "list" else raw
            recs.append(rec)
        return recs
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind in ("integer", "number"):
        try:
            number = float(text) if kind == "number" else int(text)
        except ValueError:
            return text         # left as text: validation reports the field
        return int(number) if kind == "number" and number.is_integer() and "." not in text else number
    return text


def from_env(environ: Mapping[str, str], schema: dict | None = None) -> dict:
    """User options from ``OPT_*`` variables; absent variables are left to the schema defaults."""
    options: dict = {}
    for leaf in leaves(schema):
        if leaf.env not in environ:
            continue
        node = options
        for key in leaf.path[:-1]:
            node = node.setdefault(key, {})
        node[leaf.path[-1]] = _decode(leaf, environ[leaf.env])
    return options


def mustache_env(schema: dict | None = None, skip=()) -> dict[str, str]:
    """The template's ``env`` entries (name -> mustache text) for every leaf not in ``skip``
    (paths like ``("scaleio", "admin_password")`` that the template passes otherwise, e.g. as a
    DC/OS secret)."""
    out = {}
    for leaf in leaves(schema):
        if leaf.path in skip:
            continue
        name = ".".join(leaf.path)
        if leaf.kind == "list":
            out[leaf.env] = f"{{{{#{name}}}}}{{{{.}}}},{{{{/{name}}}}}"
        elif leaf.kind == "records":
            fields = " ".join(f"{{{{#{f}}}}}{{{{.}}}},{{{{/{f}}}}}" if k == "list" else f"{{{{{f}}}}}"
                              for f, k in leaf.fields)
            out[leaf.env] = f"{{{{#{name}}}}}{fields};{{{{/{name}}}}}"
        else:
            out[leaf.env] = f"{{{{{name}}}}}"
    return out
