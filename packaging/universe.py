"""Assemble the Universe package and a one-package repository from ``universe/`` and the artifacts.

    .venv/bin/python packaging/universe.py --artifacts-url URL [--out build/universe]
        [--artifacts-dir build/artifacts] [--images-url URL] [--release N]

``universe/`` holds the package source, one copy of each file. Three build-time placeholders (the
dcos-commons convention; Cosmos never sees them) are filled here:

- ``{{artifact-dir}}``: ``--artifacts-url`` (where an operator's mirror serves ``build/artifacts/``);
- ``{{images-dir}}``: ``--images-url``, default ``<artifacts-url>/images``; the icons from
  ``universe/images/`` are then copied to ``<artifacts-dir>/images/`` so the same mirror serves them;
- ``{{sha256:<file>}}``: the digest of ``<artifacts-dir>/<file>``, read from ``<file>.sha256``
  (``sha256sum`` format, written by ``packaging/build_artifacts.py``) and checked against the file.

The scheduler and executor tarballs are required. The CLI zip (``dcos-scaleio-cli-linux-x86-64.zip``)
is optional: without it the ``cli`` block is dropped from ``resource.json`` (and said so on stderr).
The package version must be ``<dcos_scaleio.__version__>-<default scaleio.version>``; a stale
``universe/package.json`` fails the build instead of shipping a wrong version.

Output (``--out``, default ``build/universe``):
``repo/packages/S/scaleio/<release>/{package.json,config.json,resource.json,marathon.json.mustache}``
and ``repo.json`` = ``{"packages": [entry]}``, a v4 repository index (the entry is package.json plus
``releaseVersion``, ``config``, ``resource`` and ``marathon.v2AppMustacheTemplate`` in base64), with
``repo.content_type`` holding the media type to serve it with. The last stdout line is JSON:
``{"repo", "package_dir", "version", "release", "cli": bool, "artifacts": {file: sha256}}``.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "universe"
PACKAGE_NAME = "scaleio"
REPO_MEDIA_TYPE = "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"
REQUIRED_ARTIFACTS = ("dcos-scaleio-scheduler.tar.gz", "dcos-scaleio-executor.tar.gz")
CLI_ZIP = "dcos-scaleio-cli-linux-x86-64.zip"
ICONS = ("icon-small.png", "icon-medium.png", "icon-large.png")
_PLACEHOLDER = re.compile(r"\{\{(artifact-dir|images-dir|sha256:[A-Za-z0-9._-]+)\}\}")
# The options schema's URL pattern (artifacts.*.url): the executor URL travels as an option, and
# nothing that needs JSON escaping or could mean something to a shell ends up in the package.
_URL = re.compile(r"^(https?|file)://[^\s\"'\\;|&$`<>(){}]+$")

__all__ = ["package_version", "sha256_file", "read_sha256", "build_entry", "assemble", "main"]


class BuildError(Exception):
    pass


def package_version(source: pathlib.Path = SOURCE) -> str:
    """``<ours>-<scaleio>``: the product version and the default ScaleIO version of config.json."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import dcos_scaleio
    config = json.loads((source / "config.json").read_text(encoding="ascii"))
    scaleio = config["properties"]["scaleio"]["properties"]["version"]["default"]
    return f"{dcos_scaleio.__version__}-{scaleio}"


def sha256_file(path: pathlib.Path) -> str:
    """The hex sha256 of the file at ``path``, read in 1 MiB chunks (artifacts are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_sha256(artifacts_dir: pathlib.Path, name: str) -> str | None:
    """The digest of ``artifacts_dir/name`` from its ``.sha256`` file, verified; None when absent."""
    path, sha_file = artifacts_dir / name, artifacts_dir / f"{name}.sha256"
    if not path.is_file():
        return None
    if not sha_file.is_file():
        raise BuildError(f"{path} has no {sha_file.name} beside it")
    fields = sha_file.read_text(encoding="ascii").split()
    if not fields or not re.fullmatch(r"[0-9a-f]{64}", fields[0]):
        raise BuildError(f"{sha_file} is not in sha256sum format")
    if sha256_file(path) != fields[0]:
        raise BuildError(f"{path} does not match {sha_file.name} (rebuild the artifacts)")
    return fields[0]


def _fill(text: str, values: dict, where: str) -> str:
    def one(match):
        key = match.group(1)
        if key not in values:
            raise BuildError(f"{where}: no value for the build-time placeholder {match.group(0)}")
        return values[key]
    return _PLACEHOLDER.sub(one, text)


def build_entry(artifacts_url: str, shas: dict, images_url: str | None = None, release: int = 0,
                source: pathlib.Path = SOURCE) -> tuple[dict, str]:
    """The repository index entry and the filled template text, from ``source`` and the artifacts'
    digests (``{file name: sha256}``; a missing CLI zip drops the ``cli`` block)."""
    artifacts_url = artifacts_url.rstrip("/")
    images_url = (images_url or f"{artifacts_url}/images").rstrip("/")
    for label, url in (("--artifacts-url", artifacts_url), ("--images-url", images_url)):
        if not _URL.match(url):
            raise BuildError(f"{label} must be an http(s) or file URL without spaces or quotes: {url!r}")
    missing = [name for name in REQUIRED_ARTIFACTS if not shas.get(name)]
    if missing:
        raise BuildError(f"missing artifacts: {', '.join(missing)} (run make artifacts)")
    values = {"artifact-dir": artifacts_url, "images-dir": images_url}
    values.update({f"sha256:{name}": sha for name, sha in shas.items() if sha})

    package = json.loads((source / "package.json").read_text(encoding="ascii"))
    expected = package_version(source)
    if package.get("version") != expected:
        raise BuildError(f"universe/package.json version is {package.get('version')!r}, expected {expected!r}"
                         " (<dcos_scaleio.__version__>-<default scaleio.version>)")
    if package.get("name") != PACKAGE_NAME:
        raise BuildError(f"universe/package.json name must be {PACKAGE_NAME!r}")
    resource = json.loads((source / "resource.json").read_text(encoding="ascii"))
    if not shas.get(CLI_ZIP):
        resource.pop("cli", None)
    resource = json.loads(_fill(json.dumps(resource, indent=2), values, "resource.json"))
    template = _fill((source / "marathon.json.mustache").read_text(encoding="ascii"), values,
                     "marathon.json.mustache")
    entry = dict(package)
    entry["releaseVersion"] = int(release)
    entry["config"] = json.loads((source / "config.json").read_text(encoding="ascii"))
    entry["resource"] = resource
    entry["marathon"] = {"v2AppMustacheTemplate": base64.b64encode(template.encode("ascii")).decode("ascii")}
    return entry, template


def _write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    tmp.replace(path)


def assemble(artifacts_url: str, out: pathlib.Path, artifacts_dir: pathlib.Path,
             images_url: str | None = None, release: int = 0, source: pathlib.Path = SOURCE) -> dict:
    """Write the package folder and ``repo.json`` under ``out``; return the summary."""
    names = REQUIRED_ARTIFACTS + (CLI_ZIP,)
    shas = {name: read_sha256(artifacts_dir, name) for name in names}
    entry, template = build_entry(artifacts_url, shas, images_url, release, source)
    if images_url is None:
        for icon in ICONS:
            (artifacts_dir / "images").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / "images" / icon, artifacts_dir / "images" / icon)
    package_dir = out / "repo" / "packages" / PACKAGE_NAME[0].upper() / PACKAGE_NAME / str(int(release))
    if package_dir.exists():
        shutil.rmtree(package_dir)
    package = {k: v for k, v in entry.items() if k not in ("releaseVersion", "config", "resource", "marathon")}
    _write(package_dir / "package.json", json.dumps(package, indent=2) + "\n")
    _write(package_dir / "config.json", (source / "config.json").read_text(encoding="ascii"))
    _write(package_dir / "resource.json", json.dumps(entry["resource"], indent=2) + "\n")
    _write(package_dir / "marathon.json.mustache", template)
    _write(out / "repo.json", json.dumps({"packages": [entry]}, indent=2) + "\n")
    _write(out / "repo.content_type", REPO_MEDIA_TYPE + "\n")
    return {"repo": str(out / "repo.json"), "package_dir": str(package_dir), "version": entry["version"],
            "release": int(release), "cli": "cli" in entry["resource"],
            "artifacts": {k: v for k, v in shas.items() if v}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts-url", required=True, help="base URL serving the artifacts folder")
    ap.add_argument("--out", default=str(ROOT / "build" / "universe"), help="output folder (build/universe)")
    ap.add_argument("--artifacts-dir", default=str(ROOT / "build" / "artifacts"),
                    help="where the built artifacts and their .sha256 files are (build/artifacts)")
    ap.add_argument("--images-url", default=None,
                    help="base URL of the icons (default <artifacts-url>/images, copied into the artifacts folder)")
    ap.add_argument("--release", type=int, default=0, help="package revision = releaseVersion (0)")
    args = ap.parse_args(argv)
    if args.release < 0:
        ap.error("--release must be >= 0")
    try:
        summary = assemble(args.artifacts_url, pathlib.Path(args.out), pathlib.Path(args.artifacts_dir),
                           args.images_url, args.release)
    except BuildError as exc:
        print(f"universe: {exc}", file=sys.stderr)
        return 1
    if not summary["cli"]:
        print(f"universe: {CLI_ZIP} not found in {args.artifacts_dir}: the package has no CLI binary",
              file=sys.stderr)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
