"""The host-step library's own pieces, in process: the command adapter, atomic files, artifact
downloads against the sandbox mirror (with its faults), validation, YAML rendering, scli parsing."""
import os
import stat
import sys
import time

import pytest
import yaml

from dcos_scaleio.framework.host import artifacts, hostcmd, validate as v, yamltext
from dcos_scaleio.framework.host.steps import STEPS
from dcos_scaleio.framework.host.steps.scli import parse_cluster
from dcos_scaleio.sandbox.mirror import Mirror

PY = sys.executable


@pytest.fixture
def mirror(tmp_path):
    d = tmp_path / "mirror"
    d.mkdir()
    (d / "pkg-1.0.deb").write_bytes(b"package bytes " * 1000)
    m = Mirror(d).start()
    yield m
    m.stop()


@pytest.mark.sandbox
def test_fetch_verifies_sha256_and_reuses_a_verified_copy(mirror, tmp_path):
    dest = tmp_path / "cache"
    url, sha = mirror.url_for("pkg-1.0.deb"), mirror.sha256("pkg-1.0.deb")
    path = artifacts.fetch(url, sha, str(dest))
    assert open(path, "rb").read() == b"package bytes " * 1000
    mirror.fail("pkg-1.0.deb", status=500)
    assert artifacts.fetch(url, sha, str(dest)) == path         # verified copy reused, no download
    with open(path, "ab") as fh:                                # a tampered cached copy is not trusted
        fh.write(b"x")
    with pytest.raises(artifacts.ArtifactError) as err:
        artifacts.fetch(url, sha, str(dest))
    assert err.value.retryable and "HTTP 500" in str(err.value)
    mirror.clear_faults()
    assert artifacts.sha256_file(artifacts.fetch(url, sha, str(dest))) == sha


@pytest.mark.sandbox
def test_fetch_refuses_wrong_bytes_and_leaves_nothing_behind(mirror, tmp_path):
    dest = tmp_path / "cache"
    mirror.corrupt("pkg-1.0.deb")
    with pytest.raises(artifacts.ArtifactError) as err:
        artifacts.fetch(mirror.url_for("pkg-1.0.deb"), mirror.sha256("pkg-1.0.deb"), str(dest))
    assert not err.value.retryable and "sha256 mismatch" in str(err.value)
    assert os.listdir(dest) == []
    with pytest.raises(artifacts.ArtifactError) as err:
        artifacts.fetch(mirror.url_for("missing.deb"), "0" * 64, str(dest))
    assert not err.value.retryable and "404" in str(err.value)


def test_run_kills_the_whole_process_group_on_timeout(tmp_path):
    pidfile = tmp_path / "grandchild"
    code = ("import subprocess, sys, time\n"
            f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
            "time.sleep(60)\n")
    host = hostcmd.Host()
    with pytest.raises(hostcmd.CommandError) as err:
        host.run([PY, "-c", code], timeout=1.5)
    assert "timed out" in str(err.value)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_errors_are_redacted_and_argv_only():
    host = hostcmd.Host(secrets=["pa55-word"])
    with pytest.raises(hostcmd.CommandError) as err:
        host.run([PY, "-c", "import sys; print('login pa55-word refused'); sys.exit(7)", "pa55-word"], check=True)
    assert "pa55-word" not in str(err.value) and "******" in str(err.value) and "exit 7" in str(err.value)
    assert all("pa55-word" not in c["argv"] for c in host.log)
    with pytest.raises(hostcmd.CommandError):
        host.run(["/nonexistent/tool"])
    # No shell: metacharacters are plain argument bytes.
    assert host.run([PY, "-c", "import sys; print(sys.argv[1])", "$(id); echo x"]).out.strip() == "$(id); echo x"


def test_write_text_is_atomic_with_mode_and_reports_changes(tmp_path):
    host = hostcmd.Host()
    path = str(tmp_path / "etc" / "secret.conf")
    assert host.write_text(path, "password=x\n", 0o600) is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert host.write_text(path, "password=x\n", 0o600) is False
    assert host.write_text(path, "password=x\n", 0o644) is True      # a mode change is a change
    assert sorted(os.listdir(tmp_path / "etc")) == ["secret.conf"]     # no temp files left


def test_check_params_names_every_offending_field():
    spec = {"ips": (v.ip_list, True), "dev": (v.device_path, True), "url": (v.url, True),
            "sha": (v.sha256, True), "name": (v.scaleio_name, True), "ver": (v.scaleio_version, True),
            "dir": (v.abs_path, False, "/var/x"), "port": (v.port, False, 443)}
    with pytest.raises(v.BadParams) as err:
        v.check_params({"ips": ["1.2.3.4", "1.2.3.4 ;"], "dev": "/dev/../etc/passwd", "url": "http://a/b c",
                        "sha": "A" * 64, "name": "x" * 40, "ver": "3.0 && x", "dir": "/a/../b", "port": 0}, spec)
    assert set(err.value.errors) == {"ips", "dev", "url", "sha", "name", "ver", "dir", "port"}
    good = v.check_params({"ips": ["10.0.0.1"], "dev": "/dev/sdb", "url": "https://m/x.rpm", "sha": "a" * 64,
                           "name": "pd-1", "ver": "3.0-200.104", "extra": "dropped"}, spec)
    assert good == {"ips": ["10.0.0.1"], "dev": "/dev/sdb", "url": "https://m/x.rpm", "sha": "a" * 64,
                    "name": "pd-1", "ver": "3.0-200.104", "dir": "/var/x", "port": 443}


def test_every_step_refuses_a_non_object_and_declares_its_params():
    for name, cls in STEPS.items():
        assert cls.NAME == name and "os_family" in cls.PARAMS
        with pytest.raises(v.BadParams):
            v.check_params(["not", "an", "object"], cls.PARAMS)


def test_yaml_rendering_is_deterministic_and_valid():
    tree = {"rexray": {"logLevel": "warn"}, "scaleio": {"password": 'p"w: #x', "insecure": False, "n": 3}}
    text = yamltext.render(tree)
    assert text == yamltext.render(dict(tree))
    assert yaml.safe_load(text) == tree


def test_query_cluster_output_is_parsed():
    text = """Cluster:
    Name: sys1, ID: 1a2b3c4d5e6f7a8b, Mode: 3_node, State: Normal, Active: 3/3, Replicas: 2/2
    Virtual IPs: N/A
Master MDM:
    Name: m1, ID: 0x11
        IPs: 10.0.0.1, Management IPs: 10.0.0.1, Port: 9011, Virtual IP interfaces: N/A
        Version: 3.0.200
Slave MDMs:
    Name: m2, ID: 0x12
        IPs: 10.0.0.2, Management IPs: 10.0.0.2, Port: 9011, Virtual IP interfaces: N/A
        Status: Normal, Version: 3.0.200
Tie-Breakers:
    Name: tb, ID: 0x13
        IPs: 10.0.0.3, Port: 9011
        Status: Normal, Version: 3.0.200
"""
    st = parse_cluster(text)
    assert (st.mode, st.name, st.system_id) == ("3_node", "sys1", "1a2b3c4d5e6f7a8b")
    assert st.section_of("10.0.0.2") == "slaves" and st.section_of("10.0.0.3") == "tiebreakers"
    assert st.section_of("10.0.0.9") is None and st.names("master") == ["m1"]
