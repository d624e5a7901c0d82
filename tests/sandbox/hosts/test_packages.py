"""Package files: building, reading back, verification, version ordering (no agent needed)."""
import hashlib
import io
import tarfile

import pytest

from dcos_scaleio.sandbox.hosts.packages import Package, PackageError, build_package, vercmp


def test_build_and_read_back(tmp_path):
    path = build_package(tmp_path, "emc-scaleio-sdc", "3.0-200.104", "ubuntu",
                         files={"/opt/emc/scaleio/sdc/bin/drv_cfg": (b"#!/bin/sh\n", 0o755),
                                "/etc/emc/scaleio/drv_cfg.txt": b"# cfg\n"},
                         scripts={"postinst": "print('hi')\n"}, depends=["libaio1"],
                         conffiles=["/etc/emc/scaleio/drv_cfg.txt"])
    assert path.endswith("emc-scaleio-sdc-3.0-200.104.deb")
    with Package(path) as pkg:
        assert (pkg.name, pkg.version, pkg.arch, pkg.os_family) == ("emc-scaleio-sdc", "3.0-200.104", "amd64", "ubuntu")
        assert pkg.depends == ["libaio1"]
        assert pkg.files["/opt/emc/scaleio/sdc/bin/drv_cfg"]["mode"] == 0o755
        assert pkg.data("/etc/emc/scaleio/drv_cfg.txt") == b"# cfg\n"
        assert pkg.script("postinst") == "print('hi')\n"
        assert pkg.script("prerm") is None


def test_reproducible_and_real_file_names(tmp_path):
    a = build_package(tmp_path / "a", "rexray", "0.11.4-1", "rhel", files={"/usr/bin/rexray": (b"x", 0o755)})
    b = build_package(tmp_path / "b", "rexray", "0.11.4-1", "rhel", files={"/usr/bin/rexray": (b"x", 0o755)})
    assert a.endswith("rexray-0.11.4-1.rpm")
    assert hashlib.sha256(open(a, "rb").read()).digest() == hashlib.sha256(open(b, "rb").read()).digest()
    c = build_package(tmp_path, "EMC-ScaleIO-sds", "3.0-200.104", "rhel", filename="EMC-ScaleIO-sds-3.0-200.104.el7.x86_64.rpm")
    assert c.endswith("EMC-ScaleIO-sds-3.0-200.104.el7.x86_64.rpm")
    with Package(c) as pkg:
        assert pkg.arch == "x86_64"


def test_invalid_inputs_are_refused(tmp_path):
    with pytest.raises(ValueError):
        build_package(tmp_path, "bad name", "1.0", "ubuntu")
    with pytest.raises(ValueError):
        build_package(tmp_path, "x", "1.0", "windows")
    with pytest.raises(ValueError):
        build_package(tmp_path, "x", "1.0", "ubuntu", files={"relative/path": b""})
    with pytest.raises(ValueError):
        build_package(tmp_path, "x", "1.0", "ubuntu", scripts={"postinstall": ""})
    with pytest.raises(ValueError):
        build_package(tmp_path, "x", "1.0", "ubuntu", conffiles=["/etc/not-in-files"])


def test_corrupt_payload_and_foreign_files_are_detected(tmp_path):
    (tmp_path / "junk.deb").write_bytes(b"!<arch>\nnot ours")
    with pytest.raises(PackageError):
        Package(str(tmp_path / "junk.deb"))
    good = build_package(tmp_path, "x", "1.0", "ubuntu", files={"/opt/x": b"payload"})
    # Rebuild the archive with the same control but altered data: the sha256 check must catch it.
    with tarfile.open(good) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    bad = tmp_path / "bad.deb"
    with tarfile.open(bad, "w:gz") as dst:
        for m, data in members:
            if m.name == "data/opt/x":
                data = b"PAYLOAD"
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with Package(str(bad)) as pkg, pytest.raises(PackageError):
        pkg.data("/opt/x")


@pytest.mark.parametrize("a,b,expected", [
    ("1.0", "1.0", 0), ("1.0", "1.1", -1), ("2.0-14000.231", "2.0-5014.0", 1), ("1.0~rc1", "1.0", -1),
    ("1.0a", "1.0", 1), ("1:0.1", "2.0", 1), ("3.0-200.104", "3.0-0.769", 1), ("1.0", "1.0.1", -1),
    ("0.11.4", "0.9.2", 1),
])
def test_vercmp(a, b, expected):
    assert vercmp(a, b) == expected
    assert vercmp(b, a) == -expected
