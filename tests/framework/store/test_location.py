"""Store URLs, service names and the SDK's ZooKeeper root convention, and key helpers (pure)."""
import pytest

from dcos_scaleio.framework.store import (
    InvalidKey,
    InvalidServiceName,
    InvalidStoreUrl,
    StoreLocation,
    encode_json,
    join_key,
    key_segment,
    parse_store_url,
    segment_text,
    service_root_path,
    validate_key,
    validate_service_name,
    zookeeper_url,
)


@pytest.mark.parametrize("name, root", [
    ("scaleio", "/dcos-service-scaleio"),
    ("/scaleio", "/dcos-service-scaleio"),
    ("/a/b", "/dcos-service-a__b"),
    ("storage/prod/scaleio-2", "/dcos-service-storage__prod__scaleio-2"),
    ("my.svc", "/dcos-service-my.svc"),
])
def test_service_root_follows_the_sdk_convention(name, root):
    assert service_root_path(name) == root


def test_zookeeper_url_defaults_to_the_dcos_masters():
    assert zookeeper_url("/a/b") == "zk://master.mesos:2181/dcos-service-a__b"
    assert zookeeper_url("x", hosts="127.0.0.1:2181,127.0.0.2:2182") == "zk://127.0.0.1:2181,127.0.0.2:2182/dcos-service-x"


@pytest.mark.parametrize("name", ["", "/", "Upper", "under_score", "-lead", "trail-", "a//b", "a/", "sp ace",
                                  "dot.", "a..b", "x" * 201, None])
def test_invalid_service_names_are_refused(name):
    with pytest.raises(InvalidServiceName):
        service_root_path(name)


def test_canonical_service_name_drops_the_leading_slash():
    assert validate_service_name("/team/scaleio") == "team/scaleio"


def test_parse_zookeeper_urls():
    loc = parse_store_url("zk://zk-1.mesos:2181,10.0.0.2:2182,zk-3/dcos-service-a__b")
    assert loc.scheme == "zk" and loc.path == "/dcos-service-a__b"
    assert loc.hosts == ("zk-1.mesos:2181", "10.0.0.2:2182", "zk-3:2181")
    assert loc.auth() is None and str(loc) == "zk://zk-1.mesos:2181,10.0.0.2:2182,zk-3:2181/dcos-service-a__b"
    assert parse_store_url("zk://h:1/deep/er/root").path == "/deep/er/root"
    assert parse_store_url(loc) is loc


def test_credentials_are_used_but_never_shown():
    loc = parse_store_url("zk://scaleio:s3cr%40t@master.mesos:2181/dcos-service-scaleio")
    assert loc.auth() == ("scaleio", "s3cr@t")
    for text in (str(loc), repr(loc)):
        assert "s3cr" not in text
    assert str(loc) == "zk://scaleio:***@master.mesos:2181/dcos-service-scaleio"
    for bad in ("zk://u:hunter2@bad host:1/x", "zk://u:hunter2@h:99999/x", "zk://u:hunter2@h:1/x?y", "zk://u:hunter2@h:1"):
        with pytest.raises(InvalidStoreUrl) as refused:
            parse_store_url(bad)
        assert "hunter2" not in str(refused.value)


def test_parse_sqlite_urls():
    loc = parse_store_url("sqlite:///var/lib/scaleio/state.db")
    assert loc == StoreLocation(scheme="sqlite", path="/var/lib/scaleio/state.db")
    assert str(loc) == "sqlite:///var/lib/scaleio/state.db"


@pytest.mark.parametrize("url", ["", "state.db", "sqlite://relative.db", "sqlite:////double", "sqlite:///dir/",
                                 "mysql://h/db", "zk://", "zk://h:1/", "zk://h:1/a//b", "zk://h:1/a/../b",
                                 "zk://h:1/zookeeper/x", "zk://h:1/dcos service", "zk://:1/x", None])
def test_malformed_urls_are_refused(url):
    with pytest.raises(InvalidStoreUrl):
        parse_store_url(url)


@pytest.mark.parametrize("text, segment", [
    ("/dev/sdb", "%2Fdev%2Fsdb"), ("sdb", "sdb"), (".", "%2E"), ("..", "%2E%2E"), ("a b~c", "a%20b%7Ec"),
    ("10.0.0.1", "10.0.0.1"), ("50%", "50%25"), ("agent-S0_1:x", "agent-S0_1:x"),
])
def test_key_segment_escapes_reversibly(text, segment):
    assert key_segment(text) == segment
    assert segment_text(segment) == text
    validate_key(segment)


def test_key_helpers():
    assert join_key("devices", key_segment("node 1"), "sdb") == "devices/node%201/sdb"
    with pytest.raises(InvalidKey):
        join_key("a", "")
    with pytest.raises(InvalidKey):
        key_segment("")


def test_encode_json_is_canonical():
    assert encode_json({"b": 1, "a": [True, None]}) == b'{"a":[true,null],"b":1}'
    assert encode_json({"a": 1, "b": 2}) == encode_json({"b": 2, "a": 1})
