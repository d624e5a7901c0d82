"""The package database of one emulated host and the install/remove transactions behind dpkg and rpm.

Runs INSIDE the agent (the fake tools call it), so all paths are the agent's real paths. The database
is ``<db dir>/sandbox-db.json`` (``/var/lib/dpkg`` on Debian/Ubuntu, where a real-format
``/var/lib/dpkg/status`` is rendered as well, ``/var/lib/rpm`` on RHEL); maintainer scripts are kept
beside it (``info/<pkg>.<script>``) for later removal, as dpkg does.

Maintainer scripts are Python source run with the sandbox's interpreter and the environment of the
installing command (so ``MDM_IP=... dpkg -i`` reaches them), plus ``SANDBOX_PKG_FAMILY``,
``SANDBOX_PKG_ACTION`` (install|upgrade|remove|purge), ``SANDBOX_PKG_NAME``, ``SANDBOX_PKG_VERSION`` and
``DPKG_MAINTSCRIPT_PACKAGE``/``DPKG_MAINTSCRIPT_NAME`` (Debian) or ``RPM_PACKAGE_NAME`` (RHEL).
Arguments follow the real conventions: Debian ``install``/``configure <old>``/``remove``/``purge``/
``upgrade <ver>``; RHEL the instance count (``1`` install, ``2`` upgrade, ``0`` erase). An rpm upgrade
runs new %pre(2), installs, new %post(2), then the old package's %preun(1) and %postun(1), as rpm does.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import time

from .families import BASE_PACKAGES, PKG_DB_DIR, ARCH, load_json, write_json_atomic

INSTALLED = "installed"
UNPACKED = "unpacked"
HALF_CONFIGURED = "half-configured"
CONFIG_FILES = "config-files"


class Locked(Exception):
    """The database is locked by another process (non-blocking callers)."""


class ScriptFailed(Exception):
    def __init__(self, package: str, script: str, status: int):
        super().__init__(f"{package} {script} exited with status {status}")
        self.package, self.script, self.status = package, script, status


class PkgDB:
    """The agent's package database. Use ``with db.locked(): ...`` around every transaction."""

    def __init__(self, family: str):
        self.family = family
        self.dir = PKG_DB_DIR[family]
        self.path = os.path.join(self.dir, "sandbox-db.json")
        self.info_dir = os.path.join(self.dir, "info" if family == "ubuntu" else "sandbox-scripts")
        self.pkgs: dict[str, dict] = {}
        self._lock_fd = None

    # ------------------------------------------------------------------ storage
    @contextlib.contextmanager
    def locked(self, blocking: bool = True, timeout: float = 120.0):
        os.makedirs(self.dir, exist_ok=True)
        lock_name = "lock-frontend" if self.family == "ubuntu" else ".dbenv.lock"
        fd = os.open(os.path.join(self.dir, lock_name), os.O_RDWR | os.O_CREAT, 0o640)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not blocking or time.monotonic() > deadline:
                        raise Locked(self.dir) from None
                    time.sleep(0.05)
            self.load()
            yield self
        finally:
            os.close(fd)

    def load(self) -> None:
        data = load_json(self.path)
        self.pkgs = initial_db(self.family) if data is None else data

    def save(self) -> None:
        write_json_atomic(self.path, self.pkgs)
        if self.family == "ubuntu":
            self._render_dpkg_status()

    def _entry(self, name, version, **kw):
        return make_entry(self.family, name, version, **kw)

    def _render_dpkg_status(self) -> None:
        write_json_text(os.path.join(self.dir, "status"), render_dpkg_status(self.pkgs))

    # ------------------------------------------------------------------ queries
    def get(self, name: str) -> dict | None:
        return self.pkgs.get(name)

    def is_installed(self, name: str) -> bool:
        e = self.pkgs.get(name)
        return e is not None and e["status"] == INSTALLED

    def missing_deps(self, depends) -> list[str]:
        return [d for d in depends if not self.is_installed(d)]

    def dependents(self, name: str) -> list[str]:
        return sorted(n for n, e in self.pkgs.items() if e["status"] == INSTALLED and name in e["depends"])

    # ------------------------------------------------------------------ catalogue installs (no files)
    def add_virtual(self, name, version, *, depends=(), description="", files=None) -> None:
        """Record an OS dependency package from the built-in catalogue (instant install)."""
        written = []
        for path, (data, mode) in (files or {}).items():
            _write_file(path, data, mode)
            written.append(path)
        self.pkgs[name] = self._entry(name, version, depends=depends, description=description,
                                      source="catalogue", files=written)

    # ------------------------------------------------------------------ file installs
    def unpack(self, pkg, env=None) -> dict:
        """Run preinst, put the files in place and record the package as unpacked.

        Raises ScriptFailed if a script refuses (nothing changed if preinst failed)."""
        old = self.pkgs.get(pkg.name)
        upgrading = old is not None and old["status"] in (INSTALLED, UNPACKED, HALF_CONFIGURED)
        old_version = old["version"] if upgrading else None
        action = "upgrade" if upgrading else "install"
        self._store_script(pkg, "preinst", temp=True)
        args = (["upgrade", old_version] if upgrading else ["install"]) if self.family == "ubuntu" else \
            [str(2 if upgrading else 1)]
        self.run_script(pkg.name, pkg.version, "preinst", args, env, action, temp=True)
        if upgrading and self.family == "ubuntu":
            self.run_script(old["name"], old_version, "prerm", ["upgrade", pkg.version], env, action)
        created_dirs = list(old["dirs"]) if old else []
        old_conffiles = old["conffiles"] if old else {}
        conffiles = {}
        for path, meta in sorted(pkg.files.items()):
            created_dirs += _makedirs(os.path.dirname(path))
            data = pkg.data(path)
            if path in pkg.conffiles:
                conffiles[path] = meta["sha256"]
                if os.path.exists(path) and _sha256_file(path) not in (old_conffiles.get(path), meta["sha256"]):
                    # The admin changed it: keep theirs, put the package's beside it, as dpkg/rpm do.
                    _write_file(path + (".dpkg-dist" if self.family == "ubuntu" else ".rpmnew"), data, meta["mode"])
                    continue
            _write_file(path, data, meta["mode"])
        if old:
            for stale in set(old["files"]) - set(pkg.files):
                if stale not in old_conffiles:
                    _unlink(stale)
        if upgrading and self.family == "ubuntu":
            self.run_script(old["name"], old_version, "postrm", ["upgrade", pkg.version], env, action)
        if upgrading and self.family == "rhel":
            # rpm runs the OLD package's %preun/%postun (with 1) after the new %post: keep them aside.
            for script in ("prerm", "postrm"):
                current = self._script_path(pkg.name, script)
                if os.path.exists(current):
                    os.replace(current, current + ".old")
        for script in ("postinst", "prerm", "postrm"):
            self._store_script(pkg, script)
        size = sum(m["size"] for m in pkg.files.values())
        entry = self._entry(pkg.name, pkg.version, depends=pkg.depends, description=pkg.description,
                            files=sorted(pkg.files), conffiles=conffiles, dirs=_dedupe(created_dirs),
                            status=UNPACKED, size=size)
        entry["old_version"] = old_version
        self.pkgs[pkg.name] = entry
        self.save()
        return entry

    def configure(self, name: str, env=None) -> None:
        """Run postinst of an unpacked package; installed on success, half-configured on failure."""
        entry = self.pkgs[name]
        old_version = entry.pop("old_version", None)
        if self.family == "ubuntu":
            args = ["configure"] + ([old_version] if old_version else [])
        else:
            args = [str(2 if old_version else 1)]
        action = "upgrade" if old_version else "install"
        try:
            self.run_script(name, entry["version"], "postinst", args, env, action)
        except ScriptFailed:
            entry["status"] = HALF_CONFIGURED
            self.save()
            raise
        entry["status"] = INSTALLED
        self.save()
        if old_version and self.family == "rhel":
            for script in ("prerm", "postrm"):
                self.run_script(name, old_version, script, ["1"], env, "upgrade", old=True)

    def remove(self, name: str, env=None, purge: bool = False) -> None:
        """prerm, delete files, postrm. Debian keeps conffiles (state config-files) unless purging;
        RHEL removes everything."""
        entry = self.pkgs[name]
        action = "purge" if purge and self.family == "ubuntu" else "remove"
        rm_args = ["remove"] if self.family == "ubuntu" else ["0"]
        if entry["status"] != CONFIG_FILES:
            self.run_script(name, entry["version"], "prerm", rm_args, env, action)
            for path in entry["files"]:
                if path not in entry["conffiles"]:
                    _unlink(path)
            entry["status"] = CONFIG_FILES
            self.save()
            self.run_script(name, entry["version"], "postrm", rm_args, env, action)
        if self.family == "ubuntu" and not purge and entry["conffiles"]:
            self.save()
            return
        for path in entry["conffiles"]:
            _unlink(path)
        if purge and self.family == "ubuntu":
            self.run_script(name, entry["version"], "postrm", ["purge"], env, action)
        for d in sorted(entry["dirs"], key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(d)  # only if empty, as dpkg does
        for script in ("postinst", "prerm", "postrm", "preinst"):
            _unlink(self._script_path(name, script))
        del self.pkgs[name]
        self.save()

    # ------------------------------------------------------------------ scripts
    def _script_path(self, name: str, script: str, temp: bool = False) -> str:
        return os.path.join(self.info_dir, f"{name}.{script}" + (".new" if temp else ""))

    def _store_script(self, pkg, script: str, temp: bool = False) -> None:
        source = pkg.script(script)
        path = self._script_path(pkg.name, script, temp)
        if source is None:
            _unlink(path)
            return
        _write_file(path, source.encode(), 0o755)

    def run_script(self, name, version, script, args, env, action, temp=False, old=False) -> None:
        """Run a stored maintainer script (``temp``: the new package's preinst; ``old``: the replaced
        package's script kept for an rpm upgrade). Both kinds are deleted after running."""
        path = self._script_path(name, script, temp) + (".old" if old else "")
        if not os.path.exists(path):
            return
        run_env = dict(os.environ if env is None else env)
        run_env.update({"SANDBOX_PKG_FAMILY": self.family, "SANDBOX_PKG_ACTION": action,
                        "SANDBOX_PKG_NAME": name, "SANDBOX_PKG_VERSION": version})
        if self.family == "ubuntu":
            run_env.update({"DPKG_MAINTSCRIPT_PACKAGE": name, "DPKG_MAINTSCRIPT_NAME": script})
        else:
            run_env.update({"RPM_PACKAGE_NAME": name, "RPM_PACKAGE_VERSION": version})
        sys.stdout.flush()
        sys.stderr.flush()
        rc = subprocess.run([sys.executable, path, *args], env=run_env, cwd="/", stdin=subprocess.DEVNULL).returncode
        if temp or old:
            _unlink(path)
        if rc != 0:
            raise ScriptFailed(name, script, rc)


def make_entry(family, name, version, *, depends=(), description="", source="file", files=(), conffiles=None,
               dirs=(), status=INSTALLED, size=0) -> dict:
    """One package database entry."""
    return {"name": name, "version": version, "arch": ARCH[family], "status": status,
            "depends": list(depends), "description": description or name, "source": source,
            "files": list(files), "conffiles": dict(conffiles or {}), "dirs": list(dirs), "size": size,
            "installed_at": int(time.time())}


def initial_db(family: str) -> dict:
    """The database of a fresh install of the family: its base packages only."""
    return {name: make_entry(family, name, version, source="base") for name, version in BASE_PACKAGES[family]}


def render_dpkg_status(pkgs: dict) -> str:
    """A real-format /var/lib/dpkg/status, for anything that greps it."""
    paras = []
    for name in sorted(pkgs):
        e = pkgs[name]
        lines = [f"Package: {name}", f"Status: {dpkg_status(e)}", "Priority: optional", "Section: misc",
                 f"Installed-Size: {max(1, e.get('size', 0) // 1024)}",
                 "Maintainer: Sandbox <sandbox@localhost>", f"Architecture: {e['arch']}",
                 f"Version: {e['version']}"]
        if e["depends"]:
            lines.append("Depends: " + ", ".join(e["depends"]))
        if e["conffiles"]:
            lines.append("Conffiles:")
            lines += [f" {p} {h[:32]}" for p, h in sorted(e["conffiles"].items())]
        lines.append(f"Description: {e['description']}")
        paras.append("\n".join(lines) + "\n")
    return "\n".join(paras)


def dpkg_status(entry: dict) -> str:
    """The dpkg ``Status:`` triple of a database entry."""
    return {INSTALLED: "install ok installed", UNPACKED: "install ok unpacked",
            HALF_CONFIGURED: "install ok half-configured", CONFIG_FILES: "deinstall ok config-files"}[entry["status"]]


def write_json_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _write_file(path: str, data: bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.sandbox-new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)  # atomic, and a running binary being replaced keeps its old inode


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        os.unlink(path)


def _makedirs(path: str) -> list[str]:
    """mkdir -p, returning the directories that did not exist (the package owns those)."""
    created = []
    while path and path != "/" and not os.path.isdir(path):
        created.append(path)
        path = os.path.dirname(path)
    for d in reversed(created):
        os.makedirs(d, exist_ok=True)
    return created


def _dedupe(items):
    return sorted(set(items))


def _sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
