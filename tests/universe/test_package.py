"""The Universe package files, as written in universe/ and as built by packaging/universe.py:
the shared schemas (Draft 4), Universe's own validation rules, and the v4 repository index."""
from __future__ import annotations

import base64
import json
import pathlib
import subprocess
import sys

import pytest

from dcos_scaleio.sandbox.dcos.render import MustacheSyntaxError, parse_template

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "universe"
JSON_FILES = ("package.json", "config.json", "resource.json")
PACKAGE_FILES = JSON_FILES + ("marathon.json.mustache",)


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dups = {k for k in keys if keys.count(k) > 1}
    if dups:
        raise ValueError(f"duplicate keys: {sorted(dups)}")
    return dict(pairs)


def universe_rule_problems(folder: pathlib.Path) -> list[str]:
    """What mesosphere/universe's validate_packages.py and json_dup_key_check.py would reject."""
    problems = []
    for name in PACKAGE_FILES:
        raw = (folder / name).read_bytes()
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            problems.append(f"{name}: not pure ASCII")
            continue
        if name.endswith(".json"):
            try:
                data = json.loads(text, object_pairs_hook=_no_duplicates)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if "\\u" in json.dumps(data):
                problems.append(f"{name}: re-serialises with a \\uXXXX escape")
        else:
            try:
                parse_template(text)
            except MustacheSyntaxError as exc:
                problems.append(f"{name}: {exc}")
    if (folder / "command.json").exists():
        problems.append("command.json is rejected for packagingVersion 4.0")
    return problems


@pytest.mark.parametrize("where", ["source", "built"])
def test_files_follow_universe_rules_and_validate_against_the_schemas(where, built, schemas):
    folder = SOURCE if where == "source" else built["package_dir"]
    assert universe_rule_problems(folder) == []
    package = json.loads((folder / "package.json").read_text())
    assert schemas.errors("universe/package-schema.json", package) == []
    assert schemas.errors("universe/config-schema.json", json.loads((folder / "config.json").read_text())) == []
    assert schemas.errors("universe/v3-resource-schema.json", json.loads((folder / "resource.json").read_text())) == []
    # The schema is a oneOf over v20..v50: make sure it is the 4.0 one that matched.
    definitions = schemas.load("universe/package-schema.json")["definitions"]
    v40 = dict(definitions["v40Package"], definitions=definitions)
    from jsonschema import Draft4Validator
    assert list(Draft4Validator(v40).iter_errors(package)) == []


def test_universe_rules_catch_what_they_must(tmp_path):
    for name in PACKAGE_FILES:
        (tmp_path / name).write_bytes((SOURCE / name).read_bytes())
    assert universe_rule_problems(tmp_path) == []
    (tmp_path / "package.json").write_text('{"name": "scaleio", "name": "x"}')
    (tmp_path / "config.json").write_text('{"description": "caf\\u00e9"}')
    (tmp_path / "resource.json").write_bytes('{"a": "caf\u00e9"}'.encode())
    (tmp_path / "marathon.json.mustache").write_text('{"id": "{{#service.name}}x"}')
    (tmp_path / "command.json").write_text("{}")
    found = "\n".join(universe_rule_problems(tmp_path))
    for expected in ("duplicate keys", "\\uXXXX", "not pure ASCII", "never closed", "command.json"):
        assert expected in found


def test_package_json_is_a_4_0_framework_package_with_our_version(builder):
    package = json.loads((SOURCE / "package.json").read_text())
    assert package["packagingVersion"] == "4.0" and package["framework"] is True
    assert tuple(int(x) for x in package["minDcosReleaseVersion"].split(".")) >= (1, 10)
    assert package["version"] == builder.package_version()
    import dcos_scaleio
    assert package["version"].startswith(dcos_scaleio.__version__ + "-")
    assert package["preInstallNotes"].startswith("This DC/OS Service is currently in preview")
    notes = package["postUninstallNotes"]
    for level in ("framework", "software", "data", "yes-really-destroy-data", "existing mode"):
        assert level in notes
    assert all(lic["url"].startswith("https://") for lic in package["licenses"])


def test_built_layout_and_repo_index(built, schemas):
    folder, entry = built["package_dir"], built["entry"]
    assert folder.relative_to(built["out"]).parts == ("repo", "packages", "S", "scaleio", "0")
    assert sorted(p.name for p in folder.iterdir()) == sorted(PACKAGE_FILES)
    assert json.loads((folder / "package.json").read_text())["name"] == folder.parent.name
    assert schemas.errors("universe/v4-repo-schema.json", built["repo"]) == []
    assert entry["releaseVersion"] == 0 and entry["packagingVersion"] == "4.0"
    assert base64.b64decode(entry["marathon"]["v2AppMustacheTemplate"]) == (folder / "marathon.json.mustache").read_bytes()
    assert entry["config"] == json.loads((SOURCE / "config.json").read_text())
    assert entry["resource"] == json.loads((folder / "resource.json").read_text())
    assert (built["out"] / "repo.content_type").read_text().strip() == \
        "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4"
    # The schema is live: a 4.0 entry without releaseVersion is rejected.
    broken = {"packages": [{k: v for k, v in entry.items() if k != "releaseVersion"}]}
    assert schemas.errors("universe/v4-repo-schema.json", broken) != []


def test_placeholders_are_filled_from_the_artifacts(built, kit):
    entry, shas = built["entry"], built["shas"]
    text = json.dumps(entry) + base64.b64decode(entry["marathon"]["v2AppMustacheTemplate"]).decode()
    assert "{{artifact-dir}}" not in text and "{{images-dir}}" not in text and "{{sha256:" not in text
    uris = entry["resource"]["assets"]["uris"]
    assert uris == {"scheduler": f"{kit.ARTIFACTS_URL}/dcos-scaleio-scheduler.tar.gz",
                    "executor": f"{kit.ARTIFACTS_URL}/dcos-scaleio-executor.tar.gz"}
    cli = entry["resource"]["cli"]["binaries"]["linux"]["x86-64"]
    assert cli == {"kind": "zip", "url": f"{kit.ARTIFACTS_URL}/dcos-scaleio-cli-linux-x86-64.zip",
                   "contentHash": [{"algo": "sha256", "value": shas["dcos-scaleio-cli-linux-x86-64.zip"]}]}
    assert entry["resource"]["images"]["icon-small"] == f"{kit.ARTIFACTS_URL}/images/icon-small.png"
    for icon in ("icon-small.png", "icon-medium.png", "icon-large.png"):
        assert (built["artifacts"] / "images" / icon).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert built["summary"]["cli"] is True and built["summary"]["version"] == entry["version"]


def test_cli_zip_is_optional_and_bad_artifacts_fail_the_build(tmp_path, builder, kit):
    artifacts = tmp_path / "artifacts"
    kit.make_artifacts(artifacts, cli=False)
    summary = builder.assemble(kit.ARTIFACTS_URL, tmp_path / "out", artifacts, images_url="https://img.example/s")
    resource = json.loads((pathlib.Path(summary["package_dir"]) / "resource.json").read_text())
    assert "cli" not in resource and summary["cli"] is False
    assert resource["images"]["icon-large"] == "https://img.example/s/icon-large.png"
    assert not (artifacts / "images").exists()
    (artifacts / "dcos-scaleio-executor.tar.gz").write_bytes(b"tampered")
    with pytest.raises(builder.BuildError, match="does not match"):
        builder.assemble(kit.ARTIFACTS_URL, tmp_path / "out", artifacts)
    with pytest.raises(builder.BuildError, match="URL"):
        builder.build_entry("http://x/a b", {}, None)


def test_the_command_line_builds_and_reports(tmp_path, kit):
    artifacts = tmp_path / "artifacts"
    shas = kit.make_artifacts(artifacts)
    argv = [sys.executable, str(ROOT / "packaging" / "universe.py"), "--artifacts-url", kit.ARTIFACTS_URL,
            "--out", str(tmp_path / "out"), "--artifacts-dir", str(artifacts), "--release", "3"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["release"] == 3 and summary["artifacts"] == shas
    assert json.loads((tmp_path / "out" / "repo.json").read_text())["packages"][0]["releaseVersion"] == 3
    (artifacts / "dcos-scaleio-scheduler.tar.gz").unlink()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "missing artifacts: dcos-scaleio-scheduler.tar.gz" in done.stderr


def test_every_option_has_a_description_and_every_top_level_leaf_a_default():
    config = json.loads((SOURCE / "config.json").read_text())
    missing = []

    def walk(node, path, in_array):
        for name, prop in node.get("properties", {}).items():
            p = f"{path}.{name}" if path else name
            if not prop.get("description"):
                missing.append(f"{p}: no description")
            if prop.get("type") == "object" and "properties" in prop:
                walk(prop, p, in_array)
            elif not in_array and "default" not in prop:
                missing.append(f"{p}: no default")
            if prop.get("type") == "array" and prop.get("items", {}).get("type") == "object":
                walk(prop["items"], p + "[]", True)
    walk(config, "", False)
    assert missing == []
