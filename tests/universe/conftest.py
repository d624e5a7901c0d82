"""Fixtures for the Universe package tests: the shared schemas, and a package built from
``universe/`` by ``packaging/universe.py`` with small, real artifacts (a scheduler tarball whose
program is a shell script, an executor tarball, a CLI zip) and their ``.sha256`` files."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import pathlib
import tarfile
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "universe"
SCHEMAS = ROOT.parent / "shared" / "schemas"
ARTIFACTS_URL = "http://127.0.0.1:8123/mirror/scaleio"

# The fake scheduler: proves the template's cmd ran it (after the sha256 check) with its env.
FAKE_SCHEDULER = b"#!/bin/sh\necho \"started $OPT_SERVICE_NAME\" > started.txt\n"


def load_builder():
    """``packaging/universe.py`` as a module (packaging/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("universe_builder", ROOT / "packaging" / "universe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Schemas:
    """Draft 4 validators over ../shared/schemas, with relative ``$ref``s between files resolved."""

    def __init__(self, root: pathlib.Path):
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
        self.root = root
        resources = []
        for path in root.rglob("*.json"):
            contents = json.loads(path.read_text(encoding="utf-8"))
            resource = Resource.from_contents(contents, default_specification=DRAFT4)
            resources.append((path.relative_to(root).as_posix(), resource))
            resources.append((path.name, resource))        # "vX-repo-definitions.json#/..." refs
        self.registry = Registry().with_resources(resources)

    def load(self, rel: str) -> dict:
        return json.loads((self.root / rel).read_text(encoding="utf-8"))

    def errors(self, rel: str, instance) -> list[str]:
        from jsonschema import Draft4Validator
        validator = Draft4Validator(self.load(rel), registry=self.registry)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(instance)]


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    if not SCHEMAS.is_dir():
        pytest.skip(f"{SCHEMAS} is absent (outside CI): the Universe and Marathon schemas are read from "
                    "../shared/schemas, never copied into the repository")
    return Schemas(SCHEMAS)


def _tar_gz(path: pathlib.Path, files: dict) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))


def write_sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def make_artifacts(folder: pathlib.Path, cli: bool = True) -> dict:
    """Small real artifacts with the names packaging/build_artifacts.py gives them."""
    folder.mkdir(parents=True, exist_ok=True)
    _tar_gz(folder / "dcos-scaleio-scheduler.tar.gz", {"dcos-scaleio-scheduler": (FAKE_SCHEDULER, 0o755)})
    _tar_gz(folder / "dcos-scaleio-executor.tar.gz", {"dcos-scaleio-executor": (b"#!/bin/sh\nexit 0\n", 0o755)})
    names = ["dcos-scaleio-scheduler.tar.gz", "dcos-scaleio-executor.tar.gz"]
    if cli:
        with zipfile.ZipFile(folder / "dcos-scaleio-cli-linux-x86-64.zip", "w") as zf:
            zf.writestr("bin/dcos-scaleio", "#!/bin/sh\necho scaleio\n")
        names.append("dcos-scaleio-cli-linux-x86-64.zip")
    return {name: write_sha256(folder / name) for name in names}


@pytest.fixture(scope="session")
def kit():
    """The helpers above, for test modules (conftest is not importable under --import-mode=importlib)."""
    import types
    return types.SimpleNamespace(ROOT=ROOT, SOURCE=SOURCE, ARTIFACTS_URL=ARTIFACTS_URL,
                                 FAKE_SCHEDULER=FAKE_SCHEDULER, make_artifacts=make_artifacts)


@pytest.fixture(scope="session")
def builder():
    return load_builder()


@pytest.fixture(scope="session")
def built(tmp_path_factory, builder):
    """``assemble`` run on fresh artifacts: the summary plus where things are."""
    base = tmp_path_factory.mktemp("universe")
    artifacts = base / "artifacts"
    shas = make_artifacts(artifacts)
    summary = builder.assemble(ARTIFACTS_URL, base / "out", artifacts)
    repo = json.loads((base / "out" / "repo.json").read_text(encoding="ascii"))
    return {"summary": summary, "shas": shas, "artifacts": artifacts, "out": base / "out",
            "package_dir": pathlib.Path(summary["package_dir"]), "repo": repo, "entry": repo["packages"][0]}
