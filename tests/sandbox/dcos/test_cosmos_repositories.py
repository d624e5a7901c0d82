"""Cosmos repository handling and the catalog (describe, search, list-versions), media types and
error shapes, against Universe-style repositories served over real HTTP. No Marathon needed."""
import pathlib
import sys

import pytest

from dcos_scaleio.sandbox.dcos.cosmos import Cosmos

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_cosmos_support import RepoServer, check_schema, error_of, rpc, sample_package

pytestmark = [pytest.mark.sandbox]


@pytest.fixture(scope="module")
def repo():
    server = RepoServer()
    yield server
    server.stop()


@pytest.fixture
def cosmos():
    # No Marathon behind it: these calls never reach one.
    c = Cosmos("http://127.0.0.1:9").start()
    yield c
    c.stop()


def _names(r):
    return [x["name"] for x in r.json()["repositories"]]


def test_repository_add_list_delete_in_order(cosmos, repo):
    a = repo.publish("/a", [sample_package()])
    b = repo.publish("/b", [sample_package("2.0.0-1", 1)])
    r = rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "A", "uri": a})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == \
        "application/vnd.dcos.package.repository.add-response+json;charset=utf-8;version=v1"
    check_schema("PackageRepositoryAddResponse", r.json())
    assert rpc(cosmos.url, "/package/repository/add", "repository.add",
               {"name": "B", "uri": b, "index": 0}).status_code == 200
    listed = rpc(cosmos.url, "/package/repository/list", "repository.list", {})
    check_schema("PackageRepositoryListResponse", listed.json())
    assert listed.json()["repositories"] == [{"name": "B", "uri": b}, {"name": "A", "uri": a}]
    # The repository was fetched with the versioned Universe media type.
    accept = [q["headers"].get("Accept", "") for q in repo.requests if q["path"] == "/b"][-1]
    assert "application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4" in accept
    # Index 0 wins: describe finds B's version.
    d = rpc(cosmos.url, "/package/describe", "describe", {"packageName": "hello"}, version="v3")
    assert d.json()["package"]["version"] == "2.0.0-1"
    deleted = rpc(cosmos.url, "/package/repository/delete", "repository.delete", {"name": "B"})
    check_schema("PackageRepositoryDeleteResponse", deleted.json())
    assert _names(deleted) == ["A"]
    assert _names(rpc(cosmos.url, "/package/repository/delete", "repository.delete", {"uri": a})) == []


def test_repository_add_refusals(cosmos, repo):
    good = repo.publish("/good", [sample_package()])
    assert rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "G", "uri": good}).status_code == 200
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "G", "uri": good + "?x"}),
             409, "RepositoryAlreadyPresent")
    other = repo.publish("/other", [sample_package()])
    body = error_of(rpc(cosmos.url, "/package/repository/add", "repository.add",
                        {"name": "O", "uri": other, "index": 5}), 400, "RepositoryAddIndexOutOfBounds")
    assert body["data"] == {"attempted": 5, "max": 1}
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "X", "uri": "ftp://x/repo"}),
             400, "RepositoryUriSyntax")
    # A repository served without the version parameter (or as plain JSON) is refused.
    nover = repo.publish("/nover", [sample_package()], content_type="application/vnd.dcos.universe.repo+json;charset=utf-8")
    body = error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "N", "uri": nover}),
                    400, "UnsupportedContentType")
    assert body["data"]["actual"].endswith("charset=utf-8")
    v5 = repo.publish("/v5", [sample_package()], content_type="application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5")
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "V5", "uri": v5}),
             400, "UnsupportedContentType")
    broken = repo.publish("/broken", b"{not json")
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "Br", "uri": broken}),
             400, "RepositoryNotValid")
    missing = repo.publish("/missing-release", [{k: v for k, v in sample_package().items() if k != "releaseVersion"}])
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "M", "uri": missing}),
             400, "RepositoryNotValid")
    failing = repo.publish("/failing", [], status=500)
    body = error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "F", "uri": failing}),
                    400, "GenericHttpError")
    assert body["data"]["status"] == 500
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "U", "uri": "http://127.0.0.1:9/r"}),
             400, "RepositoryUriConnection")
    error_of(rpc(cosmos.url, "/package/repository/add", "repository.add", {"uri": good}), 400, "MalformedRequest")
    error_of(rpc(cosmos.url, "/package/repository/delete", "repository.delete", {"name": "nope"}),
             400, "RepositoryNotPresent")
    error_of(rpc(cosmos.url, "/package/repository/delete", "repository.delete", {}), 400, "RepoNameOrUriMissing")
    assert _names(rpc(cosmos.url, "/package/repository/list", "repository.list", {})) == ["G"]


def test_media_types_are_enforced(cosmos):
    body = error_of(rpc(cosmos.url, "/package/repository/list", "repository.list", {},
                        content_type="application/json"), 415, "UnsupportedContentType")
    assert body["data"]["supported"] == [
        "application/vnd.dcos.package.repository.list-request+json;charset=utf-8;version=v1"]
    body = error_of(rpc(cosmos.url, "/package/repository/list", "repository.list", {},
                        accept="application/vnd.dcos.package.repository.list-response+json;charset=utf-8;version=v9"),
                    406, "NotAcceptable")
    assert body["data"]["available"]
    import requests
    r = requests.post(cosmos.url + "/package/repository/list", data=b"[1]", timeout=10, headers={
        "Content-Type": "application/vnd.dcos.package.repository.list-request+json;charset=utf-8;version=v1"})
    error_of(r, 400, "MalformedRequest")
    error_of(rpc(cosmos.url, "/package/nothing", "nothing", {}), 404, "NotFound")


def test_describe_search_and_versions(cosmos, repo):
    uri = repo.publish("/catalog", [sample_package("1.0.0-1", 0), sample_package("1.1.0-1", 1),
                                    sample_package("0.1", 0, name="other", tags=["misc"])])
    assert rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "C", "uri": uri}).status_code == 200
    # The CLI asks for v3 and falls back to v2.
    r = rpc(cosmos.url, "/package/describe", "describe", {"packageName": "hello"},
            accept="application/vnd.dcos.package.describe-response+json;charset=utf-8;version=v3,"
                   "application/vnd.dcos.package.describe-response+json;charset=utf-8;version=v2")
    assert r.headers["Content-Type"].endswith("version=v3")
    check_schema("DescribeResponse", r.json(), "v3")
    assert r.json()["package"]["version"] == "1.1.0-1"
    r2 = rpc(cosmos.url, "/package/describe", "describe", {"packageName": "hello", "packageVersion": "1.0.0-1"},
             version="v2")
    assert r2.headers["Content-Type"].endswith("describe-response+json;charset=utf-8;version=v2")
    assert r2.json()["package"]["releaseVersion"] == 0
    error_of(rpc(cosmos.url, "/package/describe", "describe", {"packageName": "nope"}, version="v3"),
             400, "PackageNotFound")
    error_of(rpc(cosmos.url, "/package/describe", "describe", {"packageName": "hello", "packageVersion": "9"},
                 version="v3"), 400, "VersionNotFound")
    s = rpc(cosmos.url, "/package/search", "search", {"query": "greet*"})
    check_schema("SearchResponse", s.json())
    assert [(p["name"], p["currentVersion"], p["versions"]) for p in s.json()["packages"]] == \
        [("hello", "1.1.0-1", {"1.1.0-1": 1, "1.0.0-1": 0})]
    assert {p["name"] for p in rpc(cosmos.url, "/package/search", "search", {}).json()["packages"]} == {"hello", "other"}
    v = rpc(cosmos.url, "/package/list-versions", "list-versions", {"packageName": "hello", "includePackageVersions": True})
    check_schema("ListVersionsResponse", v.json())
    assert v.json()["results"] == {"1.1.0-1": "1", "1.0.0-1": "0"}
    caps = __import__("requests").get(cosmos.url + "/capabilities", timeout=10)
    check_schema("CapabilitiesResponse", caps.json())


def test_universe_server_serves_a_built_index_with_its_content_type(cosmos, tmp_path):
    import json

    from dcos_scaleio.sandbox.dcos.cosmos.universe_server import UniverseServer
    repo = tmp_path / "repo.json"
    repo.write_text(json.dumps({"packages": [sample_package("3.0.0-1", 2)]}))
    with UniverseServer(repo) as server:
        r = rpc(cosmos.url, "/package/repository/add", "repository.add", {"name": "U", "uri": server.repo_url})
        assert r.status_code == 200, r.text
        # A rebuilt index is served at once.
        repo.write_text(json.dumps({"packages": [sample_package("3.0.1-1", 3)]}))
        d = rpc(cosmos.url, "/package/describe", "describe", {"packageName": "hello"}, version="v3")
        assert d.json()["package"]["version"] == "3.0.1-1"
        # The content type written beside the index (packaging/universe.py's repo.content_type) wins.
        (tmp_path / "repo.content_type").write_text("application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5\n")
        error_of(rpc(cosmos.url, "/package/describe", "describe", {"packageName": "hello"}, version="v3"),
                 400, "UnsupportedContentType")
        assert __import__("requests").get(server.repo_url.replace("/repo", "/other"), timeout=10).status_code == 404
