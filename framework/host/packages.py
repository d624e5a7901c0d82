"""Package management per OS family: query, install from a verified file or the distribution
repository, remove. Debian/Ubuntu uses dpkg/apt-get, RHEL/CentOS rpm/yum (scaleio-commands.md 2.4).

Package names: ScaleIO components are ``EMC-ScaleIO-<c>`` on RHEL and ``emc-scaleio-<c>`` on
Debian; ``rexray`` and ``dvdcli`` are the same on both.
"""
from __future__ import annotations

from . import artifacts
from .hostcmd import CommandError, Host

__all__ = ["PackageManager", "package_name", "version_matches", "SCALEIO_COMPONENTS"]

SCALEIO_COMPONENTS = ("mdm", "sds", "sdc", "lia", "gateway")


def package_name(component: str, os_family: str) -> str:
    if component in SCALEIO_COMPONENTS:
        return f"EMC-ScaleIO-{component}" if os_family == "rhel" else f"emc-scaleio-{component}"
    return component


def version_matches(installed: str | None, wanted: str | None) -> bool:
    """``3.0-200.104`` matches a wanted ``3.0`` or ``3.0-200.104`` (not ``3.0-200.1``); epochs and
    package release suffixes (``0.11.4-1``) are ignored; no wanted version = any."""
    if installed is None:
        return False
    if not wanted:
        return True
    installed = installed.split(":", 1)[-1]
    return installed == wanted or any(installed.startswith(wanted + sep) for sep in ("-", "."))


class PackageManager:
    def __init__(self, host: Host, os_family: str):
        self.host, self.family = host, os_family

    def name(self, component: str) -> str:
        return package_name(component, self.family)

    # ------------------------------------------------------------------ queries
    def installed_version(self, name: str) -> str | None:
        """The installed version of package ``name`` or None (also for half-installed packages)."""
        return self.installed_versions([name]).get(name)

    def installed_versions(self, names) -> dict:
        """``{name: version}`` of those of ``names`` that are fully installed (one query)."""
        names = list(names)
        if not names:
            return {}
        out = {}
        if self.family == "rhel":
            r = self.host.run(["rpm", "-q", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\n", *names], timeout=60)
            for line in r.out.splitlines():
                name, sep, version = line.partition("\t")
                if sep and name in names:
                    out[name] = version.strip()
            return out
        # rc 1 when some are unknown; the known ones are still listed.
        r = self.host.run(["dpkg-query", "-W", "-f", "${Package}\\t${Status}\\t${Version}\\n", *names], timeout=60)
        for line in r.out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[0] in names and parts[1].strip() == "install ok installed":
                out[parts[0]] = parts[2].strip()
        return out

    def missing(self, names) -> list:
        have = self.installed_versions(names)
        return [n for n in names if n not in have]

    # ------------------------------------------------------------------ changes
    def install_repo(self, names) -> None:
        """Install distribution packages (apt-get/yum) non-interactively."""
        if not names:
            return
        if self.family == "rhel":
            self.host.run(["yum", "-y", "install", *names], check=True, timeout=1800)
            return
        r = self.host.run(["apt-get", "-y", "install", *names], timeout=1800)
        if not r.ok and "dpkg --configure -a" in r.text:
            # An earlier install was interrupted (e.g. this step was killed): finish it first.
            self.host.run(["dpkg", "--configure", "-a"], check=True, timeout=1800)
            r = self.host.run(["apt-get", "-y", "install", *names], timeout=1800)
        if not r.ok and "Unable to locate package" in r.text:
            # A fresh host may never have fetched its package lists.
            self.host.run(["apt-get", "update"], check=True, timeout=1800)
            r = self.host.run(["apt-get", "-y", "install", *names], timeout=1800)
        if not r.ok:
            raise CommandError(self.host.failure(r), r.rc)

    def install_file(self, path: str, env: dict | None = None) -> None:
        argv = ["rpm", "-Uvh", path] if self.family == "rhel" else ["dpkg", "-i", path]
        r = self.host.run(argv, env=env, timeout=1800)
        if not r.ok:
            raise CommandError(self.host.failure(r, f"installing {path.rsplit('/', 1)[-1]}"), r.rc)

    def remove(self, name: str, env: dict | None = None) -> bool:
        """Remove ``name`` if installed. Returns True if something was removed."""
        if self.installed_version(name) is None:
            return False
        argv = ["rpm", "-e", name] if self.family == "rhel" else ["dpkg", "-r", name]
        r = self.host.run(argv, env=env, timeout=900)
        if not r.ok:
            raise CommandError(self.host.failure(r, f"removing {name}"), r.rc)
        return True

    def ensure(self, ctx, component: str, wanted_version: str | None, env: dict | None = None,
               verify_tls=True) -> bool:
        """Make ``component`` installed at ``wanted_version`` from the step's ``packages`` artifact.
        Returns True if it installed something. Raises StepError when it cannot."""
        from .step import StepError
        name = self.name(component)
        key = f"{component}_version"
        # The step's check() queried it moments ago in this same run; no need to ask again.
        have = ctx.facts[key] if key in ctx.facts else self.installed_version(name)
        ctx.fact(key, have)
        if version_matches(have, wanted_version):
            return False
        art = (ctx.params.get("packages") or {}).get(component)
        if not art:
            raise StepError(f"no {component} package configured for {self.family} "
                            f"(artifacts.{self.family}.{component})", retryable=False)
        try:
            path = artifacts.fetch(art["url"], art["sha256"], verify=verify_tls)
        except artifacts.ArtifactError as exc:
            raise StepError(f"{component} package: {exc}", retryable=exc.retryable) from None
        self.install_file(path, env)
        now = self.installed_version(name)
        ctx.fact(f"{component}_version", now)
        if not version_matches(now, wanted_version):
            raise StepError(f"{name} is at version {now} after installing {path.rsplit('/', 1)[-1]}, "
                            f"but version {wanted_version} is wanted: check the artifact URL", retryable=False)
        ctx.changed(f"installed {name} {now}" + (f" (was {have})" if have else ""))
        return True
