"""Package repositories: the ordered list Cosmos searches, and fetching a repository's index.

A repository is ``{"name", "uri"}``; earlier ones win (``index`` 0 is searched first). Its index is
fetched over HTTP(S) on every lookup (loopback, cheap; a repository app may republish at any time)
with ``Accept`` listing the Universe repo media types this Cosmos reads (v4, v3). The response's
Content-Type must be one of them (a type without ``version`` is refused, as by Cosmos 0.6.3), and the
body ``{"packages": [...]}`` where each package has at least ``packagingVersion``, ``name``,
``version``, ``releaseVersion`` and, to be installable, ``marathon.v2AppMustacheTemplate``.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import requests

from . import media
from .errors import CosmosError, package_not_found, version_not_found

__all__ = ["Repository", "Repositories", "fetch_index", "USER_AGENT"]

USER_AGENT = "cosmos/0.6.3 dcos/1.11.0"
_HTTP_URI = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_PACKAGING = ("2.0", "3.0", "4.0")


@dataclass(frozen=True)
class Repository:
    name: str
    uri: str

    def json(self) -> dict:
        return {"name": self.name, "uri": self.uri}


def _check_uri(uri) -> str:
    if not isinstance(uri, str) or not _HTTP_URI.match(uri):
        raise CosmosError(400, "RepositoryUriSyntax", f"URI for repository has invalid syntax: {uri}",
                          {"uri": uri})
    return uri


def _check_package(uri: str, i: int, pkg) -> None:
    def bad(why):
        raise CosmosError(400, "RepositoryNotValid", f"Repository [{uri}] package #{i}: {why}", {"uri": uri})
    if not isinstance(pkg, dict):
        bad("not an object")
    for key, kind in (("name", str), ("version", str), ("packagingVersion", str), ("releaseVersion", int)):
        if not isinstance(pkg.get(key), kind) or isinstance(pkg.get(key), bool):
            bad(f"{key} missing or not a {kind.__name__}")
    if pkg["packagingVersion"] not in _PACKAGING:
        bad(f"packagingVersion {pkg['packagingVersion']} is not supported (2.0, 3.0, 4.0)")


def fetch_index(uri: str, timeout: float = 10.0, verify=True) -> list[dict]:
    """The packages of the repository at ``uri``; raises :class:`CosmosError` on any problem."""
    _check_uri(uri)
    try:
        r = requests.get(uri, headers={"Accept": media.REPO_ACCEPT, "User-Agent": USER_AGENT,
                                       "Accept-Encoding": "gzip"}, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        raise CosmosError(400, "RepositoryUriConnection",
                          f"Could not access data at URI {uri}: {type(exc).__name__}", {"uri": uri}) from None
    if r.status_code != 200:
        raise CosmosError(400, "GenericHttpError", f"Unexpected upstream http status: {r.status_code} for GET {uri}",
                          {"method": "GET", "uri": uri, "status": r.status_code})
    actual = r.headers.get("Content-Type", "")
    mt = media.parse(actual)
    if mt.essence != media.REPO_ESSENCE or mt.params.get("version") not in media.REPO_VERSIONS:
        raise CosmosError(400, "UnsupportedContentType",
                          f"Unsupported Content-Type: {actual or '(none)'} Available: {media.REPO_ACCEPT}",
                          {"supported": media.REPO_ACCEPT.split(","), "actual": actual})
    try:
        body = r.json()
    except ValueError:
        raise CosmosError(400, "RepositoryNotValid", f"Repository [{uri}] is not valid JSON", {"uri": uri}) from None
    if not isinstance(body, dict) or not isinstance(body.get("packages"), list):
        raise CosmosError(400, "RepositoryNotValid", f"Repository [{uri}] has no packages list", {"uri": uri})
    for i, pkg in enumerate(body["packages"]):
        _check_package(uri, i, pkg)
    return body["packages"]


class Repositories:
    """The ordered repository list (thread-safe), and package lookup across it."""

    def __init__(self, initial=(), fetch=fetch_index):
        self._lock = threading.Lock()
        self._repos: list[Repository] = [Repository(r["name"], _check_uri(r["uri"])) for r in initial]
        self._fetch = fetch

    def list(self) -> list[Repository]:
        with self._lock:
            return list(self._repos)

    def add(self, name, uri, index=None) -> list[Repository]:
        """Validate (name, URI syntax, a fetchable and valid index), then insert at ``index``."""
        if not isinstance(name, str) or not name.strip():
            raise CosmosError(400, "RepoNameOrUriMissing", "Repository name must not be empty", {})
        _check_uri(uri)
        self._check_free(name, uri, index)   # cheap checks first, then fetch, then check again
        self._fetch(uri)
        with self._lock:
            self._check_free(name, uri, index, locked=True)
            self._repos.insert(len(self._repos) if index is None else index, Repository(name, uri))
            return list(self._repos)

    def _check_free(self, name, uri, index, locked=False) -> None:
        if not locked:
            with self._lock:
                return self._check_free(name, uri, index, locked=True)
        for r in self._repos:
            if r.name == name or r.uri == uri:
                raise CosmosError(409, "RepositoryAlreadyPresent",
                                  f"Repository name [{r.name}] or URI [{r.uri}] already present in the list",
                                  {"name": name, "uri": uri})
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)
                                  or not 0 <= index <= len(self._repos)):
            raise CosmosError(400, "RepositoryAddIndexOutOfBounds",
                              f"Index ({index}) is out of range. Index value must be between '0' and "
                              f"'{len(self._repos)}' inclusive.", {"attempted": index, "max": len(self._repos)})

    def delete(self, name=None, uri=None) -> list[Repository]:
        if name is None and uri is None:
            raise CosmosError(400, "RepoNameOrUriMissing", "Must specify either the name or URI of the repository", {})
        with self._lock:
            keep = [r for r in self._repos if not ((name is not None and r.name == name)
                                                   or (uri is not None and r.uri == uri))]
            if len(keep) == len(self._repos):
                what = f"name [{name}]" if name is not None else f"URI [{uri}]"
                raise CosmosError(400, "RepositoryNotPresent", f"Neither repository {what} present in the list",
                                  {k: v for k, v in (("name", name), ("uri", uri)) if v is not None})
            self._repos = keep
            return list(self._repos)

    def indexes(self):
        """``(repository, packages)`` for each repository in order (fetched now)."""
        for repo in self.list():
            yield repo, self._fetch(repo.uri)

    def find(self, name: str, version: str | None = None) -> tuple[dict, Repository]:
        """The package ``name`` (``version``, or the highest releaseVersion) from the first
        repository that has it, with that repository."""
        seen = False
        for repo, packages in self.indexes():
            candidates = [p for p in packages if p["name"] == name]
            if not candidates:
                continue
            seen = True
            if version is not None:
                candidates = [p for p in candidates if p["version"] == version]
            if candidates:
                return max(candidates, key=lambda p: p["releaseVersion"]), repo
        if seen and version is not None:
            raise version_not_found(name, version)
        raise package_not_found(name)
