"""Fake ``dpkg-query``: -W/--show [-f FMT], -s/--status, -l/--list, -L/--listfiles (also used by dpkg).

Exit codes as the real tool: 0 found, 1 some package not found / not installed, 2 usage error.
"""
from __future__ import annotations

import fnmatch
import re

from ..pkgdb import PkgDB, dpkg_status, INSTALLED, CONFIG_FILES
from ._common import out, err

DEFAULT_FORMAT = "${binary:Package}\t${Version}\n"
_ABBREV = {"installed": "ii ", "unpacked": "iU ", "half-configured": "iF ", "config-files": "rc "}


def _db() -> PkgDB:
    db = PkgDB("ubuntu")
    db.load()
    return db


def _field(entry: dict, field: str) -> str:
    name = entry["name"]
    return {
        "Package": name, "binary:Package": name, "Version": entry["version"], "Status": dpkg_status(entry),
        "Architecture": entry["arch"], "Description": entry["description"],
        "Installed-Size": str(max(1, entry.get("size", 0) // 1024)), "db:Status-Abbrev": _ABBREV[entry["status"]],
        "db:Status-Want": dpkg_status(entry).split()[0], "db:Status-Status": dpkg_status(entry).split()[2],
        "Depends": ", ".join(entry["depends"]), "Maintainer": "Sandbox <sandbox@localhost>",
        "Section": "misc", "Priority": "optional", "Source": name,
    }.get(field, "")


def render(fmt: str, entry: dict) -> str:
    """Expand a dpkg-query --showformat string (``${Field}``, ``${Field;width}``, \\n \\t \\\\ escapes)."""
    def repl(m):
        value = _field(entry, m.group(1))
        if m.group(2):
            width = int(m.group(2))
            value = value.ljust(-width) if width < 0 else value.rjust(width)
        return value
    text = re.sub(r"\$\{([^};]+)(?:;(-?\d+))?\}", repl, fmt)
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _matches(db: PkgDB, patterns, include_all: bool):
    """(entries, missing patterns) for the given patterns (all known packages when none)."""
    names = sorted(db.pkgs)
    if not patterns:
        return [db.pkgs[n] for n in names if include_all or db.pkgs[n]["status"] != CONFIG_FILES], []
    found, missing = [], []
    for pat in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pat.split(":")[0])]
        if hits:
            found += [db.pkgs[n] for n in hits if db.pkgs[n] not in found]
        else:
            missing.append(pat)
    return found, missing


def show(patterns, fmt: str = DEFAULT_FORMAT) -> int:
    db = _db()
    found, missing = _matches(db, patterns, include_all=True)
    for entry in found:
        print(render(fmt, entry), end="")
    for pat in missing:
        err(f"dpkg-query: no packages found matching {pat}")
    return 1 if missing else 0


def status(names) -> int:
    if not names:
        err("dpkg-query: error: --status needs at least one package name argument")
        return 2
    db = _db()
    rc = 0
    paras = []
    for name in names:
        entry = db.get(name.split(":")[0])
        if entry is None:
            err(f"dpkg-query: package '{name}' is not installed and no information is available")
            rc = 1
            continue
        lines = [f"Package: {entry['name']}", f"Status: {dpkg_status(entry)}", "Priority: optional",
                 "Section: misc", f"Installed-Size: {_field(entry, 'Installed-Size')}",
                 "Maintainer: Sandbox <sandbox@localhost>", f"Architecture: {entry['arch']}",
                 f"Version: {entry['version']}"]
        if entry["depends"]:
            lines.append("Depends: " + ", ".join(entry["depends"]))
        if entry["conffiles"]:
            lines.append("Conffiles:")
            lines += [f" {p} {h[:32]}" for p, h in sorted(entry["conffiles"].items())]
        lines.append(f"Description: {entry['description']}")
        paras.append("\n".join(lines) + "\n")
    if paras:
        print("\n".join(paras), end="")
    if rc:
        err("Use dpkg --info (= dpkg-deb --info) to examine archive files.")
    return rc


def listing(patterns) -> int:
    db = _db()
    found, missing = _matches(db, patterns, include_all=bool(patterns))
    if found:
        out("Desired=Unknown/Install/Remove/Purge/Hold\n"
            "| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n"
            "|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n"
            "||/ Name                      Version                   Architecture Description\n"
            "+++-=========================-=========================-============-"
            "===============================================================================")
        for e in found:
            out(f"{_ABBREV[e['status']]} {e['name']:<25} {e['version']:<25} {e['arch']:<12} {e['description']}")
    for pat in missing:
        err(f"dpkg-query: no packages found matching {pat}")
    return 1 if missing else 0


def listfiles(names) -> int:
    db = _db()
    rc = 0
    for name in names:
        entry = db.get(name)
        if entry is None or entry["status"] != INSTALLED and not entry["files"]:
            err(f"dpkg-query: package '{name}' is not installed\n"
                "Use dpkg --contents (= dpkg-deb --contents) to list archive files contents.")
            rc = 1
            continue
        paths = set(entry["files"]) | set(entry.get("dirs", []))
        for p in list(paths):
            while p not in ("/", ""):
                paths.add(p)
                p = p.rsplit("/", 1)[0] or "/"
        print("/.")
        for p in sorted(paths):
            print(p)
    return rc


def main(argv) -> int:
    args = list(argv)
    fmt = DEFAULT_FORMAT
    action = None
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-W", "--show"):
            action = "show"
        elif a in ("-s", "--status"):
            action = "status"
        elif a in ("-l", "--list"):
            action = "list"
        elif a in ("-L", "--listfiles"):
            action = "listfiles"
        elif a in ("-f", "--showformat"):
            i += 1
            if i >= len(args):
                err("dpkg-query: error: --showformat needs a value")
                return 2
            fmt = args[i]
        elif a.startswith("--showformat="):
            fmt = a.split("=", 1)[1]
        elif a.startswith("-f") and len(a) > 2:
            fmt = a[3:] if a[2] == "=" else a[2:]  # dpkg accepts -f=FMT and -fFMT
        elif a == "--version":
            out("Debian dpkg-query package management program version 1.18.4 (amd64).")
            return 0
        elif a.startswith("--admindir") or a == "--no-pager":
            pass
        elif a.startswith("-") and a != "-":
            err(f"dpkg-query: error: unknown option {a}\n\nUse --help for help about querying packages.")
            return 2
        else:
            rest.append(a)
        i += 1
    if action is None:
        err("dpkg-query: error: need an action option\n\nUse --help for help about querying packages.")
        return 2
    return {"show": lambda: show(rest, fmt), "status": lambda: status(rest), "list": lambda: listing(rest),
            "listfiles": lambda: listfiles(rest)}[action]()
