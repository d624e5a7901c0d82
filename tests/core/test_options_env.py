"""Options as OPT_* environment variables (how the Marathon template hands them to the scheduler)."""
from dcos_scaleio.options import validate
from dcos_scaleio.options.env import from_env, leaves, mustache_env, to_env

RICH = {
    "service": {"name": "/storage/scaleio", "cpus": 1.5, "retry": {"backoff_factor": 2.5, "max_attempts": 7}},
    "scaleio": {"admin_password": "p4ss; w0rd \"quoted\"\nline", "mode": "existing",
                "existing": {"mdm_ips": ["10.0.0.1", "10.0.0.2"], "gateway_endpoint": "https://10.0.0.1:8443"},
                "gateway": {"tls_verify": False, "ca_pem": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"}},
    "agents": {"attribute_filters": ["rack:r1", "ssd"], "include_public": True},
    "devices": {"host_devices": [{"host": "a1.example", "paths": ["/dev/sdb", "/dev/disk/by-id/x-1"]},
                                 {"host": "a2", "paths": ["/dev/nvme0n1"]}],
                "discovery": {"enabled": True, "deny": []}},
    "isolator": {"mode": "dvdi", "dvdi_modules": [{"mesos_version": "1.4.1", "url": "https://m/a.so", "sha256": "a" * 64}]},
}


def test_every_leaf_roundtrips_through_the_environment():
    merged = validate(RICH).merged
    env = to_env(merged)
    assert set(env) == {leaf.env for leaf in leaves()}
    assert all(isinstance(v, str) for v in env.values())
    assert validate(from_env(env)).merged == merged


def test_encodings_are_what_mustache_sections_render():
    env = to_env(validate(RICH).merged)
    assert env["OPT_SCALEIO_EXISTING_MDM_IPS"] == "10.0.0.1,10.0.0.2,"
    assert env["OPT_DEVICES_HOST_DEVICES"] == "a1.example /dev/sdb,/dev/disk/by-id/x-1,;a2 /dev/nvme0n1,;"
    assert env["OPT_AGENTS_INCLUDE_PUBLIC"] == "true"
    assert env["OPT_SERVICE_CPUS"] == "1.5"
    templ = mustache_env()
    assert templ["OPT_DEVICES_HOST_DEVICES"] == \
        "{{#devices.host_devices}}{{host}} {{#paths}}{{.}},{{/paths}};{{/devices.host_devices}}"
    assert templ["OPT_SERVICE_NAME"] == "{{service.name}}"
    assert "OPT_SCALEIO_ADMIN_PASSWORD" not in mustache_env(skip={("scaleio", "admin_password")})


def test_missing_variables_fall_back_to_defaults_and_bad_ones_are_named():
    result = validate(from_env({"OPT_SCALEIO_ADMIN_PASSWORD": "Sc4leIO-pass", "OPT_SERVICE_MEM": "lots",
                                "OPT_AGENTS_ALLOW_RESTART": "yes"}))
    assert {e.path for e in result.errors} == {"service.mem", "agents.allow_restart"}
    ok = validate(from_env({"OPT_SCALEIO_ADMIN_PASSWORD": "Sc4leIO-pass"}))
    assert ok.ok and ok.options.service.name == "scaleio"
