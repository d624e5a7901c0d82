"""Fake ``yum`` (CentOS 7, yum 3.4): install/localinstall [-y] PKG|./file.rpm..., remove/erase [-y],
list installed, makecache, clean.

Named packages come from the built-in catalogue and install instantly; local ``.rpm`` files go
through rpm's transaction with their dependencies resolved from the catalogue. Exit codes as yum:
0 ok (also "Nothing to do" when everything is installed), 1 error (no such package, failed
dependencies, a failed scriptlet, declined).
"""
from __future__ import annotations

import os
import sys

from .. import catalogue
from ..packages import Package, PackageError
from ..pkgdb import PkgDB, ScriptFailed
from . import rpm
from ._common import out, err, flush

_PLUGINS = "Loaded plugins: fastestmirror\nLoading mirror speeds from cached hostfile"


def _parse(argv):
    opts = {"yes": False, "quiet": False}
    words = []
    for a in argv:
        if a in ("-y", "--assumeyes"):
            opts["yes"] = True
        elif a in ("-q", "--quiet"):
            opts["quiet"] = True
        elif a.startswith("-") and not a.startswith("--") and set(a[1:]) <= set("yqC"):
            opts["yes"] |= "y" in a
            opts["quiet"] |= "q" in a
        elif a.startswith("-"):
            pass  # --nogpgcheck, --disablerepo=..., --setopt=... accepted
        else:
            words.append(a)
    return opts, words


def _say(opts, text: str) -> None:
    if not opts["quiet"]:
        out(text)


def _confirm(opts) -> bool:
    if opts["yes"]:
        return True
    sys.stdout.write("Is this ok [y/d/N]: ")
    sys.stdout.flush()
    answer = sys.stdin.readline() if not sys.stdin.closed else ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    out("Exiting on user command\nYour transaction was saved, rerun it with:\n yum load-transaction /tmp/yum_save_tx.yumtx")
    return False


def install(words, opts) -> int:
    db = PkgDB("rhel")
    with db.locked(blocking=True):
        _say(opts, _PLUGINS)
        files = [w for w in words if w.endswith(".rpm") and ("/" in w or os.path.exists(w))]
        names = [w for w in words if w not in files]
        archives = []
        for path in files:
            try:
                with Package(path) as pkg:
                    archives.append((path, pkg))
                    _say(opts, f"Examining {path}: {pkg.name}-{pkg.version}.{pkg.arch}\n"
                               f"Marking {path} to be installed")
            except (PackageError, FileNotFoundError):
                err(f"Cannot open: {path}. Skipping.")
        new, missing = [], []
        for name in names:
            version = catalogue.lookup("rhel", name)
            if db.is_installed(name):
                e = db.get(name)
                _say(opts, f"Package {rpm.nevra(e)} already installed and latest version")
            elif version is None:
                _say(opts, f"No package {name} available.")
                missing.append(name)
            else:
                new.append(name)
        batch = {p.name for _, p in archives} | set(new)
        deps = []
        for _, pkg in archives:
            for dep in pkg.depends:
                if dep in batch or dep in deps or db.is_installed(dep):
                    continue
                if catalogue.lookup("rhel", dep) is None:
                    _say(opts, "--> Finished Dependency Resolution")
                    err(f"Error: Package: {pkg.name}-{pkg.version}.{pkg.arch} (/{os.path.basename(archives[0][0])})\n"
                        f"           Requires: {dep}\n"
                        " You could try using --skip-broken to work around the problem\n"
                        " You could try running: rpm -Va --nofiles --nodigest")
                    return 1
                deps.append(dep)
        everything = new + deps
        if not everything and not archives:
            if missing:
                err("Error: Nothing to do")
                return 1
            _say(opts, "Nothing to do")
            return 0
        _say(opts, "Resolving Dependencies\n--> Running transaction check")
        for name in everything:
            _say(opts, f"---> Package {name}.x86_64 0:{catalogue.lookup('rhel', name)} will be installed")
        for _, pkg in archives:
            _say(opts, f"---> Package {pkg.name}.{pkg.arch} 0:{pkg.version} will be installed")
        _say(opts, "--> Finished Dependency Resolution\n\nDependencies Resolved\n")
        n_total = len(everything) + len(archives)
        _say(opts, f"Transaction Summary\n{'=' * 80}\nInstall  {n_total} Package{'s' if n_total > 1 else ''}\n")
        if not _confirm(opts):
            return 1
        _say(opts, "Downloading packages:\nRunning transaction check\nRunning transaction test\n"
                   "Transaction test succeeded\nRunning transaction")
        for i, name in enumerate(everything, 1):
            _say(opts, f"  Installing : {name}-{catalogue.lookup('rhel', name)}.x86_64{i:>30}/{n_total}")
            catalogue.install(db, name)
        db.save()
        flush()
        rc = 0
        if archives:
            rc = rpm.install_locked(db, [p for p, _ in archives], upgrade=True)
        if rc:
            err("Error in PREIN/POSTIN scriptlet in rpm package")
            return 1
        _say(opts, "\nInstalled:\n  " + "  ".join(f"{n}.x86_64 0:{catalogue.lookup('rhel', n)}" for n in new)
             + "".join(f"  {p.name}.{p.arch} 0:{p.version}" for _, p in archives))
        if deps:
            _say(opts, "\nDependency Installed:\n  " + "  ".join(f"{n}.x86_64 0:{catalogue.lookup('rhel', n)}" for n in deps))
        _say(opts, "\nComplete!")
        return 0


def remove(words, opts) -> int:
    db = PkgDB("rhel")
    with db.locked(blocking=True):
        _say(opts, _PLUGINS.splitlines()[0])
        targets = []
        for name in words:
            if db.is_installed(name):
                targets.append(name)
            else:
                _say(opts, f"No Match for argument: {name}")
        if not targets:
            _say(opts, "No Packages marked for removal")
            return 0
        extra = sorted({u for t in targets for u in db.dependents(t)} - set(targets))
        everything = extra + targets
        _say(opts, "Resolving Dependencies\n--> Running transaction check")
        for name in everything:
            _say(opts, f"---> Package {name}.x86_64 0:{db.get(name)['version']} will be erased")
        _say(opts, f"--> Finished Dependency Resolution\n\nTransaction Summary\n{'=' * 80}\n"
                   f"Remove  {len(everything)} Package{'s' if len(everything) > 1 else ''}\n")
        if not _confirm(opts):
            return 1
        failed = False
        for name in everything:
            flush()
            try:
                db.remove(name, None, purge=True)
            except ScriptFailed as exc:
                err(f"Error in PREUN scriptlet in rpm package {name}\nerror: %preun({name}) scriptlet failed, "
                    f"exit status {exc.status}")
                failed = True
        _say(opts, "\nRemoved:\n  " + "  ".join(f"{n}.x86_64" for n in everything) + "\n\nComplete!")
        return 1 if failed else 0


def main(argv) -> int:
    opts, words = _parse(argv)
    if not words:
        err("You need to give some command")
        return 1
    cmd, rest = words[0], words[1:]
    if cmd in ("install", "localinstall", "reinstall"):
        if not rest:
            err("Error: Need to pass a list of pkgs to install")
            return 1
        return install(rest, opts)
    if cmd in ("remove", "erase"):
        if not rest:
            err("Error: Need to pass a list of pkgs to remove")
            return 1
        return remove(rest, opts)
    if cmd == "list":
        db = PkgDB("rhel")
        db.load()
        _say(opts, _PLUGINS.splitlines()[0] + "\nInstalled Packages")
        for name in sorted(db.pkgs):
            e = db.pkgs[name]
            if e["status"] == "installed" and (len(rest) < 2 or name in rest[1:]):
                out(f"{name + '.' + e['arch']:<40}{e['version']:<30}@base")
        return 0
    if cmd in ("makecache", "clean", "check-update", "repolist"):
        _say(opts, _PLUGINS)
        return 0
    err(f"No such command: {cmd}. Please use /usr/bin/yum --help")
    return 1
