"""Cosmos media types and content negotiation.

Every RPC is a POST with ``Content-Type: application/vnd.dcos.<ns>.<kind>-request+json;charset=utf-8;
version=v1`` and ``Accept: ...<kind>-response+json;charset=utf-8;version=vN`` (a list, best first or
with q values). A request whose Content-Type is not the one expected answers 415
``UnsupportedContentType``; an Accept that names no version this Cosmos can produce answers 406
``NotAcceptable``. An absent Accept, ``*/*`` or ``application/json`` gets the highest version.
"""
from __future__ import annotations

from .errors import CosmosError

__all__ = ["MediaType", "parse", "format_type", "request_type", "response_type", "check_content_type",
           "negotiate", "ERROR_TYPE", "REPO_ACCEPT", "REPO_VERSIONS"]


class MediaType(tuple):
    """``(type/subtype lowercased, {param: value})`` with the q value kept apart."""

    @property
    def essence(self) -> str:
        return self[0]

    @property
    def params(self) -> dict:
        return self[1]


def parse(text: str) -> MediaType:
    parts = [p.strip() for p in (text or "").split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return MediaType((parts[0].lower(), params))


def format_type(essence: str, version: str) -> str:
    return f"{essence};charset=utf-8;version={version}"


def _essence(ns: str, kind: str, direction: str) -> str:
    return f"application/vnd.dcos.{ns}.{kind}-{direction}+json"


def request_type(ns: str, kind: str) -> str:
    return format_type(_essence(ns, kind, "request"), "v1")


def response_type(ns: str, kind: str, version: str) -> str:
    return format_type(_essence(ns, kind, "response"), version)


ERROR_TYPE = format_type("application/vnd.dcos.package.error+json", "v1")
REPO_ESSENCE = "application/vnd.dcos.universe.repo+json"
REPO_VERSIONS = ("v4", "v3")   # packagingVersion up to 4.0; a v5 repo may hold 5.0 packages we cannot run
REPO_ACCEPT = ",".join(format_type(REPO_ESSENCE, v) for v in REPO_VERSIONS)


def check_content_type(header: str | None, ns: str, kind: str) -> None:
    """Raise 415 unless ``header`` is the kind's v1 request type (charset utf-8 if given)."""
    expected = request_type(ns, kind)
    mt = parse(header or "")
    ok = (mt.essence == _essence(ns, kind, "request") and mt.params.get("version") == "v1"
          and mt.params.get("charset", "utf-8").lower() == "utf-8")
    if not ok:
        raise CosmosError(415, "UnsupportedContentType",
                          f"Unsupported Content-Type: {header or '(none)'} Available: {expected}",
                          {"supported": [expected], "actual": header or ""})


def negotiate(header: str | None, ns: str, kind: str, versions: tuple[str, ...]) -> str:
    """The response version to produce (``versions`` best first), or raise 406."""
    essence = _essence(ns, kind, "response")
    offered = []
    for i, item in enumerate((header or "*/*").split(",")):
        mt = parse(item)
        try:
            q = float(mt.params.get("q", "1"))
        except ValueError:
            q = 0.0
        if q > 0:
            offered.append((-q, i, mt))
    for _, _, mt in sorted(offered, key=lambda t: (t[0], t[1])):
        if mt.essence in ("*/*", "application/*", "application/json"):
            return versions[0]
        if mt.essence == essence:
            want = mt.params.get("version")
            if want is None:
                return versions[0]
            if want in versions:
                return want
    available = [response_type(ns, kind, v) for v in versions]
    raise CosmosError(406, "NotAcceptable", f"Not acceptable: {header}. Available: {', '.join(available)}",
                      {"available": available})
