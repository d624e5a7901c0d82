"""Options: the Universe schema, Cosmos-style defaults, validation with every error, secrets."""
import json
import pathlib

import jsonschema
import pytest

from dcos_scaleio.options import (REDACTED, FieldError, Options, Secret, defaults, deep_merge, load_schema,
                                  schema_path, validate)

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOOD = {"scaleio": {"admin_password": "Sc4leIO-pass"}}


def paths(result):
    return {e.path for e in result.errors}


def test_schema_is_the_universe_copy_and_valid_draft4():
    assert schema_path() == ROOT / "universe" / "config.json"
    schema = load_schema()
    jsonschema.Draft4Validator.check_schema(schema)
    text = (ROOT / "universe" / "config.json").read_text(encoding="ascii")  # Universe: pure ASCII
    assert json.loads(text) == schema


def _walk(node, path=""):
    for name, prop in node.get("properties", {}).items():
        yield f"{path}{name}", prop
        yield from _walk(prop, f"{path}{name}.")


def test_every_property_has_a_description_and_leaves_have_defaults():
    missing_desc, missing_default = [], []
    for path, prop in _walk(load_schema()):
        if not prop.get("description"):
            missing_desc.append(path)
        if prop.get("type") != "object" and "default" not in prop:
            missing_default.append(path)
    assert missing_desc == []
    assert missing_default == []


def test_defaults_like_cosmos_and_deep_merge_user_wins():
    d = defaults(load_schema())
    assert d["service"]["name"] == "scaleio"
    assert d["service"]["retry"]["max_attempts"] == 5
    assert d["artifacts"]["rhel"]["sds"] == {"url": "", "sha256": ""}
    merged = deep_merge(d, {"service": {"retry": {"max_attempts": 2}}})
    assert merged["service"]["retry"] == {**d["service"]["retry"], "max_attempts": 2}
    assert merged["service"]["name"] == "scaleio"


def test_defaults_alone_only_miss_the_password():
    result = validate({})
    assert [str(e) for e in result.errors] == [
        "scaleio.admin_password: required: give admin_password_secret (DC/OS Enterprise) or admin_password"]
    assert result.options is None


def test_valid_options_give_a_frozen_typed_object():
    result = validate(GOOD)
    assert result.ok
    opts = result.options
    assert isinstance(opts, Options)
    assert opts.service.mesos_role == "scaleio-role"
    assert opts.service.retry.max_attempts == 5
    assert opts.scaleio.provisioning and opts.scaleio.major == 3
    with pytest.raises(AttributeError):
        opts.service.name = "x"  # frozen


def test_foldered_name_derives_role_principal_and_zk_root():
    opts = validate({**GOOD, "service": {"name": "/storage/scaleio"}}).options
    assert opts.service.mesos_role == "storage__scaleio-role"
    assert opts.service.mesos_principal == "storage__scaleio-principal"
    assert opts.service.zk_root == "/dcos-service-storage__scaleio"


def test_every_error_is_reported_at_once_with_its_path():
    result = validate({
        "scaleio": {"mode": "existing", "protection_domain": "bad name!", "existing": {"mdm_ips": ["300.1.1.1"]}},
        "devices": {"host_devices": [{"host": "h1", "paths": ["/dev/sdb;reboot", "/dev/./sdc"]},
                                     {"host": "bad host!", "paths": ["/dev/sdd"]}, {"host": "h1", "paths": ["/dev/sde"]}]},
        "artifacts": {"rhel": {"sds": {"url": "https://mirror/sds.rpm"}}},
        "service": {"retry": {"backoff_initial_s": 100, "backoff_max_s": 10}, "bogus": 1},
        "uninstall": {"level": "data"},
    })
    assert paths(result) >= {
        "scaleio.protection_domain", "scaleio.existing.mdm_ips.0", "scaleio.existing.gateway_endpoint",
        "scaleio.admin_password", "devices.host_devices.0.paths.0", "devices.host_devices.0.paths.1",
        "devices.host_devices.1.host", "devices.host_devices.2.host", "artifacts.rhel.sds.sha256", "service.retry.backoff_max_s",
        "service.bogus", "uninstall.confirm"}
    assert result.options is None


@pytest.mark.parametrize("path", ["/dev/sdb", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/nvme0n1",
                                  "/dev/mapper/vg-lv_1"])
def test_device_paths_accepted(path):
    assert validate({**GOOD, "devices": {"host_devices": [{"host": "h1", "paths": [path]}]}}).ok


@pytest.mark.parametrize("path", ["/dev/sdb;rm -rf /", "/dev/sd$(x)", "/tmp/sdb", "/dev/../etc/passwd",
                                  "/dev/a//b", "/dev/sdb ", "dev/sdb", "/dev/`id`", "/dev/sd|b", "/dev/sdb\n"])
def test_device_paths_refused(path):
    result = validate({**GOOD, "devices": {"host_devices": [{"host": "h1", "paths": [path]}]}})
    assert "devices.host_devices.0.paths.0" in paths(result)


def test_existing_mode_needs_mdm_ips_and_gateway():
    result = validate({"scaleio": {**GOOD["scaleio"], "mode": "existing"}})
    assert paths(result) == {"scaleio.existing.mdm_ips", "scaleio.existing.gateway_endpoint"}
    ok = validate({"scaleio": {**GOOD["scaleio"], "mode": "existing",
                               "existing": {"mdm_ips": ["10.0.0.1"], "gateway_endpoint": "https://10.0.0.1"}}})
    assert ok.ok


def test_provision_pinned_hosts_must_match_3_or_5():
    bad = validate({"scaleio": {**GOOD["scaleio"], "provision": {"mdm_hosts": ["a", "b"]}}})
    assert paths(bad) == {"scaleio.provision.mdm_hosts"}
    five = validate({"scaleio": {**GOOD["scaleio"], "provision": {"mdm_count": 5, "mdm_hosts": list("abcde")}}})
    assert five.ok
    four = validate({"scaleio": {**GOOD["scaleio"], "provision": {"mdm_count": 4}}})
    assert paths(four) == {"scaleio.provision.mdm_count"}


@pytest.mark.parametrize("url", ["ftp://x/y", "https://x/y z", "https://x/$(id)", "https://x/a;b", "http://x/`a`"])
def test_artifact_urls_are_strict(url):
    result = validate({**GOOD, "artifacts": {"executor": {"url": url, "sha256": "a" * 64}}})
    assert "artifacts.executor.url" in paths(result)


def test_sha256_must_be_lower_hex_64():
    result = validate({**GOOD, "artifacts": {"executor": {"url": "https://m/e", "sha256": "ABC"}}})
    assert paths(result) == {"artifacts.executor.sha256"}


def test_weak_password_refused_without_echoing_it():
    result = validate({"scaleio": {"admin_password": "short"}})
    assert paths(result) == {"scaleio.admin_password"}
    assert "short" not in json.dumps([e.to_json() for e in result.errors])
    typed = validate({"scaleio": {"admin_password": 12345678}})
    assert "12345678" not in json.dumps([e.to_json() for e in typed.errors])


def test_password_value_warns_and_is_redacted_everywhere():
    result = validate(GOOD)
    assert any("visible" in w for w in result.warnings)
    secret = result.options.scaleio.admin_password
    assert isinstance(secret, Secret) and secret.reveal() == "Sc4leIO-pass"
    for text in (repr(result.options), str(secret), json.dumps(result.redacted())):
        assert "Sc4leIO-pass" not in text
    assert result.redacted()["scaleio"]["admin_password"] == REDACTED
    assert result.merged["scaleio"]["admin_password"] == "Sc4leIO-pass"  # redaction copies


def test_secret_path_needs_no_value_and_does_not_warn_about_visibility():
    result = validate({"scaleio": {"admin_password_secret": "scaleio/admin"}})
    assert result.ok
    assert not any("visible" in w for w in result.warnings)


def test_destroy_confirmation():
    assert validate({**GOOD, "uninstall": {"level": "data", "confirm": "yes-really-destroy-data"}}).options \
        .uninstall.destroys_data
    assert "uninstall.confirm" in paths(validate({**GOOD, "uninstall": {"level": "data", "confirm": "yes"}}))


def test_non_object_options():
    assert paths(validate([1, 2])) == {"(root)"}
    assert isinstance(validate("x").errors[0], FieldError)


def test_dvdi_module_lookup_by_exact_version():
    mod = {"mesos_version": "1.4.1", "url": "https://m/dvdi-1.4.1.so", "sha256": "b" * 64}
    opts = validate({**GOOD, "isolator": {"mode": "dvdi", "dvdi_modules": [mod]}}).options
    assert opts.isolator.module_for("1.4.1").url == mod["url"]
    assert opts.isolator.module_for("1.4.2") is None
    dup = validate({**GOOD, "isolator": {"mode": "dvdi", "dvdi_modules": [mod, mod]}})
    assert "isolator.dvdi_modules" in {p.rsplit(".", 1)[0] for p in paths(dup)} or paths(dup)


def test_retry_delay_is_exponential_and_capped():
    retry = validate({**GOOD, "service": {"retry": {"backoff_initial_s": 10, "backoff_factor": 2,
                                                    "backoff_max_s": 45}}}).options.service.retry
    assert [retry.delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 45]


@pytest.mark.parametrize("meta", ["universe/config-schema.json", "cosmos-universe-v2/config-schema.json"])
def test_config_json_passes_universe_meta_schemas(meta):
    path = ROOT.parent / "shared" / "schemas" / meta
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout's environment")
    jsonschema.Draft4Validator(json.loads(path.read_text())).validate(load_schema())


def test_config_json_has_no_duplicate_keys():
    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)
    json.loads((ROOT / "universe" / "config.json").read_text(), object_pairs_hook=no_dupes)


def test_update_refuses_changes_the_deployed_system_cannot_follow():
    from dcos_scaleio.options import update_errors
    old = validate(GOOD).options
    same = validate({**GOOD, "agents": {"allow_restart": True}, "service": {"retry": {"max_attempts": 9}},
                     "devices": {"host_devices": [{"host": "h1", "paths": ["/dev/sdc"]}]}}).options
    assert update_errors(old, same) == []
    changed = validate({"scaleio": {**GOOD["scaleio"], "protection_domain": "other", "version": "2.0",
                                    "provision": {"mdm_count": 5}}, "service": {"name": "other"}}).options
    assert {e.path for e in update_errors(old, changed)} == {
        "scaleio.protection_domain", "scaleio.version", "scaleio.provision.mdm_count", "service.name"}
