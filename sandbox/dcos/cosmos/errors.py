"""Cosmos errors: what the client sees is ``{"type", "message", "data"}`` with the HTTP status of
the real Cosmos error class (``type`` is that class's name), served as
``application/vnd.dcos.package.error+json;charset=utf-8;version=v1``."""
from __future__ import annotations

__all__ = ["CosmosError", "package_not_found", "version_not_found", "package_not_installed"]


class CosmosError(Exception):
    """One error answer. ``status`` is the HTTP status, ``type`` the Cosmos error class name."""

    def __init__(self, status: int, type_: str, message: str, data: dict | None = None):
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.data = data

    def body(self) -> dict:
        out = {"type": self.type, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def package_not_found(name: str) -> CosmosError:
    return CosmosError(400, "PackageNotFound", f"Package [{name}] not found", {"packageName": name})


def version_not_found(name: str, version: str) -> CosmosError:
    return CosmosError(400, "VersionNotFound", f"Version [{version}] of package [{name}] not found",
                       {"packageName": name, "packageVersion": version})


def package_not_installed(name: str, app_id: str | None = None) -> CosmosError:
    where = f" with appId [{app_id}]" if app_id else ""
    return CosmosError(400, "PackageNotInstalled", f"Package [{name}]{where} is not installed",
                       {"packageName": name, **({"appId": app_id} if app_id else {})})
