"""Rendering like Cosmos (sandbox/dcos/render.py) and what the package's template renders to: a
Marathon AppDefinition for the defaults and typical option sets, whose env the scheduler reads back
as the same options, and whose command really checks the scheduler's sha256 before running it."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import tarfile

import pytest

from dcos_scaleio.framework.scheduler.config import load_config
from dcos_scaleio.options import validate
from dcos_scaleio.options.env import leaves, to_env
from dcos_scaleio.sandbox.dcos.render import (MustacheSyntaxError, TemplateNotJsonObject, context, load_package,
                                              render, render_template, template_text)

PASSWORD = "Sc4leIO-Pa55"
EXISTING = {"scaleio": {"mode": "existing", "admin_password": PASSWORD,
                        "existing": {"mdm_ips": ["10.0.0.1", "10.0.0.2"], "gateway_endpoint": "https://10.0.0.1:443"}}}
CUSTOM_NAME = {"service": {"name": "storage/scaleio-a", "cpus": 1.5, "mem": 1024},
               "scaleio": {"admin_password": PASSWORD}}
RICH = {
    "service": {"name": "sio2", "api_operators": ["alice", "bob"], "iam_ca": "false", "log_level": "DEBUG",
                "retry": {"backoff_factor": 2.5, "max_attempts": 7}, "state_store": {"type": "sqlite"}},
    "scaleio": {"admin_password": 'p4ss; w0rd "quoted"\\ {{x}}', "version": "2.0.1", "media_type": "SSD",
                "gateway": {"tls_verify": False, "ca_pem": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"},
                "provision": {"mdm_count": 5, "mdm_hosts": ["a1", "a2", "a3", "a4", "a5"]}},
    "agents": {"attribute_filters": ["rack:r1", "ssd"], "include_public": True, "allow_restart": True},
    "devices": {"host_devices": [{"host": "a1.example", "paths": ["/dev/sdb", "/dev/disk/by-id/x-1"]},
                                 {"host": "a2", "paths": ["/dev/nvme0n1"]}],
                "discovery": {"enabled": True, "deny": [], "min_size_gb": 1}},
    "artifacts": {"executor": {"url": "https://mirror.example/exec.tar.gz", "sha256": "b" * 64},
                  "ubuntu": {"sdc": {"url": "file:///srv/emc-scaleio-sdc.deb", "sha256": "c" * 64}}},
    "isolator": {"mode": "dvdi", "dvdi_modules": [{"mesos_version": "1.4.1", "url": "https://m/a.so", "sha256": "a" * 64}]},
    "uninstall": {"level": "data", "confirm": "yes-really-destroy-data"},
}
SECRETS = {"service_account_secret": ("service", "scaleio/sa"), "admin_password_secret": ("scaleio", "scaleio/pw"),
           "api_token_secret": ("service", "scaleio/token")}


# --- the mustache engine, with mustache.java + Cosmos semantics -------------------------------------

@pytest.mark.parametrize("template, ctx, expected", [
    ("{{a}}|{{{a}}}|{{&a}}", {"a": "<b>&"}, "<b>&|<b>&|<b>&"),                 # no HTML escaping
    ('"{{s}}"', {"s": 'x"y\\z\n'}, '"x\\"y\\\\z\\n"'),                            # strings JSON-escaped
    ("{{t}} {{f}} {{i}} {{d}} {{w}} {{n}} {{missing}}.", {"t": True, "f": False, "i": 512, "d": 0.5, "w": 10.0,
                                                          "n": None}, "true false 512 0.5 10  ."),
    ("{{l}} {{e}}", {"l": ["a", 1, True], "e": 1e-5}, "[a, 1, true] 1.0E-5"),       # Java toString
    ("{{#l}}{{.}},{{/l}}", {"l": ["a", "b"]}, "a,b,"),
    ("{{#o}}{{k}}{{/o}}{{#s}}[{{.}}]{{/s}}", {"o": {"k": "v"}, "s": "str"}, "v[str]"),
    ("{{#z}}0 is truthy{{/z}}{{^e}}'' is falsey{{/e}}{{^l}}[] is falsey{{/l}}{{^f}}false{{/f}}{{^m}}missing{{/m}}",
     {"z": 0, "e": "", "l": [], "f": False}, "0 is truthy'' is falsey[] is falseyfalsemissing"),
    ("{{#a}}{{b.c}}{{/a}}", {"a": {"x": 1}, "b": {"c": "up the stack"}}, "up the stack"),
    ("{{#a}}{{b.c}}{{/a}}", {"a": {"b": {}}, "b": {"c": "hidden"}}, ""),           # dotted: first part wins
    ("x\n  {{#a}}\n  y\n  {{/a}}\n{{! note }}\nz", {"a": True}, "x\n  y\nz"),        # standalone lines vanish
    ("{{=<% %>=}}<% a %>{{a}}<%{a}%><%={{ }}=%>{{a}}", {"a": "v"}, "v{{a}}vv"),
])
def test_mustache_semantics(template, ctx, expected):
    assert render_template(template, ctx) == expected


@pytest.mark.parametrize("template", ["{{#a}}x", "{{#a}}x{{/b}}", "x{{/a}}", "{{> partial}}", "{{a", "{{}}",
                                      "{{=<% %>}}"])
def test_mustache_syntax_errors(template):
    with pytest.raises(MustacheSyntaxError):
        render_template(template, {})


def test_render_accepts_a_folder_or_an_index_entry_and_insists_on_a_json_object(built):
    folder, entry = built["package_dir"], built["entry"]
    assert render(folder, {"service": {"name": "x"}}) == render(entry, {"service": {"name": "x"}})
    assert load_package(folder) == {k: v for k, v in entry.items() if k != "releaseVersion"}
    ctx = context(entry, {"service": {"retry": {"max_attempts": 2}}})
    assert ctx["service"]["retry"] == {"max_attempts": 2, "backoff_initial_s": 10, "backoff_factor": 2,
                                       "backoff_max_s": 300}
    assert ctx["resource"] == entry["resource"] and ctx["service"]["name"] == "scaleio"
    import base64
    for bad in ("[1, 2]", '{"id": "{{service.name}}",}'):
        pkg = dict(entry, marathon={"v2AppMustacheTemplate": base64.b64encode(bad.encode()).decode()})
        with pytest.raises(TemplateNotJsonObject):
            render(pkg, {})


# --- the package's template --------------------------------------------------------------------------

def _secret_sets():
    for combo in itertools.product([False, True], repeat=3):
        options: dict = {"scaleio": {"admin_password": PASSWORD}}
        for on, (name, (section, value)) in zip(combo, SECRETS.items()):
            if on:
                options.setdefault(section, {})[name] = value
        yield options


OPTION_SETS = {"defaults": {}, "existing": EXISTING, "custom-name": CUSTOM_NAME, "rich": RICH,
               **{f"secrets-{i}": o for i, o in enumerate(_secret_sets())}}


@pytest.fixture(scope="module")
def apps(built):
    return {name: render(built["entry"], options) for name, options in OPTION_SETS.items()}


def test_rendered_apps_are_valid_marathon_apps(apps, schemas):
    for name, app in apps.items():
        assert schemas.errors("marathon/AppDefinition.json", app) == [], name


def test_rendered_app_shape(apps, built):
    app, entry = apps["defaults"], built["entry"]
    assert app["id"] == "scaleio" and app["instances"] == 1
    assert app["cpus"] == 0.5 and app["mem"] == 512 and app["user"] == "root"
    assert app["upgradeStrategy"] == {"minimumHealthCapacity": 0, "maximumOverCapacity": 0}
    assert app["portDefinitions"] == [{"port": 0, "protocol": "tcp", "name": "api"}]
    assert app["labels"] == {"DCOS_PACKAGE_FRAMEWORK_NAME": "scaleio", "DCOS_SERVICE_NAME": "scaleio",
                             "DCOS_SERVICE_PORT_INDEX": "0", "DCOS_SERVICE_SCHEME": "http",
                             "MARATHON_SINGLE_INSTANCE_APP": "true", "DCOS_COMMONS_API_VERSION": "v1",
                             "DCOS_COMMONS_UNINSTALL": "true"}
    (check,) = app["healthChecks"]
    assert check["path"] == "/v1/health" and check["portIndex"] == 0
    # Bad options make /v1/health answer 500: an HTTP check with 0 failures allowed never kills.
    assert check["protocol"] == "HTTP" and check["maxConsecutiveFailures"] == 0
    assert [f["uri"] for f in app["fetch"]] == [entry["resource"]["assets"]["uris"]["scheduler"]]
    assert "secrets" not in app and all(isinstance(v, str) for v in app["env"].values())
    env = app["env"]
    assert env["SCALEIO_SCHEDULER_SHA256"] == built["shas"]["dcos-scaleio-scheduler.tar.gz"]
    assert env["SCALEIO_IAM_JWKS_URL"] == "https://leader.mesos/acs/api/v1/auth/jwks"
    assert env["SCALEIO_IAM_CA"] == "/run/dcos/pki/CA/ca-bundle.crt" and env["SCALEIO_API_OPERATORS"] == ""
    custom = apps["custom-name"]
    assert custom["id"] == "storage/scaleio-a" and custom["cpus"] == 1.5 and custom["mem"] == 1024
    assert custom["labels"]["DCOS_SERVICE_NAME"] == custom["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"] == "storage/scaleio-a"
    assert apps["rich"]["env"]["SCALEIO_API_OPERATORS"] == "alice,bob,"


def test_enterprise_secrets_appear_only_when_configured(apps):
    for i, options in enumerate(_secret_sets()):
        app = apps[f"secrets-{i}"]
        wanted = {name for name, (section, _) in SECRETS.items() if options.get(section, {}).get(name)}
        refs = {"service_account_secret": ("serviceCredential", "DCOS_SERVICE_ACCOUNT_CREDENTIAL"),
                "admin_password_secret": ("adminPassword", "SCALEIO_ADMIN_PASSWORD"),
                "api_token_secret": ("apiToken", "SCALEIO_API_TOKEN")}
        assert set(app.get("secrets", {})) == {refs[n][0] for n in wanted}
        for name in wanted:
            ref, env = refs[name]
            assert app["secrets"][ref] == {"source": SECRETS[name][1]}
            assert app["env"][env] == {"secret": ref}
        assert not any(refs[n][1] in app["env"] for n in set(SECRETS) - wanted)


@pytest.mark.parametrize("name", ["defaults", "existing", "custom-name", "rich", "secrets-7"])
def test_every_option_reaches_the_scheduler_as_the_same_option(name, apps, built):
    """The rendered env is what dcos_scaleio.options.env encodes, and the scheduler's config loader
    reads it back as the user's options (the executor artifact defaults to the package's)."""
    options, env = OPTION_SETS[name], apps[name]["env"]
    merged = validate(options).merged
    expected = to_env(merged)
    if not merged["artifacts"]["executor"]["url"]:
        expected["OPT_ARTIFACTS_EXECUTOR_URL"] = built["entry"]["resource"]["assets"]["uris"]["executor"]
        expected["OPT_ARTIFACTS_EXECUTOR_SHA256"] = built["shas"]["dcos-scaleio-executor.tar.gz"]
    assert {k: v for k, v in env.items() if k.startswith("OPT_")} == expected
    assert {leaf.env for leaf in leaves()} <= set(env)
    secrets = {k: "from-a-secret" for k, v in env.items() if isinstance(v, dict)}
    config = load_config({**{k: v for k, v in env.items() if isinstance(v, str)}, **secrets})
    if name == "defaults":                              # no admin password: the plan shows why
        assert not config.ok and {e.path for e in config.errors} == {"scaleio.admin_password"}
        return
    assert config.ok, config.errors
    assert config.service_name == (options.get("service", {}).get("name") or "scaleio")
    if name == "rich":
        assert config.options.scaleio.admin_password.reveal() == RICH["scaleio"]["admin_password"]
        assert config.options.devices.host_devices["a1.example"] == ("/dev/sdb", "/dev/disk/by-id/x-1")
    if name == "secrets-7":
        assert config.options.scaleio.admin_password.reveal() == "from-a-secret"


@pytest.mark.parametrize("tamper", [False, True])
def test_the_command_checks_the_scheduler_sha256_before_running_it(tamper, apps, built, tmp_path):
    """The template's cmd, run the way Marathon runs it (/bin/sh -c in the fetched sandbox)."""
    app = apps["custom-name"]
    tarball = built["artifacts"] / "dcos-scaleio-scheduler.tar.gz"
    target = tmp_path / "dcos-scaleio-scheduler.tar.gz"
    target.write_bytes(tarball.read_bytes())
    if tamper:
        with tarfile.open(target, "w:gz") as tar:
            tar.add(tarball, arcname="something-else")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           **{k: v for k, v in app["env"].items() if isinstance(v, str)}}
    done = subprocess.run(["/bin/sh", "-c", app["cmd"]], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=30)
    if tamper:
        assert done.returncode != 0 and not (tmp_path / "started.txt").exists()
    else:
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "started.txt").read_text().strip() == "started storage/scaleio-a"


def test_the_source_template_is_the_one_that_ships(built, kit):
    """Only build-time placeholders differ between universe/ and the built template."""
    source = (kit.SOURCE / "marathon.json.mustache").read_text()
    shipped = template_text(built["entry"])
    for name, sha in built["shas"].items():
        source = source.replace("{{sha256:%s}}" % name, sha)
    assert source == shipped
    assert json.loads((kit.SOURCE / "config.json").read_text()) == built["entry"]["config"]
