"""Deterministic YAML for small config trees (no dependency): keys in the order given, strings
double-quoted JSON-style (a valid YAML scalar for any text), booleans and integers bare."""
from __future__ import annotations

import json


def render(tree: dict) -> str:
    lines: list[str] = []
    _emit(tree, 0, lines)
    return "\n".join(lines) + "\n"


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"unsupported YAML value {type(value).__name__}")


def _emit(tree: dict, indent: int, lines: list) -> None:
    pad = "  " * indent
    for key, value in tree.items():
        if not isinstance(key, str) or not key.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"unsupported YAML key {key!r}")
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            _emit(value, indent + 1, lines)
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
