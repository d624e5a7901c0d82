"""Fake ``apt-get``: update, install [-y] PKG|./file.deb..., remove/purge [-y], -f install, clean.

Named packages come from the built-in catalogue (hosts.catalogue) and install instantly; local
``.deb`` files go through the same path as ``dpkg -i``, with their dependencies pulled from the
catalogue first. Exit codes as apt-get: 0 ok, 100 error (unknown package, broken dependencies,
locked database, a dpkg failure), 1 when the user declines ("Abort.").
"""
from __future__ import annotations

import os
import sys

from .. import catalogue
from ..packages import Package, PackageError
from ..pkgdb import PkgDB, Locked, ScriptFailed, UNPACKED, HALF_CONFIGURED, CONFIG_FILES
from . import dpkg
from ._common import out, err, flush, reading_database

_HEADER = "Reading package lists...\nBuilding dependency tree...\nReading state information..."
_LOCKED = ("E: Could not get lock /var/lib/dpkg/lock - open (11: Resource temporarily unavailable)\n"
           "E: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?")
_MIRROR = "http://archive.ubuntu.com/ubuntu xenial/main amd64"


def _parse(argv):
    opts = {"yes": False, "quiet": 0, "fix": False, "reinstall": False}
    words = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-y", "--yes", "--assume-yes", "--force-yes"):
            opts["yes"] = True
        elif a in ("-f", "--fix-broken"):
            opts["fix"] = True
        elif a == "--reinstall":
            opts["reinstall"] = True
        elif a in ("-o", "-c", "-t"):
            i += 1  # option with a value: -o Dpkg::Options::=--force-confold
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1 and set(a[1:]) <= set("yqfdm"):
            opts["yes"] |= "y" in a
            opts["fix"] |= "f" in a
            opts["quiet"] += a.count("q")
        elif a.startswith("-"):
            pass  # --no-install-recommends, --allow-unauthenticated, -qq=... accepted
        else:
            words.append(a)
        i += 1
    return opts, words


def _confirm(opts) -> bool:
    if opts["yes"]:
        return True
    sys.stdout.write("Do you want to continue? [Y/n] ")
    sys.stdout.flush()
    answer = sys.stdin.readline() if not sys.stdin.closed else ""
    if answer.strip().lower() in ("", "y", "yes") and answer:
        return True
    out("Abort.")
    return False


def install(words, opts) -> int:
    db = PkgDB("ubuntu")
    try:
        with db.locked(blocking=False):
            out(_HEADER)
            files, names = [], []
            for w in words:
                (files if w.endswith(".deb") and ("/" in w or os.path.exists(w)) else names).append(w)
            archives = []
            for path in files:
                try:
                    with Package(path) as pkg:
                        archives.append((path, pkg.name, pkg.version, list(pkg.depends)))
                except (PackageError, FileNotFoundError):
                    err(f"E: Unsupported file {path} given on commandline")
                    return 100
            pinned = [n for n in names if "=" in n]
            names = [n.split("=", 1)[0] for n in names]
            for name in names:
                if catalogue.lookup("ubuntu", name) is None and not db.is_installed(name):
                    err(f"E: Unable to locate package {name}")
                    return 100
            for spec in pinned:  # apt-get install name=version
                name, version = spec.split("=", 1)
                if catalogue.lookup("ubuntu", name) != version:
                    err(f"E: Version '{version}' for '{name}' was not found")
                    return 100
            # Dependencies of local archives come from the catalogue.
            batch = {a[1] for a in archives}
            extra, broken = [], []
            for path, pname, _, deps in archives:
                for dep in deps:
                    if dep in batch or db.is_installed(dep) or dep in names or dep in extra:
                        continue
                    if catalogue.lookup("ubuntu", dep):
                        extra.append(dep)
                    else:
                        broken.append(f" {pname} : Depends: {dep} but it is not installable")
            if opts["fix"]:
                for n, e in sorted(db.pkgs.items()):
                    if e["status"] in (UNPACKED, HALF_CONFIGURED):
                        for dep in db.missing_deps(e["depends"]):
                            if dep not in extra and catalogue.lookup("ubuntu", dep):
                                extra.append(dep)
            if broken:
                out("Some packages could not be installed. This may mean that you have\n"
                    "requested an impossible situation or if you are using the unstable\n"
                    "distribution that some required packages have not yet been created\n"
                    "or been moved out of Incoming.\nThe following information may help to resolve the situation:\n")
                out("The following packages have unmet dependencies:\n" + "\n".join(broken))
                err("E: Unable to correct problems, you have held broken packages.")
                return 100
            new = []
            for name in names:
                if db.is_installed(name) and not opts["reinstall"]:
                    out(f"{name} is already the newest version ({db.get(name)['version']}).")
                else:
                    new.append(name)
            to_install = extra + new + [a[1] for a in archives]
            if extra:
                out("The following additional packages will be installed:\n  " + " ".join(extra))
            if to_install:
                out("The following NEW packages will be installed:\n  " + " ".join(to_install))
            out(f"0 upgraded, {len(to_install)} newly installed, 0 to remove and 0 not upgraded.")
            if not to_install and not opts["fix"]:
                return 0
            if to_install and extra and not _confirm(opts):
                return 1
            for n, name in enumerate(extra + new, 1):
                out(f"Get:{n} {_MIRROR} {name} amd64 {catalogue.lookup('ubuntu', name)} [{1000 + 37 * n:,} B]")
            for name in extra + new:
                version = catalogue.lookup("ubuntu", name)
                out(f"Selecting previously unselected package {name}:amd64.")
                out(reading_database(db))
                out(f"Preparing to unpack .../{name}_{version.split(':')[-1]}_amd64.deb ...")
                out(f"Unpacking {name}:amd64 ({version}) ...")
                catalogue.install(db, name)
                out(f"Setting up {name}:amd64 ({version}) ...")
            db.save()
            flush()
            fails = dpkg.Failures()
            if archives:
                dpkg.install_locked(db, [a[0] for a in archives], fails)
            if opts["fix"]:
                for n, e in sorted(db.pkgs.items()):
                    if e["status"] in (UNPACKED, HALF_CONFIGURED) and not db.missing_deps(e["depends"]):
                        dpkg.configure_package(db, n, "configure", fails, None)
            if fails.finish():
                err("E: Sub-process /usr/bin/dpkg returned an error code (1)")
                return 100
            return 0
    except Locked:
        err(_LOCKED)
        return 100


def remove(words, opts, purge: bool) -> int:
    db = PkgDB("ubuntu")
    try:
        with db.locked(blocking=False):
            out(_HEADER)
            targets = []
            for name in words:
                entry = db.get(name)
                if entry is None and catalogue.lookup("ubuntu", name) is None:
                    err(f"E: Unable to locate package {name}")
                    return 100
                if entry is None or (entry["status"] == CONFIG_FILES and not purge):
                    out(f"Package '{name}' is not installed, so not removed")
                    continue
                targets.append(name)
            # apt removes what depends on the targets too.
            extra = sorted({u for t in targets for u in db.dependents(t)} - set(targets))
            if not targets:
                out("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
                return 0
            everything = extra + targets
            out("The following packages will be REMOVED:\n  " + " ".join(n + ("*" if purge else "") for n in everything))
            out(f"0 upgraded, 0 newly installed, {len(everything)} to remove and 0 not upgraded.")
            if not _confirm(opts):
                return 1
            out(reading_database(db))
            fails = dpkg.Failures()
            for name in everything:
                entry = db.get(name)
                out(f"Removing {name} ({entry['version']}) ...")
                if purge:
                    out(f"Purging configuration files for {name} ({entry['version']}) ...")
                flush()
                try:
                    db.remove(name, None, purge=purge)
                except ScriptFailed as exc:
                    fails.add(name, f"dpkg: error processing package {name} (--{'purge' if purge else 'remove'}):",
                              f"installed {name} package pre-removal script subprocess returned error exit status {exc.status}")
            if fails.finish():
                err("E: Sub-process /usr/bin/dpkg returned an error code (1)")
                return 100
            return 0
    except Locked:
        err(_LOCKED)
        return 100


def main(argv) -> int:
    opts, words = _parse(argv)
    if not words:
        out("apt 1.2.35 (amd64)\nUsage: apt-get [options] command\n       apt-get [options] install|remove pkg1 [pkg2 ...]")
        return 1
    cmd, rest = words[0], words[1:]
    if cmd == "update":
        out(f"Hit:1 http://archive.ubuntu.com/ubuntu xenial InRelease\n"
            f"Hit:2 http://archive.ubuntu.com/ubuntu xenial-updates InRelease\n{_HEADER.splitlines()[0]}")
        return 0
    if cmd == "install":
        if not rest and not opts["fix"]:
            out(_HEADER)
            out("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
            return 0
        return install(rest, opts)
    if cmd in ("remove", "purge", "autoremove"):
        if cmd == "autoremove":
            out(_HEADER + "\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
            return 0
        return remove(rest, opts, purge=cmd == "purge" or "--purge" in argv)
    if cmd in ("clean", "autoclean"):
        return 0
    if cmd in ("upgrade", "dist-upgrade"):
        out(_HEADER + "\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
        return 0
    err(f"E: Invalid operation {cmd}")
    return 100
