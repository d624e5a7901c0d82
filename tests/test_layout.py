"""The installed layout: one import namespace, no bare ``cli``/``framework`` packages, and product code
that never imports the sandbox."""
import ast
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRODUCT_DIRS = ["dcos_scaleio", "cli", "framework"]


@pytest.mark.parametrize("name", ["dcos_scaleio", "dcos_scaleio.cli", "dcos_scaleio.framework", "dcos_scaleio.sandbox"])
def test_subpackages_import_from_their_folders(name):
    mod = importlib.import_module(name)
    folder = {"dcos_scaleio": "dcos_scaleio", "dcos_scaleio.cli": "cli",
              "dcos_scaleio.framework": "framework", "dcos_scaleio.sandbox": "sandbox"}[name]
    assert pathlib.Path(mod.__file__).resolve().parent == ROOT / folder


@pytest.mark.parametrize("bare", ["cli", "framework", "sandbox"])
def test_no_bare_top_level_packages(bare, tmp_path):
    """The installed environment has no generic top-level package. Checked in a fresh interpreter run
    from an unrelated folder: other test folders put tests/ on this process's sys.path, where
    tests/framework would look like a namespace package."""
    import subprocess
    import sys
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({bare!r}) is None else 1)"
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"a bare {bare!r} package is importable: {res.stderr}"


def _imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_product_code_never_imports_the_sandbox():
    offenders = []
    for folder in PRODUCT_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            for name in _imports(path):
                if name.startswith("dcos_scaleio.sandbox") or name == "sandbox":
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
