"""Fake ``dpkg``: -i/--install FILE.deb..., -r/--remove, -P/--purge, --configure PKG|-a, and the query
actions (-s, -l, -L, -W) which it hands to dpkg-query as the real one does.

Messages and exit codes follow dpkg 1.18 (Ubuntu 16.04): 0 success, 1 a package failed (the
"Errors were encountered while processing:" trailer), 2 usage error or locked database.
"""
from __future__ import annotations

import os

from ..packages import Package, PackageError
from ..pkgdb import PkgDB, Locked, ScriptFailed, INSTALLED, UNPACKED, HALF_CONFIGURED, CONFIG_FILES
from . import dpkg_query
from ._common import out, err, reading_database, flush

_LOCKED = "dpkg: error: dpkg status database is locked by another process"


class Failures:
    """Collects what failed, printing dpkg's trailer at the end."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, what: str, header: str, detail: str) -> None:
        err(f"{header}\n {detail}")
        self.items.append(what)

    def finish(self) -> int:
        if not self.items:
            return 0
        err("Errors were encountered while processing:\n" + "\n".join(f" {i}" for i in self.items))
        return 1


def _open_archive(path: str, action: str, fails: Failures):
    if not os.path.exists(path):
        fails.add(path, f"dpkg: error processing archive {path} (--{action}):",
                  "cannot access archive: No such file or directory")
        return None
    try:
        pkg = Package(path)
    except PackageError:
        pkg = None
    if pkg is None or pkg.os_family != "ubuntu":
        err(f"dpkg-deb: error: '{path}' is not a Debian format archive")
        fails.add(path, f"dpkg: error processing archive {path} (--{action}):",
                  "dpkg-deb --control subprocess returned error exit status 2")
        return None
    return pkg


def configure_package(db: PkgDB, name: str, action: str, fails: Failures, env) -> None:
    entry = db.get(name)
    missing = db.missing_deps(entry["depends"])
    if missing:
        lines = [f"dpkg: dependency problems prevent configuration of {name}:"]
        for dep in missing:
            lines.append(f" {name} depends on {dep}; however:\n  Package {dep} is not installed.")
        err("\n".join(lines) + "\n")
        fails.add(name, f"dpkg: error processing package {name} (--{action}):",
                  "dependency problems - leaving unconfigured")
        return
    out(f"Setting up {name} ({entry['version']}) ...")
    flush()
    try:
        db.configure(name, env)
    except ScriptFailed as exc:
        fails.add(name, f"dpkg: error processing package {name} (--{action}):",
                  f"installed {name} package post-installation script subprocess returned error exit status {exc.status}")


def install(paths, env=None) -> int:
    if not paths:
        err("dpkg: error: --install needs at least one package archive file argument")
        return 2
    fails = Failures()
    db = PkgDB("ubuntu")
    try:
        with db.locked(blocking=False):
            install_locked(db, paths, fails, env)
    except Locked:
        err(_LOCKED)
        return 2
    return fails.finish()


def install_locked(db: PkgDB, paths, fails: Failures, env=None) -> None:
    """Unpack then configure package files, dpkg-style, with the database already locked."""
    unpacked = []
    for path in paths:
        pkg = _open_archive(path, "install", fails)
        if pkg is None:
            continue
        with pkg:
            old = db.get(pkg.name)
            if old is None or old["status"] == CONFIG_FILES:
                out(f"Selecting previously unselected package {pkg.name}.")
            out(reading_database(db))
            out(f"Preparing to unpack .../{os.path.basename(path)} ...")
            if old is not None and old["status"] != CONFIG_FILES:
                out(f"Unpacking {pkg.name} ({pkg.version}) over ({old['version']}) ...")
            else:
                out(f"Unpacking {pkg.name} ({pkg.version}) ...")
            flush()
            try:
                db.unpack(pkg, env)
            except ScriptFailed as exc:
                kind = "pre-installation" if exc.script == "preinst" else \
                    ("pre-removal" if exc.script == "prerm" else "post-removal")
                age = "new" if exc.script == "preinst" else "old"
                fails.add(path, f"dpkg: error processing archive {path} (--install):",
                          f"{age} {pkg.name} package {kind} script subprocess returned error exit status {exc.status}")
                continue
            except PackageError as exc:
                fails.add(path, f"dpkg: error processing archive {path} (--install):", str(exc))
                continue
            unpacked.append(pkg.name)
    for name in unpacked:
        configure_package(db, name, "install", fails, env)


def remove(names, purge: bool, env=None) -> int:
    action = "purge" if purge else "remove"
    if not names:
        err(f"dpkg: error: --{action} needs at least one package name argument")
        return 2
    fails = Failures()
    db = PkgDB("ubuntu")
    try:
        with db.locked(blocking=False):
            first = True
            for name in names:
                entry = db.get(name)
                if entry is None or (entry["status"] == CONFIG_FILES and not purge):
                    err(f"dpkg: warning: ignoring request to {action} {name} which isn't installed")
                    continue
                users = [u for u in db.dependents(name) if u not in names]
                if users and entry["status"] != CONFIG_FILES:
                    err(f"dpkg: dependency problems prevent removal of {name}:\n"
                        + "".join(f" {u} depends on {name}.\n" for u in users))
                    fails.add(name, f"dpkg: error processing package {name} (--{action}):",
                              "dependency problems - not removing")
                    continue
                if first:
                    out(reading_database(db))
                    first = False
                if entry["status"] != CONFIG_FILES:
                    out(f"Removing {name} ({entry['version']}) ...")
                if purge:
                    out(f"Purging configuration files for {name} ({entry['version']}) ...")
                flush()
                try:
                    db.remove(name, env, purge=purge)
                except ScriptFailed as exc:
                    kind = "pre-removal" if exc.script == "prerm" else "post-removal"
                    fails.add(name, f"dpkg: error processing package {name} (--{action}):",
                              f"installed {name} package {kind} script subprocess returned error exit status {exc.status}")
    except Locked:
        err(_LOCKED)
        return 2
    return fails.finish()


def configure(names, env=None) -> int:
    fails = Failures()
    db = PkgDB("ubuntu")
    try:
        with db.locked(blocking=False):
            if names in (["-a"], ["--pending"]):
                names = [n for n, e in sorted(db.pkgs.items()) if e["status"] in (UNPACKED, HALF_CONFIGURED)]
            for name in names:
                entry = db.get(name)
                if entry is None:
                    fails.add(name, f"dpkg: error processing package {name} (--configure):",
                              f"package {name} is not installed and no information is available")
                    continue
                if entry["status"] == INSTALLED:
                    err(f"dpkg: error processing package {name} (--configure):\n"
                        f" package {name} is already installed and configured")
                    fails.items.append(name)
                    continue
                configure_package(db, name, "configure", fails, env)
    except Locked:
        err(_LOCKED)
        return 2
    return fails.finish()


_QUERY = {"-s": "--status", "--status": "--status", "-l": "--list", "--list": "--list",
          "-L": "--listfiles", "--listfiles": "--listfiles", "-W": "--show", "--show": "--show"}


def main(argv) -> int:
    args = [a for a in argv if not (a.startswith("--force-") or a in ("--no-triggers", "--refuse-downgrade",
                                                                       "-E", "--skip-same-version", "-G"))]
    if not args:
        err("dpkg: error: need an action option\n\n"
            "Type dpkg --help for help about installing and deinstalling packages [*];\n"
            "Use 'apt' or 'aptitude' for user-friendly package management;\n"
            "Type dpkg -Dhelp for a list of dpkg debug flag values;\n"
            "Type dpkg --force-help for a list of forcing options;\n"
            "Type dpkg-deb --help for help about manipulating *.deb files;\n\n"
            "Options marked [*] produce a lot of output - pipe it through 'less' or 'more' !")
        return 2
    head, rest = args[0], args[1:]
    if head in _QUERY or (head.startswith("-W") and len(head) > 2):
        return dpkg_query.main(args)
    if head in ("-i", "--install"):
        return install(rest)
    if head in ("-r", "--remove"):
        return remove(rest, purge=False)
    if head in ("-P", "--purge"):
        return remove(rest, purge=True)
    if head == "--configure":
        return configure(rest)
    if head == "--version":
        out("Debian 'dpkg' package management program version 1.18.4 (amd64).")
        return 0
    if head == "--print-architecture":
        out("amd64")
        return 0
    err(f"dpkg: error: unknown option {head}\n\nType dpkg --help for help about installing and deinstalling packages [*];")
    return 2
