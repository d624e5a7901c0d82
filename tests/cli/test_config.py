"""Configuration resolution like the DC/OS CLI: environment first, then the attached cluster's
dcos.toml under DCOS_DIR, DCOS_CLUSTER, the legacy file; permissions; ssl_verify forms.
Real files in a temp DCOS_DIR; no processes."""
import json

import pytest

from dcos_scaleio.cli import errors
from dcos_scaleio.cli.config import CONFIG_SCHEMA, Config
from dcos_scaleio.cli.errors import CliError

from tests.cli.helpers import write_cluster

TOML = """[core]
dcos_url = "{url}"
dcos_acs_token = "{token}"
ssl_verify = "{verify}"
[cluster]
name = "{name}"
[scaleio]
service_name = "{service}"
"""


def toml(url="https://a.example", token="tok-a", verify="true", name="alpha", service="scaleio"):
    return TOML.format(url=url, token=token, verify=verify, name=name, service=service)


def test_attached_cluster_among_several(tmp_path):
    write_cluster(tmp_path, "id-a", toml(name="alpha", token="tok-a"))
    write_cluster(tmp_path, "id-b", toml(url="https://b.example/", name="beta", token="tok-b",
                                         verify="/etc/b-ca.pem", service="sio-b"), attached=True)
    cfg = Config({"DCOS_DIR": str(tmp_path)})
    assert cfg.dcos_url == "https://b.example"            # trailing slash dropped
    assert cfg.acs_token == "tok-b"
    assert cfg.ssl_verify == "/etc/b-ca.pem"
    assert cfg.service_name() == "sio-b"
    assert cfg.service_name("other") == "other"          # --name wins
    assert cfg.service_url() == "https://b.example/service/sio-b"


def test_dcos_cluster_selects_by_id_or_name(tmp_path):
    write_cluster(tmp_path, "id-a", toml(name="alpha", token="tok-a"), attached=True)
    write_cluster(tmp_path, "id-b", toml(name="beta", token="tok-b"))
    assert Config({"DCOS_DIR": str(tmp_path), "DCOS_CLUSTER": "beta"}).acs_token == "tok-b"
    assert Config({"DCOS_DIR": str(tmp_path), "DCOS_CLUSTER": "id-b"}).acs_token == "tok-b"
    with pytest.raises(CliError) as exc:
        Config({"DCOS_DIR": str(tmp_path), "DCOS_CLUSTER": "gamma"}).acs_token
    assert exc.value.code == errors.CONFIG and "gamma" in exc.value.message


def test_several_clusters_none_attached_is_a_config_error(tmp_path):
    write_cluster(tmp_path, "id-a", toml())
    write_cluster(tmp_path, "id-b", toml())
    with pytest.raises(CliError) as exc:
        Config({"DCOS_DIR": str(tmp_path)}).dcos_url
    assert exc.value.code == errors.CONFIG and "dcos cluster attach" in exc.value.hint


def test_single_cluster_counts_as_attached(tmp_path):
    write_cluster(tmp_path, "only", toml(token="tok-only"))
    assert Config({"DCOS_DIR": str(tmp_path)}).acs_token == "tok-only"


def test_environment_overrides_the_file(tmp_path):
    write_cluster(tmp_path, "id-a", toml(token="file-token", service="from-file"), attached=True)
    cfg = Config({"DCOS_DIR": str(tmp_path), "DCOS_URL": "http://env.example:8080", "DCOS_ACS_TOKEN": "env-token",
                  "DCOS_SCALEIO_SERVICE_NAME": "from-env"})
    assert (cfg.dcos_url, cfg.acs_token, cfg.service_name()) == ("http://env.example:8080", "env-token", "from-env")
    # The old CLI's DCOS_DCOS_* spelling is honoured when the short one is absent.
    assert Config({"DCOS_DIR": str(tmp_path), "DCOS_DCOS_ACS_TOKEN": "legacy"}).acs_token == "legacy"


@pytest.mark.parametrize("env, expected", [
    ({"DCOS_TLS_INSECURE": "1"}, False), ({"DCOS_TLS_INSECURE": "true", "DCOS_TLS_CA_PATH": "/ca"}, False),
    ({"DCOS_TLS_CA_PATH": "/ca.pem"}, "/ca.pem"), ({"DCOS_SSL_VERIFY": "false"}, False),
    ({"DCOS_SSL_VERIFY": "True"}, True), ({}, "/file-ca.pem")])
def test_ssl_verify_forms(tmp_path, env, expected):
    write_cluster(tmp_path, "c", toml(verify="/file-ca.pem"), attached=True)
    assert Config({"DCOS_DIR": str(tmp_path), **env}).ssl_verify == expected


def test_unset_ssl_verify_verifies_with_system_cas(tmp_path):
    assert Config({"DCOS_DIR": str(tmp_path), "DCOS_URL": "https://x"}).ssl_verify is True


def test_legacy_dcos_toml_without_clusters(tmp_path):
    legacy = tmp_path / "dcos.toml"
    legacy.write_text(toml(token="legacy-token"))
    legacy.chmod(0o600)
    cfg = Config({"DCOS_DIR": str(tmp_path)})
    assert cfg.acs_token == "legacy-token" and cfg.path == str(legacy)


def test_too_open_permissions_are_refused(tmp_path):
    write_cluster(tmp_path, "c", toml(), attached=True, mode=0o644)
    with pytest.raises(CliError) as exc:
        Config({"DCOS_DIR": str(tmp_path)}).dcos_url
    assert exc.value.code == errors.CONFIG and "0644" in exc.value.message and "chmod 600" in exc.value.hint


def test_malformed_toml_is_a_config_error(tmp_path):
    write_cluster(tmp_path, "c", "[core\ndcos_url = ", attached=True)
    with pytest.raises(CliError) as exc:
        Config({"DCOS_DIR": str(tmp_path)}).dcos_url
    assert exc.value.code == errors.CONFIG and "not valid TOML" in exc.value.message


def test_no_configuration_at_all(tmp_path):
    cfg = Config({"DCOS_DIR": str(tmp_path)})
    assert cfg.dcos_url is None and cfg.path is None
    with pytest.raises(CliError) as exc:
        cfg.service_url()
    assert exc.value.code == errors.CONFIG and "dcos cluster setup" in exc.value.hint


def test_scaleio_url_bypasses_the_admin_router(tmp_path):
    cfg = Config({"DCOS_DIR": str(tmp_path), "DCOS_SCALEIO_URL": "http://127.0.0.1:9/"})
    assert cfg.service_url() == "http://127.0.0.1:9"


def test_config_schema_is_a_closed_object():
    assert CONFIG_SCHEMA["additionalProperties"] is False
    assert set(CONFIG_SCHEMA["properties"]) == {"service_name", "url"}
    json.dumps(CONFIG_SCHEMA)
