"""Small helpers shared by the fake tools (output, errors, package-file installs for dpkg and rpm)."""
from __future__ import annotations

import sys

from ..families import host_config


def out(text: str = "") -> None:
    sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))


def err(text: str) -> None:
    sys.stderr.write(text + ("\n" if not text.endswith("\n") else ""))


def family() -> str:
    return host_config()["os_family"]


def reading_database(db) -> str:
    """dpkg's "(Reading database ... N files and directories currently installed.)" line."""
    count = 23817 + sum(len(e["files"]) + len(e.get("dirs", [])) for e in db.pkgs.values())
    return f"(Reading database ... {count} files and directories currently installed.)"


def flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
