"""Sandbox package files (what the mirror serves and the fake dpkg/rpm/apt-get/yum install).

A package file is a gzip'd tar (named ``.deb`` or ``.rpm`` by family) holding:

- ``control.json``: ``{"format": "sandbox-pkg/1", "name", "version", "arch", "os_family", "depends": [...],
  "conffiles": [...], "description", "files": {"/abs/path": {"mode": int, "sha256": hex, "size": int}}}``
- ``data/<abs path without leading />``: the payload
- ``scripts/<preinst|postinst|prerm|postrm>``: Python source run inside the agent (see hosts.pkgdb)

The real tools never look inside these files except through the fake dpkg/rpm, so the format only
has to be stable and verifiable, not binary-compatible with real .deb/.rpm files.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile

from .families import ARCH, FAMILIES, PKG_EXT

FORMAT = "sandbox-pkg/1"
SCRIPTS = ("preinst", "postinst", "prerm", "postrm")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~_:-]*$")


class PackageError(Exception):
    """The file is not a valid sandbox package."""


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"bad package name: {name!r}")
    return name


def build_package(out_dir, name: str, version: str, os_family: str, files=None, scripts=None,
                  depends=(), conffiles=(), description: str = "", filename: str | None = None) -> str:
    """Build a package file and return its path.

    files: ``{"/abs/path": (bytes, mode)}`` (or just bytes, mode 0644). scripts: ``{"postinst": source}``.
    depends: package names that must be installed first. conffiles: paths among ``files`` that are
    configuration (kept on remove, dropped on purge). The default file name is
    ``<name>-<version>.<deb|rpm>``; ``filename`` overrides it (e.g. the real ``EMC-ScaleIO-sds-3.0-200.104.el7.x86_64.rpm``).
    """
    validate_name(name)
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise ValueError(f"bad package version: {version!r}")
    if os_family not in FAMILIES:
        raise ValueError(f"os_family must be one of {FAMILIES}")
    for dep in depends:
        validate_name(dep)
    scripts = dict(scripts or {})
    unknown = set(scripts) - set(SCRIPTS)
    if unknown:
        raise ValueError(f"unknown package scripts: {sorted(unknown)}")
    payload = {}
    for path, spec in (files or {}).items():
        data, mode = (spec, 0o644) if isinstance(spec, (bytes, bytearray)) else spec
        if not path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"package file paths must be absolute: {path!r}")
        payload[path] = (bytes(data), int(mode))
    for conf in conffiles:
        if conf not in payload:
            raise ValueError(f"conffile {conf!r} is not among the package files")
    control = {
        "format": FORMAT, "name": name, "version": version, "arch": ARCH[os_family], "os_family": os_family,
        "depends": list(depends), "conffiles": list(conffiles), "description": description or f"{name} package",
        "files": {p: {"mode": m, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                  for p, (d, m) in sorted(payload.items())},
        "scripts": sorted(scripts),
    }
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(str(out_dir), filename or f"{name}-{version}.{PKG_EXT[os_family]}")
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "control.json", json.dumps(control, indent=1, sort_keys=True).encode(), 0o644)
        for script, source in sorted(scripts.items()):
            _add(tar, f"scripts/{script}", source.encode(), 0o755)
        for path, (data, mode) in sorted(payload.items()):
            _add(tar, "data" + path, data, mode)
    os.replace(tmp, out)
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0  # reproducible files: same inputs, same sha256
    tar.addfile(info, io.BytesIO(data))


class Package:
    """A package file opened for installation."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._tar = tarfile.open(path, "r:gz")
            control = json.load(self._tar.extractfile("control.json"))
        except (tarfile.TarError, KeyError, ValueError, OSError, EOFError) as exc:
            raise PackageError(f"{path}: not a package archive ({exc})") from None
        if control.get("format") != FORMAT:
            raise PackageError(f"{path}: unknown package format")
        self.control = control
        self.name = control["name"]
        self.version = control["version"]
        self.arch = control["arch"]
        self.os_family = control["os_family"]
        self.depends = list(control.get("depends", []))
        self.conffiles = list(control.get("conffiles", []))
        self.files = dict(control.get("files", {}))
        self.description = control.get("description", "")

    def data(self, path: str) -> bytes:
        """The payload of one file, verified against its recorded sha256."""
        member = self._tar.extractfile("data" + path)
        data = member.read()
        if hashlib.sha256(data).hexdigest() != self.files[path]["sha256"]:
            raise PackageError(f"{self.path}: {path} is corrupt")
        return data

    def script(self, name: str) -> str | None:
        try:
            return self._tar.extractfile(f"scripts/{name}").read().decode()
        except KeyError:
            return None

    def close(self):
        self._tar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def vercmp(a: str, b: str) -> int:
    """Compare two versions the way rpm/dpkg order them (epoch, then alternating digit/alpha runs,
    ``~`` sorting before anything, even the end). Returns -1, 0 or 1."""
    def split_epoch(v):
        if ":" in v:
            e, rest = v.split(":", 1)
            return int(e) if e.isdigit() else 0, rest
        return 0, v
    ea, ra = split_epoch(a)
    eb, rb = split_epoch(b)
    if ea != eb:
        return -1 if ea < eb else 1
    ta, tb = _tokens(ra) + [_END], _tokens(rb) + [_END]
    for x, y in zip(ta, tb):
        if x != y:
            return -1 if x < y else 1
    return 0


_TILDE, _END = (0, 0, ""), (1, 0, "")


def _tokens(v: str):
    """Version runs as comparable tuples: ~ < end-of-version < letters < digits."""
    out = []
    for m in re.finditer(r"~|\d+|[A-Za-z]+", v):
        tok = m.group(0)
        if tok == "~":
            out.append(_TILDE)
        elif tok.isdigit():
            out.append((3, int(tok), ""))
        else:
            out.append((2, 0, tok))
    return out
