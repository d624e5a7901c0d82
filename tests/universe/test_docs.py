"""Generated docs stay current: docs/options.md is what docs/gen_options.py makes of config.json."""
from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_options_reference_is_generated_from_the_current_schema():
    gen = _load("gen_options")
    text = gen.generate()
    assert (ROOT / "docs" / "options.md").read_text(encoding="utf-8") == text, \
        "docs/options.md is stale: run .venv/bin/python docs/gen_options.py"
    from dcos_scaleio.options.env import leaves
    for leaf in leaves():
        assert f"| `{'.'.join(leaf.path)}` |" in text and f"`{leaf.env}`" in text


def test_options_reference_follows_a_schema_change():
    gen = _load("gen_options")
    schema = {"properties": {"demo": {"type": "object", "description": "A section.", "properties": {
        "level": {"type": "string", "description": "How | much <really>.", "enum": ["a", "b"], "default": "a"}}}}}
    text = gen.generate(schema)
    assert "| `demo.level` | string | `a` | How \\| much &lt;really&gt;. Allowed: one of `a`, `b`. | `OPT_DEMO_LEVEL` |" in text


def test_api_reference_is_generated_from_the_served_openapi_document():
    try:
        from dcos_scaleio.framework.api.openapi import document
    except ImportError as exc:
        import pytest
        pytest.skip(f"the scheduler's OpenAPI document is not available ({exc})")
    text = _load("gen_api").generate(document())
    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == text, \
        "docs/api.md is stale: run .venv/bin/python docs/gen_api.py"


def test_api_reference_shows_operations_parameters_bodies_and_schemas():
    doc = {"openapi": "3.0.3", "info": {"description": "Demo API."}, "paths": {
        "/v1/things/{id}": {"post": {
            "operationId": "poke", "summary": "Poke a thing", "security": [{"acsToken": []}],
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "Thing id"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Poke"}}}},
            "responses": {"200": {"description": "Poked", "content": {"application/json": {
                "schema": {"type": "array", "items": {"type": "string"}}}}},
                "401": {"description": "No", "headers": {"WWW-Authenticate": {}}}}}}},
        "components": {"schemas": {"Poke": {"type": "object", "required": ["how"], "additionalProperties": False,
                                            "properties": {"how": {"type": "string", "enum": ["soft", "hard"]},
                                                           "note": {"type": "string", "nullable": True}}}}}}
    text = _load("gen_api").generate(doc)
    for expected in ("| POST | [`/v1/things/{id}`](#post-v1thingsid) | Poke a thing |", "### POST /v1/things/{id}",
                     "Authorization: credential required (operator)", "| `id` | path | yes | string | Thing id |",
                     "Request body (required, `application/json`): [Poke](#schema-poke)",
                     "| 200 | Poked | `application/json`: array of string |", "| 401 | No; header `WWW-Authenticate` | none |",
                     "### Schema Poke", "Closed: unknown fields are refused.", "| `how` | one of `soft`, `hard` | yes |",
                     "| `note` | string or null | no |", "Demo API."):
        assert expected in text, expected
