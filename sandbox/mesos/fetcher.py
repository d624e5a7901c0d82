"""The Mesos fetcher: puts ``CommandInfo.uris`` into an executor's sandbox before launch.

``http(s)://`` URIs are downloaded; ``file://`` URIs and bare absolute paths are read *as the agent
sees them* (through the agent root), as a real agent's fetcher would. ``output_file`` renames,
``executable`` sets mode 0755 (and disables extraction), ``extract`` (default true) unpacks archives
into the sandbox. Blocking: run it in a worker thread.
"""
import os
import shutil
import tarfile
import urllib.parse
import urllib.request
import zipfile

ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")


class FetchError(Exception):
    pass


def fetch_all(uris, sandbox, resolve_local, timeout=60):
    """Fetch every URI dict into ``sandbox``; ``resolve_local(path)`` maps an agent path to a host path."""
    for uri in uris or []:
        fetch_one(uri, sandbox, resolve_local, timeout)


def fetch_one(uri, sandbox, resolve_local, timeout=60):
    value = uri.get("value")
    if not isinstance(value, str) or not value:
        raise FetchError("URI without a value")
    parsed = urllib.parse.urlsplit(value)
    basename = os.path.basename(parsed.path) or "fetched"
    name = uri.get("output_file") or basename
    if "/" in name or name in (".", ".."):
        raise FetchError(f"invalid output_file {name!r}")
    target = os.path.join(sandbox, name)
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(value, timeout=timeout) as resp, open(target, "wb") as out:
                shutil.copyfileobj(resp, out)
        except Exception as exc:
            raise FetchError(f"Failed to fetch '{value}': {exc}")
    elif parsed.scheme in ("file", ""):
        path = urllib.parse.unquote(parsed.path)
        if not path.startswith("/"):
            raise FetchError(f"Failed to fetch '{value}': relative paths are not supported")
        source = resolve_local(path)
        try:
            shutil.copyfile(source, target)
        except OSError as exc:
            raise FetchError(f"Failed to fetch '{value}': {exc.strerror or exc}")
    else:
        raise FetchError(f"Failed to fetch '{value}': unsupported scheme '{parsed.scheme}'")
    if uri.get("executable", False):
        os.chmod(target, 0o755)
        return
    os.chmod(target, 0o644)
    if uri.get("extract", True) and name.endswith(ARCHIVES):
        try:
            if name.endswith(".zip"):
                with zipfile.ZipFile(target) as archive:
                    archive.extractall(sandbox)
            else:
                with tarfile.open(target) as archive:
                    archive.extractall(sandbox, filter="data")
        except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise FetchError(f"Failed to extract '{name}': {exc}")
