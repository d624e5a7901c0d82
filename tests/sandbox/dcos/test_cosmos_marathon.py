"""Cosmos with a real (sandbox) Marathon: install, list, service describe/update, uninstall in the
Marathon style and with the SDK protocol (``SDK_UNINSTALL`` -> plan COMPLETE -> app deleted), and
the ambiguity rules. The packages' apps are real processes Marathon runs."""
import base64
import json
import pathlib
import sys

import pytest
import requests

from dcos_scaleio.sandbox.dcos.cosmos import Cosmos
from dcos_scaleio.sandbox.dcos.marathon import Marathon

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_cosmos_support import RepoServer, check_schema, error_of, rpc, sample_package  # noqa: E402
from support.waiting import wait_for  # noqa: E402

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(120)]

SDK_TEMPLATE = """{
  "id": "{{service.name}}",
  "instances": 1,
  "cmd": "{{service.python}} {{service.script}} $PORT_API",
  "cpus": 0.1, "mem": 32,
  "env": {"GREETING": "{{service.greeting}}", "UNINSTALL_SECONDS": "1.5"},
  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "api"}],
  "upgradeStrategy": {"minimumHealthCapacity": 0, "maximumOverCapacity": 0},
  "labels": {"DCOS_SERVICE_NAME": "{{service.name}}", "DCOS_SERVICE_PORT_INDEX": "0",
             "DCOS_SERVICE_SCHEME": "http", "DCOS_PACKAGE_FRAMEWORK_NAME": "{{service.name}}",
             "MARATHON_SINGLE_INSTANCE_APP": "true"{{#service.sdk}},
             "DCOS_COMMONS_API_VERSION": "v1", "DCOS_COMMONS_UNINSTALL": "true"{{/service.sdk}}}
}"""


def _package(name: str, sdk: bool) -> dict:
    pkg = sample_package(name=name, framework=True)
    pkg["marathon"] = {"v2AppMustacheTemplate": base64.b64encode(SDK_TEMPLATE.encode()).decode()}
    props = pkg["config"]["properties"]["service"]["properties"]
    props["name"] = {"type": "string", "default": name}
    props["python"] = {"type": "string", "default": sys.executable}
    props["script"] = {"type": "string", "default": str(HERE / "test_cosmos_sdk_app.py")}
    props["sdk"] = {"type": "boolean", "default": sdk}
    return pkg


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    repo = RepoServer()
    uri = repo.publish("/repo", [_package("plain", False), _package("sdkpkg", True)])
    marathon = Marathon(tmp_path_factory.mktemp("marathon")).start()
    cosmos = Cosmos(marathon.url, repositories=[{"name": "test", "uri": uri}], uninstall_poll_s=0.2).start()
    try:
        yield cosmos, marathon
    finally:
        cosmos.stop()
        marathon.stop()
        repo.stop()


def app(marathon, app_id):
    r = requests.get(f"{marathon.url}/v2/apps/{app_id.strip('/')}", timeout=10)
    return r.json()["app"] if r.status_code == 200 else None


def running(marathon, app_id):
    a = app(marathon, app_id)
    return a is not None and a["tasksRunning"] == 1 and not a["deployments"]


def install(cosmos, name, **body):
    return rpc(cosmos.url, "/package/install", "install", {"packageName": name, **body}, version="v2")


def test_install_list_describe_update_and_marathon_uninstall(world):
    cosmos, marathon = world
    r = install(cosmos, "plain", options={"service": {"greeting": "hello"}})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.dcos.package.install-response+json;charset=utf-8;version=v2"
    check_schema("InstallResponse", r.json(), "v2")
    assert r.json() == {"packageName": "plain", "packageVersion": "1.0.0-1", "appId": "/plain",
                        "postInstallNotes": "installed"}
    a = app(marathon, "/plain")
    assert a["labels"]["DCOS_PACKAGE_NAME"] == "plain" and a["env"]["GREETING"] == "hello"
    wait_for(lambda: running(marathon, "/plain"), what="the app to run")
    error_of(install(cosmos, "plain"), 409, "PackageAlreadyInstalled")

    listed = rpc(cosmos.url, "/package/list", "list", {})
    check_schema("ListResponse", listed.json())
    assert [(p["appId"], p["packageInformation"]["packageDefinition"]["version"])
            for p in listed.json()["packages"]] == [("/plain", "1.0.0-1")]

    d = rpc(cosmos.url, "/cosmos/service/describe", "describe", {"appId": "plain"}, ns="service")
    assert d.headers["Content-Type"] == "application/vnd.dcos.service.describe-response+json;charset=utf-8;version=v1"
    check_schema("ServiceDescribeResponse", d.json())
    assert d.json()["userProvidedOptions"] == {"service": {"greeting": "hello"}}
    assert d.json()["resolvedOptions"]["service"]["greeting"] == "hello"
    assert d.json()["resolvedOptions"]["service"]["cpus"] == 0.1

    u = rpc(cosmos.url, "/cosmos/service/update", "update",
            {"appId": "/plain", "options": {"service": {"cpus": 0.2}}, "replace": False}, ns="service")
    assert u.status_code == 200, u.text
    check_schema("ServiceUpdateResponse", u.json())
    assert u.json()["resolvedOptions"]["service"] == dict(u.json()["resolvedOptions"]["service"], greeting="hello", cpus=0.2)
    assert u.json()["marathonDeploymentId"]
    a = app(marathon, "/plain")
    assert json.loads(base64.b64decode(a["labels"]["DCOS_PACKAGE_OPTIONS"])) == \
        {"service": {"greeting": "hello", "cpus": 0.2}}
    wait_for(lambda: running(marathon, "/plain"), what="the updated app to run")
    error_of(rpc(cosmos.url, "/cosmos/service/update", "update",
                 {"appId": "/plain", "packageVersion": "2.0", "replace": False}, ns="service"),
             400, "VersionUpgradeNotSupportedInOpen")
    error_of(rpc(cosmos.url, "/cosmos/service/update", "update",
                 {"appId": "/plain", "options": {"service": {"name": "renamed"}}, "replace": False}, ns="service"),
             400, "AppIdChanged")
    error_of(rpc(cosmos.url, "/cosmos/service/describe", "describe", {"appId": "/nope"}, ns="service"),
             404, "MarathonAppNotFound")

    un = rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "plain"})
    check_schema("UninstallResponse", un.json())
    assert un.json() == {"results": [{"packageName": "plain", "appId": "/plain", "packageVersion": "1.0.0-1",
                                      "postUninstallNotes": "gone"}]}
    assert app(marathon, "/plain") is None
    error_of(rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "plain"}), 400, "PackageNotInstalled")


def test_sdk_uninstall_waits_for_the_plan_then_deletes_the_app(world):
    cosmos, marathon = world
    assert install(cosmos, "sdkpkg").status_code == 200
    wait_for(lambda: running(marathon, "/sdkpkg"), what="the scheduler app to run")
    r = rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "sdkpkg"})
    assert r.status_code == 200, r.text
    # The app is relaunched in uninstall mode, and stays until its deploy plan is COMPLETE.
    a = app(marathon, "/sdkpkg")
    assert a is not None and a["env"]["SDK_UNINSTALL"] == "true"
    assert cosmos.sdk.state("/sdkpkg")["state"] in ("deploying", "waiting-for-plan")
    # New options during the uninstall (another level, say) keep the app in uninstall mode.
    u = rpc(cosmos.url, "/cosmos/service/update", "update",
            {"appId": "/sdkpkg", "options": {"service": {"greeting": "bye"}}, "replace": False}, ns="service")
    assert u.status_code == 200, u.text
    a = app(marathon, "/sdkpkg")
    assert a is not None and a["env"]["SDK_UNINSTALL"] == "true" and a["env"]["GREETING"] == "bye"
    # A second request does not start another uninstall.
    assert rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "sdkpkg"}).status_code == 200
    wait_for(lambda: app(marathon, "/sdkpkg") is None, what="Cosmos to delete the app")
    assert cosmos.sdk.state("/sdkpkg")["state"] == "done"


def test_two_instances_need_an_app_id_or_all(world):
    cosmos, marathon = world
    for app_id in ("/one", "/two"):
        r = install(cosmos, "plain", appId=app_id)
        assert r.status_code == 200 and r.json()["appId"] == app_id
    body = error_of(rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "plain"}), 400, "AmbiguousAppId")
    assert body["data"]["appIds"] == ["/one", "/two"]
    r = rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "plain", "appId": "two"})
    assert [x["appId"] for x in r.json()["results"]] == ["/two"]
    r = install(cosmos, "plain", appId="/three")
    r = rpc(cosmos.url, "/package/uninstall", "uninstall", {"packageName": "plain", "all": True})
    assert sorted(x["appId"] for x in r.json()["results"]) == ["/one", "/three"]
    assert app(marathon, "/one") is None and app(marathon, "/three") is None
