"""Pure helpers of the Mesos emulator: resource arithmetic, durations, flags and recovery rules, RecordIO."""
import pytest

from dcos_scaleio.sandbox.mesos import flags as flagmod
from dcos_scaleio.sandbox.mesos import recordio
from dcos_scaleio.sandbox.mesos import resources as res
from dcos_scaleio.sandbox.mesos.protocol import format_duration, parse_duration


def test_resource_arithmetic_with_ranges():
    total = res.parse_flag("cpus:4;mem:8192;ports:[31000-32000]")
    used = {"cpus": 1.5, "ports": [(31000, 31009), (31500, 31500)]}
    free = res.subtract(total, used)
    assert free == {"cpus": 2.5, "mem": 8192.0, "ports": [(31010, 31499), (31501, 32000)]}
    assert res.add(free, used) == total
    assert res.contains(total, used) and not res.contains(free, used)
    assert res.is_empty(res.subtract(total, total))


def test_resource_wire_format_and_roles():
    bag = {"cpus": 1.0, "ports": [(1, 2)]}
    old = res.to_proto(bag, "slave_public")
    assert old[0] == {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}, "role": "slave_public"}
    new = res.to_proto(bag, "slave_public", refinement=True, allocation_role="slave_public")
    assert new[0]["reservations"] == [{"type": "STATIC", "role": "slave_public"}] and "role" not in new[0]
    assert new[0]["allocation_info"] == {"role": "slave_public"}
    assert res.from_proto(old) == bag and res.roles_of(old) == {"slave_public"}
    with pytest.raises(ValueError):
        res.from_proto([{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}])


@pytest.mark.parametrize("seconds,text", [(5, "5secs"), (900, "15mins"), (0.25, "250ms"), (7200, "2hrs")])
def test_durations(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_recovery_compatibility_rules():
    old = {"hostname": "h", "role": "*", "resources": "cpus:4", "attributes": "rack:r1"}
    assert flagmod.incompatible(old, dict(old), "1.11.0") is None
    grown = dict(old, attributes="rack:r1;zone:z", resources="cpus:8")
    assert "Incompatible agent info" in flagmod.incompatible(old, grown, "1.11.0")
    assert flagmod.incompatible(old, grown, "1.11.0", policy="additive") is None
    assert flagmod.incompatible(old, grown, "1.4.0", policy="additive") is not None   # no policy before 1.5
    changed = dict(old, attributes="rack:r2")
    assert flagmod.incompatible(old, changed, "1.11.0", policy="additive") is not None


def test_attribute_types():
    assert flagmod.attributes_proto(flagmod.parse_attributes("rack:r1;weight:2.5")) == [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "weight", "type": "SCALAR", "scalar": {"value": 2.5}}]


def test_recordio_counts_bytes_and_survives_split_chunks():
    event = {"type": "MESSAGE", "message": {"data": "ünïcode"}}
    record = recordio.encode(event)
    length, _, body = record.partition(b"\n")
    assert int(length) == len(body) and len(body) != len(body.decode())
    decoder = recordio.Decoder()
    stream = record * 3
    out = []
    for i in range(0, len(stream), 7):
        out += decoder.feed(stream[i:i + 7])
    assert out == [event] * 3
    assert recordio.chunk(b"") == b"0\r\n\r\n"
