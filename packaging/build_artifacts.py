"""Build the self-contained scheduler, executor and CLI artifacts (PyInstaller, onedir), once per input change.

    .venv/bin/python packaging/build_artifacts.py [--force] [--only executor|scheduler|cli]

Without ``--only``, the executor and the scheduler are built (what a cluster runs); the CLI with
``--only cli`` (``make cli``).

For each program (``dcos-scaleio-executor``, ``dcos-scaleio-scheduler``) PyInstaller builds a ONEDIR
bundle (no unpacking on every start, unlike onefile) from the shim in ``packaging/``, leaving out
``dcos_scaleio.sandbox`` and test tooling, with ``universe/config.json`` bundled as
``dcos_scaleio/schema/config.json``. Each bundle is packed *flat* as
``build/artifacts/<program>.tar.gz`` (the Mesos fetcher extracts it into the sandbox, so
``./<program>`` is the command) with ``<program>.tar.gz.sha256`` beside it (``sha256sum`` format).

The CLI (``dcos-scaleio``, the DC/OS CLI plugin; Linux x86-64 only, built on this host) is packed as
``build/artifacts/dcos-scaleio-cli-linux-x86-64.zip`` for ``resource.json`` ``cli.binaries.linux``
kind ``zip``: ``bin/dcos-scaleio`` with its ``bin/_internal/`` beside it (the DC/OS CLI extracts the
zip into the plugin's ``env/`` and runs ``env/bin/dcos-*``), plus ``.sha256``. It also carries the
Universe package source (``universe/`` as ``_internal/dcos_scaleio/universe/``), so that
``dcos scaleio install`` can publish the package it belongs to.

Build once: a fingerprint of every input (product sources, the schema, requirements, the packaging
files, the Python and PyInstaller versions) is stamped in ``build/artifacts/<program>.fingerprint``;
an unchanged fingerprint with the tarball present skips the build. Concurrent callers of one program
serialise on its lock file, so parallel test sessions build it once; different programs build in parallel. The last stdout line is JSON:
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
if str(PACKAGING) not in sys.path:   # run as a script, by runpy or by path: find universe.py beside us
    sys.path.insert(0, str(PACKAGING))
from universe import CLI_ZIP, sha256_file  # noqa: E402

OUT = ROOT / "build" / "artifacts"
WORK = ROOT / "build" / "pyinstaller"
SCHEMA = ROOT / "universe" / "config.json"

UNIVERSE = ROOT / "universe"

# which -> (program, entry shim, product module)
PROGRAMS = {
    "executor": ("dcos-scaleio-executor", "executor_entry.py", "dcos_scaleio.framework.executor"),
    "scheduler": ("dcos-scaleio-scheduler", "scheduler_entry.py", "dcos_scaleio.framework.scheduler"),
    "cli": ("dcos-scaleio", "cli_entry.py", "dcos_scaleio.cli.main"),
}
DEFAULT_BUILD = ("executor", "scheduler")
# Product source trees (setup.py's package_dir): the sandbox is not an input and never ships.
SOURCE_DIRS = ("dcos_scaleio", "framework", "cli")
# Per program, the trees it is built from (a CLI edit must not rebuild the executor, and back).
PROGRAM_SOURCES = {"executor": ("dcos_scaleio", "framework"), "scheduler": ("dcos_scaleio", "framework"),
                   "cli": ("dcos_scaleio", "cli")}
PROGRAM_PACKAGING = {"executor": ("entry.py", "executor_entry.py"), "scheduler": ("entry.py", "scheduler_entry.py"),
                     "cli": ("cli_entry.py", "universe.py")}
# Modules never bundled: the emulated world and test tooling (product code never imports them).
EXCLUDES = ("dcos_scaleio.sandbox", "tests", "pytest", "_pytest", "hypothesis", "tkinter")
# Packages collected whole because steps/handlers are looked up by name at run time.
COLLECT = ("dcos_scaleio.framework", "dcos_scaleio.options", "dcos_scaleio.plan")
# The CLI imports its verbs lazily (start-up time): collect them, and not the framework.
CLI_COLLECT = ("dcos_scaleio.cli", "dcos_scaleio.options")
# The CLI's own PyInstaller hooks (replaces a start-up-costly runtime hook; see its README line).
CLI_HOOKS = PACKAGING / "cli_hooks"
CLI_EXCLUDES = ("dcos_scaleio.framework", "pymesos", "kazoo", "PyPowerFlex", "requests", "cryptography", "jwt",
                # Start-up time: the bootloader imports ctypes when bundled (only rich's Windows console
                # code wants it), and multiprocessing / pydoc (-> pkgutil) each add a runtime hook.
                "multiprocessing", "ctypes", "pydoc")


def _which(program: str) -> str:
    return next(which for which, spec in PROGRAMS.items() if spec[0] == program)


def _tree_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return [p for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]


def _input_files(which: str) -> list[pathlib.Path]:
    files = []
    for folder in PROGRAM_SOURCES[which]:
        files += _tree_files(ROOT / folder)
    files += sorted((ROOT / "requirements").glob("*.txt"))
    files += [PACKAGING / "build_artifacts.py"] + [PACKAGING / name for name in PROGRAM_PACKAGING[which]]
    if which == "cli":
        files += _tree_files(CLI_HOOKS)
    files.append(SCHEMA)
    if which == "cli" and UNIVERSE.is_dir():
        files += _tree_files(UNIVERSE)
    return sorted({p for p in files if p.is_file()})


def fingerprint(program: str) -> str:
    """sha256 over every input's relative path and content, plus the toolchain versions."""
    import PyInstaller
    digest = hashlib.sha256()
    digest.update(f"{program}\0{sys.version}\0{PyInstaller.__version__}\0".encode())
    for path in _input_files(_which(program)):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _stage_sources(program: str) -> pathlib.Path:
    """Copy the product trees into one ``dcos_scaleio`` package folder (what setup.py's package_dir
    maps at install time). PyInstaller's module graph searches plain paths and cannot see the
    editable install's mapping; the sandbox is simply never staged. One staging folder per program,
    so that builds of different programs can run at the same time."""
    staging = WORK / "src" / program
    shutil.rmtree(staging, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "dcos_scaleio", staging / "dcos_scaleio", ignore=ignore)
    for folder in SOURCE_DIRS[1:]:
        shutil.copytree(ROOT / folder, staging / "dcos_scaleio" / folder, ignore=ignore)
    return staging


def _pyinstaller(program: str, entry: str, module: str, log) -> pathlib.Path:
    dist, work = WORK / "dist", WORK / "work"
    staging = _stage_sources(program)
    is_cli = program == PROGRAMS["cli"][0]
    argv = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--onedir", "--name", program,
            "--distpath", str(dist), "--workpath", str(work), "--specpath", str(WORK / "spec"),
            "--paths", str(staging), "--paths", str(PACKAGING), "--log-level", "WARN",
            "--add-data", f"{SCHEMA}{os.pathsep}dcos_scaleio/schema",
            "--hidden-import", module]
    for name in CLI_COLLECT if is_cli else COLLECT:
        argv += ["--collect-submodules", name]
    for name in EXCLUDES + (CLI_EXCLUDES if is_cli else ()):
        argv += ["--exclude-module", name]
    if is_cli and UNIVERSE.is_dir():
        # The package this CLI belongs to, and U's builder that fills it in (cli/publish.py).
        argv += ["--add-data", f"{UNIVERSE}{os.pathsep}dcos_scaleio/universe", "--hidden-import", "universe"]
    if is_cli:
        argv += ["--additional-hooks-dir", str(CLI_HOOKS)]
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


def _zip_cli(bundle: pathlib.Path, target: pathlib.Path) -> None:
    """Zip the bundle under ``bin/`` (sorted, fixed timestamps, modes kept) into ``target`` atomically."""
    import zipfile
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(bundle.rglob("*")):
            name = "bin/" + str(path.relative_to(bundle)) + ("/" if path.is_dir() else "")
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            mode = path.lstat().st_mode
            info.external_attr = (mode & 0xFFFF) << 16
            info.create_system = 3   # unix: the modes (the executable bit) are honoured on extraction
            if path.is_symlink():
                zf.writestr(info, os.readlink(path))
            elif path.is_dir():
                zf.writestr(info, b"")
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    os.replace(tmp, target)


def artifact_name(which: str) -> str:
    program = PROGRAMS[which][0]
    return CLI_ZIP if which == "cli" else f"{program}.tar.gz"


def ensure(which: str, force: bool = False) -> dict:
    """Build ``which`` ("executor"/"scheduler"/"cli") unless its fingerprint is unchanged; describe it."""
    program, entry, module = PROGRAMS[which]
    target = OUT / artifact_name(which)
    sha_file = OUT / f"{target.name}.sha256"
    stamp = OUT / f"{program}.fingerprint"
    fp = fingerprint(program)
    started = time.monotonic()
    built = False
    if force or not (target.is_file() and sha_file.is_file() and stamp.is_file()
                     and stamp.read_text().strip() == fp):
        stamp.unlink(missing_ok=True)   # an interrupted build must never look fresh
        with open(OUT / f"{program}.build.log", "w") as log:
            bundle = _pyinstaller(program, entry, module, log)
        (_zip_cli if which == "cli" else _pack)(bundle, target)
        sha_file.write_text(f"{sha256_file(target)}  {target.name}\n")
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
    for which in args.only or DEFAULT_BUILD:
        program = PROGRAMS[which][0]
        key = "dcos-scaleio-cli" if which == "cli" else program
        # One lock per program: parallel callers of the same program wait, then find the fresh stamp;
        # different programs build at the same time (a test session's workers need all three).
        with open(OUT / f".{program}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                result[key] = ensure(which, force=args.force)
            except subprocess.CalledProcessError:
                log = OUT / f"{program}.build.log"
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
                print(f"building {which} failed; full log: {log}", file=sys.stderr)
                return 1
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
