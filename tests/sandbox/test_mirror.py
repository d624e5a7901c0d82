"""The artifact mirror over real HTTP (requests as the client)."""
import hashlib

import pytest
import requests

from dcos_scaleio.sandbox.mirror import Mirror

pytestmark = pytest.mark.sandbox


@pytest.fixture
def mirror(tmp_path):
    (tmp_path / "pkgs").mkdir()
    (tmp_path / "pkgs" / "emc-scaleio-sds_3.0-200.104_amd64.deb").write_bytes(b"deb-bytes" * 1000)
    (tmp_path / "pkgs" / "sub").mkdir()
    (tmp_path / "pkgs" / "sub" / "dvdcli-0.2.1.rpm").write_bytes(b"rpm")
    m = Mirror(tmp_path / "pkgs")
    m.start()
    yield m
    m.stop()


def test_serves_files_and_index_with_sha256(mirror):
    name = "emc-scaleio-sds_3.0-200.104_amd64.deb"
    resp = requests.get(f"{mirror.url}/{name}", timeout=5)
    assert resp.status_code == 200
    assert resp.content == b"deb-bytes" * 1000
    assert mirror.sha256(name) == hashlib.sha256(resp.content).hexdigest()
    index = requests.get(f"{mirror.url}/index.json", timeout=5).json()
    assert index == mirror.index
    assert index[name] == {"sha256": hashlib.sha256(b"deb-bytes" * 1000).hexdigest(), "size": 9000}
    assert index["sub/dvdcli-0.2.1.rpm"]["size"] == 3
    assert requests.get(mirror.url_for("sub/dvdcli-0.2.1.rpm"), timeout=5).content == b"rpm"
    assert mirror.hits[name] == 1


def test_missing_file_and_traversal(mirror):
    assert requests.get(f"{mirror.url}/nope.deb", timeout=5).status_code == 404
    assert requests.get(f"{mirror.url}/%2e%2e/%2e%2e/etc/passwd", timeout=5).status_code in (400, 404)
    with pytest.raises(ValueError):
        mirror.sha256("../x")


def test_faults_fail_and_corrupt_then_clear(mirror):
    name = "sub/dvdcli-0.2.1.rpm"
    mirror.fail(name, status=503)
    assert requests.get(mirror.url_for(name), timeout=5).status_code == 503
    mirror.corrupt(name)
    resp = requests.get(mirror.url_for(name), timeout=5)
    assert resp.status_code == 200 and len(resp.content) == 3
    assert hashlib.sha256(resp.content).hexdigest() != mirror.sha256(name)
    mirror.clear_faults()
    assert requests.get(mirror.url_for(name), timeout=5).content == b"rpm"


def test_keep_alive_and_head(mirror):
    with requests.Session() as s:
        for _ in range(3):
            assert s.get(f"{mirror.url}/index.json", timeout=5).status_code == 200
        head = s.head(mirror.url_for("sub/dvdcli-0.2.1.rpm"), timeout=5)
        assert head.status_code == 200 and head.headers["Content-Length"] == "3"


def test_binds_loopback_only(tmp_path):
    with pytest.raises(ValueError):
        Mirror(tmp_path, host="0.0.0.0")
