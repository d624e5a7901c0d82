"""Fake ``rpm``: -i/-U/-F (with -v -h --nodeps --force --replacepkgs --test), -e [--nodeps],
-q/-qa/-qi/-ql/-qp with --qf/--queryformat, --import.

Messages and exit codes follow rpm 4.11 (CentOS 7): 1 on any failed package or unknown query target.
"""
from __future__ import annotations

import fnmatch
import os
import re

from ..packages import Package, PackageError, vercmp
from ..pkgdb import PkgDB, ScriptFailed, INSTALLED
from ._common import out, err, flush

_NEVRA_FMT = "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"


def split_version(version: str):
    """rpm VERSION and RELEASE of a package version "3.0-200.104" -> ("3.0", "200.104")."""
    if "-" in version:
        v, r = version.rsplit("-", 1)
        return v, r
    return version, "1"


def _tag(entry: dict, tag: str) -> str:
    version, release = split_version(entry["version"].split(":", 1)[-1])
    return {
        "NAME": entry["name"], "VERSION": version, "RELEASE": release, "ARCH": entry["arch"],
        "EPOCH": entry["version"].split(":", 1)[0] if ":" in entry["version"] else "(none)",
        "SUMMARY": entry["description"], "SIZE": str(entry.get("size", 0)),
        "INSTALLTIME": str(entry.get("installed_at", 0)), "DESCRIPTION": entry["description"],
    }.get(tag.upper(), "(none)")


def render(fmt: str, entry: dict) -> str:
    text = re.sub(r"%\{([A-Za-z]+)\}", lambda m: _tag(entry, m.group(1)), fmt)
    return text.replace("\\n", "\n").replace("\\t", "\t")


def nevra(entry: dict) -> str:
    return render(_NEVRA_FMT, entry)


def _info(entry: dict) -> str:
    return (f"Name        : {entry['name']}\nVersion     : {_tag(entry, 'VERSION')}\n"
            f"Release     : {_tag(entry, 'RELEASE')}\nArchitecture: {entry['arch']}\n"
            f"Install Date: {entry.get('installed_at', 0)}\nGroup       : Unspecified\n"
            f"Size        : {entry.get('size', 0)}\nLicense     : Proprietary\n"
            f"Signature   : (none)\nSource RPM  : {entry['name']}-{entry['version']}.src.rpm\n"
            f"Summary     : {entry['description']}\nDescription :\n{entry['description']}\n")


# ---------------------------------------------------------------------------------------- install
def _progress(label: str, verbose: bool, hashes: bool) -> None:
    if verbose and hashes:
        out(f"{label:<38}################################# [100%]")
    elif verbose:
        out(label)


def install(paths, *, upgrade: bool, freshen: bool, nodeps: bool, force: bool, test: bool,
            verbose: bool, hashes: bool, env=None) -> int:
    if not paths:
        err("rpm: no packages given for install")
        return 1
    db = PkgDB("rhel")
    with db.locked(blocking=True):
        return install_locked(db, paths, upgrade=upgrade, freshen=freshen, nodeps=nodeps, force=force,
                              test=test, verbose=verbose, hashes=hashes, env=env)


def install_locked(db: PkgDB, paths, *, upgrade=True, freshen=False, nodeps=False, force=False, test=False,
                   verbose=False, hashes=False, env=None) -> int:
    """rpm -i/-U/-F with the database already locked (yum localinstall uses it too)."""
    pkgs, problems = [], []
    for path in paths:
        if not os.path.exists(path):
            err(f"error: open of {path} failed: No such file or directory")
            return 1
        try:
            pkg = Package(path)
        except PackageError:
            pkg = None
        if pkg is None or pkg.os_family != "rhel":
            err(f"error: {path}: not an rpm package (or package manifest)")
            return 1
        pkgs.append(pkg)
    batch = {p.name for p in pkgs}
    todo = []
    for pkg in pkgs:
        label = f"{pkg.name}-{pkg.version}.{pkg.arch}"
        old = db.get(pkg.name)
        if old is not None and old["status"] == INSTALLED:
            cmp = vercmp(pkg.version, old["version"])
            if not force and (not upgrade or cmp == 0):
                problems.append(f"\tpackage {label} is already installed")
                continue
            if not force and cmp < 0:
                problems.append(f"\tpackage {nevra(old)} (which is newer than {label}) is already installed")
                continue
        elif freshen:
            continue
        if not nodeps:
            for dep in pkg.depends:
                if dep not in batch and not db.is_installed(dep):
                    problems.append(f"\t{dep} is needed by {label}")
        todo.append(pkg)
    if problems:
        deps = [p for p in problems if "is needed by" in p]
        if deps:
            err("error: Failed dependencies:\n" + "\n".join(deps))
        for p in problems:
            if p not in deps:
                err(p)
        return 1
    if test or not todo:
        return 0
    _progress("Preparing...", verbose, hashes)
    if verbose:
        out("Updating / installing...")
    failed = 0
    # Dependencies inside one transaction go first, as rpm orders them.
    todo.sort(key=lambda p: sum(1 for d in p.depends if d in batch))
    for n, pkg in enumerate(todo, 1):
        label = f"{pkg.name}-{pkg.version}.{pkg.arch}"
        _progress(f"   {n}:{pkg.name}-{pkg.version}", verbose, hashes)
        flush()
        old = db.get(pkg.name)
        try:
            db.unpack(pkg, env)
        except ScriptFailed as exc:
            err(f"error: %pre({label}) scriptlet failed, exit status {exc.status}\n"
                f"error: {label}: install failed")
            failed += 1
            continue
        try:
            db.configure(pkg.name, env)
        except ScriptFailed as exc:
            # rpm keeps the package installed after a failed %post, but reports it.
            err(f"warning: %post({label}) scriptlet failed, exit status {exc.status}")
            db.get(pkg.name)["status"] = INSTALLED
            db.save()
            failed += 1
        if old is not None and old["status"] == INSTALLED:
            if verbose:
                out("Cleaning up / removing...")
                _progress(f"   {n + len(todo)}:{old['name']}-{old['version']}", verbose, hashes)
    return 1 if failed else 0


def erase(names, *, nodeps: bool, test: bool, env=None) -> int:
    if not names:
        err("rpm: no packages given for erase")
        return 1
    db = PkgDB("rhel")
    with db.locked(blocking=True):
        targets, problems = [], []
        for spec in names:
            entry = _find(db, spec)
            if entry is None:
                problems.append(f"error: package {spec} is not installed")
                continue
            targets.append(entry)
        if problems:
            err("\n".join(problems))
            return 1
        names_set = {e["name"] for e in targets}
        if not nodeps:
            needed = []
            for e in targets:
                for user in db.dependents(e["name"]):
                    if user not in names_set:
                        needed.append(f"\t{e['name']} is needed by (installed) {nevra(db.get(user))}")
            if needed:
                err("error: Failed dependencies:\n" + "\n".join(needed))
                return 1
        if test:
            return 0
        failed = 0
        for e in targets:
            label = nevra(e)
            flush()
            try:
                db.remove(e["name"], env, purge=True)
            except ScriptFailed as exc:
                tag = "preun" if exc.script == "prerm" else "postun"
                err(f"error: %{tag}({label}) scriptlet failed, exit status {exc.status}")
                failed += 1
    return 1 if failed else 0


def _find(db: PkgDB, spec: str):
    """An installed package by name, name-version, or full NEVRA."""
    for e in db.pkgs.values():
        if e["status"] != INSTALLED:
            continue
        if spec in (e["name"], f"{e['name']}-{e['version']}", nevra(e)):
            return e
    return None


# ---------------------------------------------------------------------------------------- query
def query(targets, *, all_: bool, info: bool, files: bool, package_file: bool, fmt: str | None) -> int:
    db = PkgDB("rhel")
    db.load()
    rc = 0

    def show(entry):
        if fmt is not None:
            print(render(fmt, entry), end="")
        elif info:
            print(_info(entry), end="")
        elif files:
            for p in entry["files"] or ["(contains no files)"]:
                print(p)
        else:
            print(nevra(entry))

    if package_file:
        for path in targets:
            try:
                with Package(path) as pkg:
                    entry = db._entry(pkg.name, pkg.version, description=pkg.description, files=sorted(pkg.files))
            except (PackageError, FileNotFoundError):
                err(f"error: open of {path} failed: No such file or directory" if not os.path.exists(path)
                    else f"error: {path}: not an rpm package (or package manifest)")
                rc = 1
                continue
            show(entry)
        return rc
    if all_:
        installed = sorted((e for e in db.pkgs.values() if e["status"] == INSTALLED), key=lambda e: e["name"])
        for e in installed:
            if not targets or any(fnmatch.fnmatchcase(e["name"], t) or fnmatch.fnmatchcase(nevra(e), t)
                                  for t in targets):
                show(e)
        return 0
    if not targets:
        err("rpm: no arguments given for query")
        return 1
    for t in targets:
        e = _find(db, t)
        if e is None:
            print(f"package {t} is not installed")
            rc = 1
        else:
            show(e)
    return rc


def main(argv) -> int:
    mode, targets = None, []
    flags = {"nodeps": False, "force": False, "test": False, "verbose": False, "hashes": False,
             "all": False, "info": False, "files": False, "package_file": False}
    fmt = None
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--qf", "--queryformat"):
            i += 1
            fmt = args[i] if i < len(args) else ""
        elif a.startswith(("--qf=", "--queryformat=")):
            fmt = a.split("=", 1)[1]
        elif a == "--nodeps":
            flags["nodeps"] = True
        elif a in ("--force", "--replacepkgs", "--replacefiles", "--oldpackage"):
            flags["force"] = True
        elif a == "--test":
            flags["test"] = True
        elif a == "--import":
            return 0 if all(os.path.exists(k) for k in args[i + 1:]) and args[i + 1:] else _import_error(args[i + 1:])
        elif a in ("--install", "--upgrade", "--freshen", "--erase", "--query"):
            mode = {"--install": "i", "--upgrade": "U", "--freshen": "F", "--erase": "e", "--query": "q"}[a]
        elif a in ("--all",):
            flags["all"] = True
        elif a == "--version":
            out("RPM version 4.11.3")
            return 0
        elif a.startswith("--"):
            pass  # --quiet, --percent, --noscripts ... accepted
        elif a.startswith("-") and len(a) > 1:
            for ch in a[1:]:
                if ch in "iUFeq":
                    if mode is not None and not (mode == "q" and ch == "i"):
                        err("rpm: only one major mode may be specified")
                        return 1
                    if mode == "q" and ch == "i":
                        flags["info"] = True
                    else:
                        mode = ch
                elif ch == "v":
                    flags["verbose"] = True
                elif ch == "h":
                    flags["hashes"] = True
                elif ch == "a":
                    flags["all"] = True
                elif ch == "l":
                    flags["files"] = True
                elif ch == "p":
                    flags["package_file"] = True
                else:
                    err(f"rpm: -{ch}: unknown option")
                    return 1
        else:
            targets.append(a)
        i += 1
    if mode in ("i", "U", "F"):
        return install(targets, upgrade=mode in "UF", freshen=mode == "F", nodeps=flags["nodeps"],
                       force=flags["force"], test=flags["test"], verbose=flags["verbose"], hashes=flags["hashes"])
    if mode == "e":
        return erase(targets, nodeps=flags["nodeps"], test=flags["test"])
    if mode == "q":
        return query(targets, all_=flags["all"], info=flags["info"], files=flags["files"],
                     package_file=flags["package_file"], fmt=fmt)
    err("rpm: no mode specified")
    return 1


def _import_error(keys) -> int:
    for k in keys or ["(none)"]:
        err(f"error: {k}: import read failed(2).")
    return 1
