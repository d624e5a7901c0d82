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
