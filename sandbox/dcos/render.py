"""Render a Universe package's Marathon app the way Cosmos does (``PackageDefinitionRenderer``).

    render(package, options) -> dict

``package`` is a package folder (``package.json``, ``config.json``, ``resource.json``,
``marathon.json.mustache``, as in ``repo/packages/S/scaleio/0/``) or a repository index entry (the
package.json fields plus ``config``, ``resource`` and ``marathon.v2AppMustacheTemplate``, base64).
What Cosmos does, in order, and so does :func:`render`:

1. the defaults of ``config.json`` (``JsonSchema.extractDefaultsFromSchema``) deep-merged with the
   user's options (circe ``deepMerge``, user values win), then ``{"resource": resource.json}`` merged
   on top (:func:`context`). Validating the merged options against config.json is the caller's job
   (Cosmos does it between these steps; the sandbox's Cosmos answers ``JsonSchemaMismatch``);
2. every value converted like Cosmos' ``jsonToJava``: strings JSON-escaped without the surrounding
   quotes (so ``"{{x}}"`` stays a valid JSON string whatever ``x`` holds), whole numbers that fit
   a 32-bit int as ints, other numbers as doubles;
3. the template rendered with mustache.java semantics and HTML escaping disabled
   (:func:`render_template`): ``{{x}}``, ``{{{x}}}`` and ``{{&x}}`` all write the raw text; booleans
   render ``true``/``false``, doubles like Java (``0.5``, ``10.0``, ``1.0E-5``), arrays like a Java
   List (``[a, b]``, which is why templates iterate them with sections instead); a section is
   skipped for a missing value, ``null``, ``false``, ``""`` and ``[]`` (but NOT for ``0``), repeated
   for each item of a list and entered once for anything else; dotted names resolve their first
   part up the context stack, then walk down; standalone section/comment lines vanish (spec);
4. the output parsed as JSON; anything but an object raises :class:`TemplateNotJsonObject`.

Cosmos' own labels (``DCOS_PACKAGE_*``) and ``appId`` are added by the caller (the sandbox's
Cosmos). Build-time placeholders (``{{artifact-dir}}``, ``{{sha256:<file>}}``) are filled by
``packaging/universe.py``; rendering a source folder that still has them renders them empty.

Errors are ``ValueError`` subclasses: :class:`MustacheSyntaxError` (unclosed or mismatched
sections, partials, bad delimiters) and :class:`TemplateNotJsonObject` (the output is not a JSON
object; its ``text`` attribute holds the output).
"""
from __future__ import annotations

import base64
import json
import math
import pathlib
from decimal import Decimal

from dcos_scaleio.options.schema import deep_merge, defaults

__all__ = ["render", "render_template", "parse_template", "context", "load_package", "template_text",
           "java_value", "MustacheSyntaxError", "TemplateNotJsonObject"]

_INT32 = (-(2 ** 31), 2 ** 31 - 1)


class MustacheSyntaxError(ValueError):
    """The template is not valid mustache (Cosmos fails the same template at compile time)."""


class TemplateNotJsonObject(ValueError):
    """The rendered template is not a JSON object (Cosmos: ``MarathonTemplateMustBeJsonObject``)."""

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


# ---------------------------------------------------------------------------------------------
# The package and the context


def load_package(source) -> dict:
    """A package as a repository index entry (a fresh dict): from a folder, or a copy of an entry."""
    if isinstance(source, dict):
        return json.loads(json.dumps(source))
    folder = pathlib.Path(source)
    entry = json.loads((folder / "package.json").read_text(encoding="ascii"))
    for name in ("config", "resource"):
        path = folder / f"{name}.json"
        if path.is_file():
            entry[name] = json.loads(path.read_text(encoding="ascii"))
    template = folder / "marathon.json.mustache"
    if template.is_file():
        entry["marathon"] = {"v2AppMustacheTemplate": base64.b64encode(template.read_bytes()).decode("ascii")}
    return entry


def template_text(package: dict) -> str:
    """The package's Marathon template (decoded from the index entry's base64)."""
    try:
        encoded = package["marathon"]["v2AppMustacheTemplate"]
    except (KeyError, TypeError):
        raise ValueError(f"package {package.get('name')!r} has no Marathon template") from None
    return base64.b64decode(encoded).decode("utf-8")


def context(package: dict, options: dict | None = None) -> dict:
    """What the template sees: config defaults <- user options (deep merge) <- ``{"resource": ...}``."""
    merged = deep_merge(defaults(package.get("config") or {}), options or {})
    if package.get("resource") is not None:
        merged = deep_merge(merged, {"resource": package["resource"]})
    return merged


def render(package, options: dict | None = None) -> dict:
    """The Marathon app Cosmos renders for ``package`` (folder or index entry) with ``options``."""
    pkg = load_package(package)
    text = render_template(template_text(pkg), context(pkg, options))
    try:
        app = json.loads(text)
    except ValueError as exc:
        raise TemplateNotJsonObject(f"the rendered template is not JSON: {exc}", text) from None
    if not isinstance(app, dict):
        raise TemplateNotJsonObject(f"the rendered template is a JSON {type(app).__name__}, not an object", text)
    return app


# ---------------------------------------------------------------------------------------------
# Values as mustache.java sees Cosmos' context


def java_value(value):
    """Cosmos' ``jsonToJava``: JSON-escaped strings, int-or-double numbers, recursively."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return float(value)
        if _INT32[0] <= value <= _INT32[1]:
            return int(value)
        return float(value)
    if isinstance(value, list):
        return [java_value(v) for v in value]
    if isinstance(value, dict):
        return {k: java_value(v) for k, v in value.items()}
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _java_double(x: float) -> str:
    """``Double.toString``: plain between 1e-3 and 1e7 (always with a fraction), else d.dddE[-]n."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if "." in text else text + ".0"
    sign, digits, exp = Decimal(repr(x)).as_tuple()
    exponent = len(digits) - 1 + exp
    mantissa = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{exponent}"


def _stringify(value) -> str:
    """``toString()`` of the Java object mustache.java writes."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(_stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_stringify(v)}" for k, v in value.items()) + "}"
    return str(value)


def _falsey(value) -> bool:
    return value is None or value is False or value == "" or (isinstance(value, list) and not value)


# ---------------------------------------------------------------------------------------------
# Mustache: parse to a tree, render the tree

_MISSING = object()
_STANDALONE = {"#", "^", "/", "!", "="}


def _tag_kind(content: str):
    """(kind, name) of a tag's inside; kind is one of '', '&', '{', '#', '^', '/', '!', '=', '>'."""
    if not content:
        raise MustacheSyntaxError("empty tag")
    sigil = content[0]
    if sigil in "&#^/!=>{<$":
        return sigil, content[1:].strip()
    return "", content.strip()


def parse_template(template: str) -> list:
    """The template as a tree: ``str`` text nodes, ``("var", name)`` and ``(kind, name, children)``
    for ``#``/``^`` sections. Raises :class:`MustacheSyntaxError` where mustache.java would fail."""
    otag, ctag = "{{", "}}"
    root: list = []
    stack: list = [("", root, 0)]           # (section name, children list, opening offset)
    pos, n = 0, len(template)
    while pos < n:
        start = template.find(otag, pos)
        if start < 0:
            stack[-1][1].append(template[pos:])
            break
        inner = start + len(otag)
        if ctag == "}}" and otag == "{{" and template.startswith("{", inner):
            end = template.find("}" + ctag, inner)
            if end < 0:
                raise MustacheSyntaxError(f"unclosed triple mustache at offset {start}")
            kind, name, after = "{", template[inner + 1:end].strip(), end + 1 + len(ctag)
        else:
            end = template.find(ctag, inner)
            if end < 0:
                raise MustacheSyntaxError(f"unclosed tag at offset {start}")
            content = template[inner:end]
            kind, name = _tag_kind(content.strip())
            if kind == "{":                 # {{{x}}} under custom delimiters: <%{x}%>
                if not name.endswith("}"):
                    raise MustacheSyntaxError(f"unclosed triple mustache at offset {start}")
                name = name[:-1].strip()
            if kind == "=":
                if not content.strip().endswith("="):
                    raise MustacheSyntaxError(f"bad set-delimiter tag at offset {start}")
                name = content.strip()[1:-1].strip()
            after = end + len(ctag)
        text_start = pos
        # A standalone tag (alone on its line but for whitespace) takes its whole line with it.
        line_start = template.rfind("\n", 0, start) + 1
        line_end = template.find("\n", after)
        line_end = n if line_end < 0 else line_end + 1
        tail = template[after:line_end]
        standalone = (kind in _STANDALONE and template[line_start:start].strip(" \t") == ""
                      and tail.strip(" \t\r\n") == "" and (tail.endswith("\n") or line_end == n))
        text_end = line_start if standalone else start
        if text_end > text_start:
            stack[-1][1].append(template[text_start:text_end])
        pos = line_end if standalone else after
        if kind in ("", "&", "{"):
            if not name:
                raise MustacheSyntaxError(f"empty variable tag at offset {start}")
            stack[-1][1].append(("var", name))
        elif kind in ("#", "^"):
            if not name:
                raise MustacheSyntaxError(f"empty section name at offset {start}")
            node = (kind, name, [])
            stack[-1][1].append(node)
            stack.append((name, node[2], start))
        elif kind == "/":
            if len(stack) == 1:
                raise MustacheSyntaxError(f"closing tag {{{{/{name}}}}} without an open section at offset {start}")
            if stack[-1][0] != name:
                raise MustacheSyntaxError(f"section {stack[-1][0]!r} closed by {{{{/{name}}}}} at offset {start}")
            stack.pop()
        elif kind == "!":
            pass
        elif kind == "=":
            parts = name.split()
            if len(parts) != 2 or any("=" in p for p in parts):
                raise MustacheSyntaxError(f"bad set-delimiter tag at offset {start}")
            otag, ctag = parts
        else:
            raise MustacheSyntaxError(f"{{{{{kind}...}}}} (partials, blocks) is not supported: offset {start}")
    if len(stack) > 1:
        name, _, offset = stack[-1]
        raise MustacheSyntaxError(f"section {name!r} opened at offset {offset} is never closed")
    return root


def _lookup(stack: list, name: str):
    if name == ".":
        return stack[-1]
    first, *rest = name.split(".")
    value = _MISSING
    for scope in reversed(stack):
        if isinstance(scope, dict) and first in scope:
            value = scope[first]
            break
    for part in rest:
        if value is _MISSING:
            break
        value = value[part] if isinstance(value, dict) and part in value else _MISSING
    return None if value is _MISSING else value


def _render_nodes(nodes: list, stack: list, out: list) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "var":
            out.append(_stringify(_lookup(stack, node[1])))
        else:
            kind, name, children = node
            value = _lookup(stack, name)
            if kind == "^":
                if _falsey(value):
                    _render_nodes(children, stack, out)
            elif not _falsey(value):
                for item in (value if isinstance(value, list) else [value]):
                    stack.append(item)
                    _render_nodes(children, stack, out)
                    stack.pop()


def render_template(template: str, ctx: dict) -> str:
    """Render ``template`` with the JSON context ``ctx`` (converted by :func:`java_value` first)."""
    out: list = []
    _render_nodes(parse_template(template), [java_value(ctx)], out)
    return "".join(out)

