"""The shipped executor/scheduler artifacts: self-contained, sandbox-free, verifiable, built once."""
import hashlib
import json
import pathlib
import runpy
import subprocess
import sys
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-artifacts.sh"


def build(*args) -> dict:
    """Run scripts/build-artifacts.sh and return its JSON summary (last stdout line)."""
    proc = subprocess.run(["bash", str(BUILD_SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def artifacts():
    return build()


@pytest.fixture(scope="session")
def unpacked(artifacts, tmp_path_factory):
    """{program: directory with the tarball's contents}, extracted like the Mesos fetcher does."""
    out = {}
    for program, info in artifacts.items():
        target = tmp_path_factory.mktemp(program)
        with tarfile.open(info["path"]) as tar:
            tar.extractall(target, filter="data")
        out[program] = target
    return out


PROGRAMS = ("dcos-scaleio-executor", "dcos-scaleio-scheduler")
# The session fixture may build both programs once (about 1-3 minutes on a loaded 2-core machine).
pytestmark = pytest.mark.timeout(900)


def _module_exists(program: str) -> bool:
    """Whether the product module behind ``program`` is in the checkout yet (written in parallel)."""
    name = program.rsplit("-", 1)[-1]
    return (ROOT / "framework" / name / "__main__.py").is_file()


def test_both_programs_are_built_with_their_sha256(artifacts):
    assert sorted(artifacts) == sorted(PROGRAMS)
    for program, info in artifacts.items():
        path = pathlib.Path(info["path"])
        assert path.name == f"{program}.tar.gz"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert info["sha256"] == digest
        assert pathlib.Path(f"{path}.sha256").read_text() == f"{digest}  {path.name}\n"


def test_tarballs_are_flat_onedir_bundles_without_the_sandbox(artifacts):
    for program, info in artifacts.items():
        with tarfile.open(info["path"]) as tar:
            names = tar.getnames()
        assert program in names                       # ./<program> at the top: the fetcher's command
        assert "_internal/dcos_scaleio/schema/config.json" in names
        leaked = [n for n in names if "sandbox" in pathlib.PurePosixPath(n).parts
                  or n.endswith(("sandbox.pyc", "sandbox.py"))]
        assert leaked == []
        # onedir, not onefile: the Python runtime is a plain file in the bundle, nothing to unpack.
        assert any(n.startswith("_internal/libpython3") for n in names)


def test_unchanged_inputs_are_not_rebuilt(artifacts):
    builder = runpy.run_path(str(ROOT / "packaging" / "build_artifacts.py"))
    for program in PROGRAMS:
        stamp = ROOT / "build" / "artifacts" / f"{program}.fingerprint"
        if stamp.read_text().strip() != builder["fingerprint"](program):
            pytest.skip("sources were edited since this run built the artifacts")
    again = build()
    assert {p: i["built"] for p, i in again.items()} == {p: False for p in PROGRAMS}
    assert {p: i["sha256"] for p, i in again.items()} == {p: i["sha256"] for p, i in artifacts.items()}


@pytest.mark.parametrize("program", PROGRAMS)
def test_runs_without_python_on_path(unpacked, program):
    """env -i: no PATH, no PYTHONHOME, no venv. The bundle must carry everything it needs."""
    proc = subprocess.run(["env", "-i", f"./{program}", "--self-check"], cwd=unpacked[program],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["frozen"] is True
    assert report["sandbox"] == "absent"
    assert report["schema"].endswith("_internal/dcos_scaleio/schema/config.json")
    if not _module_exists(program):
        pytest.skip(f"{report['module']} is not in the checkout yet: {report['import']}")
    assert report["import"] == "ok", report
    assert proc.returncode == 0, proc.stderr
