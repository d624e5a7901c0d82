"""Cosmos /package/render: options resolved against config.json, the template rendered like
Cosmos, appId, and the labels Cosmos stamps (a package cannot forge them). No Marathon needed."""
import base64
import json
import pathlib
import sys

import pytest

from dcos_scaleio.sandbox.dcos.cosmos import Cosmos

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_cosmos_support import RepoServer, check_schema, error_of, rpc, sample_package  # noqa: E402

pytestmark = [pytest.mark.sandbox]


@pytest.fixture(scope="module")
def cosmos():
    repo = RepoServer()
    bad = sample_package(name="broken")
    bad["marathon"] = {"v2AppMustacheTemplate": base64.b64encode(b'["{{service.name}}"]').decode()}
    uri = repo.publish("/repo", [sample_package(), bad, sample_package(name="bare", config=None)])
    c = Cosmos("http://127.0.0.1:9", repositories=[{"name": "test", "uri": uri}]).start()
    c.repo_uri = uri
    yield c
    c.stop()
    repo.stop()


def _render(cosmos, body):
    return rpc(cosmos.url, "/package/render", "render", body)


def test_render_defaults_and_labels(cosmos):
    r = _render(cosmos, {"packageName": "hello"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.dcos.package.render-response+json;charset=utf-8;version=v1"
    check_schema("RenderResponse", r.json())
    app = r.json()["marathonJson"]
    assert app["id"] == "hello" and app["cpus"] == 0.1 and app["env"] == {"GREETING": "hi"}
    labels = app["labels"]
    assert labels["DCOS_SERVICE_NAME"] == "hello"
    assert labels["DCOS_PACKAGE_NAME"] == "hello"      # the template's forged value is overwritten
    assert labels["DCOS_PACKAGE_VERSION"] == "1.0.0-1"
    assert labels["DCOS_PACKAGE_SOURCE"] == cosmos.repo_uri
    assert json.loads(base64.b64decode(labels["DCOS_PACKAGE_OPTIONS"])) == {}
    envelope = json.loads(base64.b64decode(labels["DCOS_PACKAGE_DEFINITION"]))
    assert envelope["metadata"]["Content-Encoding"] == "gzip"
    import gzip
    assert json.loads(gzip.decompress(base64.b64decode(envelope["data"])))["name"] == "hello"
    assert json.loads(base64.b64decode(labels["DCOS_PACKAGE_METADATA"]))["version"] == "1.0.0-1"


def test_render_options_escaping_and_app_id(cosmos):
    options = {"service": {"name": "hi-there", "greeting": 'say "hi" \\ bye', "cpus": 2}}
    r = _render(cosmos, {"packageName": "hello", "options": options, "appId": "/group/hi"})
    app = r.json()["marathonJson"]
    assert app["id"] == "/group/hi"
    assert app["env"]["GREETING"] == 'say "hi" \\ bye' and app["cpus"] == 2
    assert json.loads(base64.b64decode(app["labels"]["DCOS_PACKAGE_OPTIONS"])) == options


def test_render_refusals(cosmos):
    body = error_of(_render(cosmos, {"packageName": "hello", "options": {"service": {"cpus": 0, "color": "red"}}}),
                    400, "JsonSchemaMismatch")
    pointers = sorted(e["instance"]["pointer"] for e in body["data"]["errors"])
    assert pointers == ["/service", "/service/cpus"]
    error_of(_render(cosmos, {"packageName": "broken"}), 400, "MarathonTemplateMustBeJsonObject")
    error_of(_render(cosmos, {"packageName": "bare", "options": {"x": 1}}), 400, "OptionsNotAllowed")
    error_of(_render(cosmos, {"packageName": "hello", "options": [1]}), 400, "MalformedRequest")
    error_of(_render(cosmos, {"packageName": "nope"}), 400, "PackageNotFound")
