"""Fetch an artifact by URL and hand it out only once its sha256 is verified.

Contract of :func:`fetch`: the bytes are streamed into a temp file next to the destination,
hashed while they arrive, and moved into place atomically only if the digest matches; a file
already at the destination is reused only if its digest matches (a crash mid-download therefore
never leaves a file that could be mistaken for a good one). TLS verification is on unless the
caller turns it off (or passes a CA bundle path). ``file://`` URLs are copied the same way.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.parse

__all__ = ["fetch", "ArtifactError", "sha256_file", "CACHE_DIR", "file_name_of"]

CACHE_DIR = "/var/cache/dcos-scaleio/artifacts"
CHUNK = 1 << 16


class ArtifactError(Exception):
    """Download failed or the digest did not match. ``retryable`` is False for a digest mismatch
    from a source that answered (retrying the same bytes cannot help)."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def sha256_file(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def file_name_of(url: str) -> str:
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name or name in (".", ".."):
        raise ArtifactError(f"cannot tell a file name from {url}", retryable=False)
    return name


def fetch(url: str, sha256: str, dest_dir: str = CACHE_DIR, *, verify=True, timeout_s: float = 120.0,
          name: str | None = None) -> str:
    """Return the path of a verified local copy of ``url`` in ``dest_dir``."""
    dest = os.path.join(dest_dir, name or file_name_of(url))
    if sha256_file(dest) == sha256:
        return dest
    os.makedirs(dest_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".download-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for block in _stream(url, verify, timeout_s):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != sha256:
            raise ArtifactError(f"sha256 mismatch for {url}: expected {sha256}, got {got}", retryable=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _stream(url: str, verify, timeout_s: float):
    scheme = urllib.parse.urlparse(url).scheme
    if scheme == "file":
        path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
        try:
            with open(path, "rb") as fh:
                yield from iter(lambda: fh.read(CHUNK), b"")
        except OSError as exc:
            raise ArtifactError(f"cannot read {url}: {exc.strerror or exc}") from None
        return
    if scheme not in ("http", "https"):
        raise ArtifactError(f"unsupported URL scheme in {url}", retryable=False)
    import requests  # imported here: only downloads need it
    try:
        with requests.get(url, stream=True, timeout=timeout_s, verify=verify) as resp:
            if resp.status_code != 200:
                # 4xx will not heal by itself, 5xx may.
                raise ArtifactError(f"GET {url}: HTTP {resp.status_code}", retryable=resp.status_code >= 500)
            yield from resp.iter_content(CHUNK)
    except requests.RequestException as exc:
        raise ArtifactError(f"GET {url}: {type(exc).__name__}: {exc}") from None
