"""Build the self-contained scheduler and executor artifacts (PyInstaller, onedir), once per input change.

    .venv/bin/python packaging/build_artifacts.py [--force] [--only executor|scheduler]

For each program (``dcos-scaleio-executor``, ``dcos-scaleio-scheduler``) PyInstaller builds a ONEDIR
bundle (no unpacking on every start, unlike onefile) from the shim in ``packaging/``, leaving out
``dcos_scaleio.sandbox`` and test tooling, with ``universe/config.json`` bundled as
``dcos_scaleio/schema/config.json``. Each bundle is packed *flat* as
``build/artifacts/<program>.tar.gz`` (the Mesos fetcher extracts it into the sandbox, so
``./<program>`` is the command) with ``<program>.tar.gz.sha256`` beside it (``sha256sum`` format).

Build once: a fingerprint of every input (product sources, the schema, requirements, the packaging
files, the Python and PyInstaller versions) is stamped in ``build/artifacts/<program>.fingerprint``;
an unchanged fingerprint with the tarball present skips the build. Concurrent callers serialise on a
lock file, so parallel test sessions build once. The last stdout line is JSON:
``{"<program>": {"path", "sha256", "built": bool, "seconds"}}``.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
OUT = ROOT / "build" / "artifacts"
WORK = ROOT / "build" / "pyinstaller"
SCHEMA = ROOT / "universe" / "config.json"

PROGRAMS = {
    "executor": ("dcos-scaleio-executor", "executor_entry.py", "dcos_scaleio.framework.executor"),
    "scheduler": ("dcos-scaleio-scheduler", "scheduler_entry.py", "dcos_scaleio.framework.scheduler"),
}
# Product source trees (setup.py's package_dir): the sandbox is not an input and never ships.
SOURCE_DIRS = ("dcos_scaleio", "framework", "cli")
# Modules never bundled: the emulated world and test tooling (product code never imports them).
EXCLUDES = ("dcos_scaleio.sandbox", "tests", "pytest", "_pytest", "hypothesis", "tkinter")
# Packages collected whole because steps/handlers are looked up by name at run time.
COLLECT = ("dcos_scaleio.framework", "dcos_scaleio.options", "dcos_scaleio.plan")


def _input_files() -> list[pathlib.Path]:
    files = []
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    files += sorted((ROOT / "requirements").glob("*.txt"))
    files += [p for p in PACKAGING.glob("*.py") if p.is_file()]
    files.append(SCHEMA)
    return sorted(set(files))


def fingerprint(program: str) -> str:
    """sha256 over every input's relative path and content, plus the toolchain versions."""
    import PyInstaller
    digest = hashlib.sha256()
    digest.update(f"{program}\0{sys.version}\0{PyInstaller.__version__}\0".encode())
    for path in _input_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stage_sources() -> pathlib.Path:
    """Copy the product trees into one ``dcos_scaleio`` package folder (what setup.py's package_dir
    maps at install time). PyInstaller's module graph searches plain paths and cannot see the
    editable install's mapping; the sandbox is simply never staged."""
    staging = WORK / "src"
    shutil.rmtree(staging, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "dcos_scaleio", staging / "dcos_scaleio", ignore=ignore)
    for folder in SOURCE_DIRS[1:]:
        shutil.copytree(ROOT / folder, staging / "dcos_scaleio" / folder, ignore=ignore)
    return staging


def _pyinstaller(program: str, entry: str, module: str, log) -> pathlib.Path:
    dist, work = WORK / "dist", WORK / "work"
    staging = _stage_sources()
    argv = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--onedir", "--name", program,
            "--distpath", str(dist), "--workpath", str(work), "--specpath", str(WORK / "spec"),
            "--paths", str(staging), "--paths", str(PACKAGING), "--log-level", "WARN",
            "--add-data", f"{SCHEMA}{os.pathsep}dcos_scaleio/schema",
            "--hidden-import", module]
    for name in COLLECT:
        argv += ["--collect-submodules", name]
    for name in EXCLUDES:
        argv += ["--exclude-module", name]
    argv.append(str(PACKAGING / entry))
    # cwd = the staging dir, so the checkout's own dcos_scaleio/ (without framework/) is not on the path.
    subprocess.run(argv, cwd=staging, stdout=log, stderr=subprocess.STDOUT, check=True)
    bundle = dist / program
    leaked = [p for p in bundle.rglob("*") if "sandbox" in p.relative_to(bundle).parts]
    if leaked:
        raise RuntimeError(f"{program}: the sandbox leaked into the bundle: {leaked[:3]}")
    return bundle


def _pack(bundle: pathlib.Path, target: pathlib.Path) -> None:
    """Tar the bundle's CONTENTS (flat, sorted, fixed owner) into ``target`` atomically."""
    tmp = target.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        for path in sorted(bundle.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(bundle)))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if info.isfile():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    os.replace(tmp, target)


def ensure(which: str, force: bool = False) -> dict:
    """Build ``which`` ("executor"/"scheduler") unless its fingerprint is unchanged; describe it."""
    program, entry, module = PROGRAMS[which]
    target = OUT / f"{program}.tar.gz"
    sha_file = OUT / f"{program}.tar.gz.sha256"
    stamp = OUT / f"{program}.fingerprint"
    fp = fingerprint(program)
    started = time.monotonic()
    built = False
    if force or not (target.is_file() and sha_file.is_file() and stamp.is_file()
                     and stamp.read_text().strip() == fp):
        stamp.unlink(missing_ok=True)   # an interrupted build must never look fresh
        with open(OUT / f"{program}.build.log", "w") as log:
            bundle = _pyinstaller(program, entry, module, log)
        _pack(bundle, target)
        sha_file.write_text(f"{_sha256_file(target)}  {target.name}\n")
        stamp.write_text(fp + "\n")   # last: its presence means the tarball and sha256 are complete
        built = True
    return {"path": str(target), "sha256": sha_file.read_text().split()[0], "built": built,
            "bundle": str(WORK / "dist" / program), "seconds": round(time.monotonic() - started, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    ap.add_argument("--only", choices=sorted(PROGRAMS), action="append", help="build only these programs")
    args = ap.parse_args(argv)
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print("PyInstaller is not installed in this Python (requirements/dev.txt pins it; run make install),"
              " or run the sandbox with --dev-executor", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    result = {}
    with open(OUT / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # parallel callers wait, then find the fresh stamp
        for which in args.only or ("executor", "scheduler"):
            try:
                result[PROGRAMS[which][0]] = ensure(which, force=args.force)
            except subprocess.CalledProcessError:
                log = OUT / f"{PROGRAMS[which][0]}.build.log"
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
                print(f"building {which} failed; full log: {log}", file=sys.stderr)
                return 1
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
