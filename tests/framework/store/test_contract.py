"""The StateStore contract, run identically against SQLite and a real ZooKeeper server."""
import threading

import pytest

from dcos_scaleio.framework.store import (
    ABSENT,
    MAX_VALUE_BYTES,
    Check,
    Delete,
    InvalidKey,
    InvalidValue,
    LockHeld,
    LockNotHeld,
    Put,
    StoreClosed,
    ValueTooLarge,
    VersionConflict,
    key_segment,
)

pytestmark = pytest.mark.sandbox


def test_missing_key_reads_as_none(store):
    assert store.get("framework_id") is None
    assert store.get_json("framework_id", default="none") == "none"
    assert store.children() == []
    assert store.scan() == {}


def test_bytes_round_trip_exactly(store):
    value = bytes(range(256)) * 3  # NULs and invalid UTF-8 included
    version = store.put("blob", value)
    found = store.get("blob")
    assert found.value == value and found.version == version


def test_json_helpers_store_canonical_json(store):
    store.put_json("framework_id", {"value": "abc-0001", "b": [1, 2], "a": None})
    assert store.get_json("framework_id") == {"value": "abc-0001", "b": [1, 2], "a": None}
    assert store.get("framework_id").value == b'{"a":null,"b":[1,2],"value":"abc-0001"}'
    store.transaction([Put.json("plan/deploy", {"status": "COMPLETE", "name": "d\u00e9ploy"})])
    assert store.get("plan/deploy").json() == {"status": "COMPLETE", "name": "d\u00e9ploy"}
    with pytest.raises(InvalidValue):
        store.put_json("bad", {"x": object()})
    with pytest.raises(InvalidValue):
        store.put_json("bad", float("nan"))
    assert store.get("bad") is None


def test_every_write_gives_a_new_version_and_compare_and_set_holds(store):
    v0 = store.put("agents/a1", b"one")
    v1 = store.put("agents/a1", b"two")
    assert v1 != v0
    v2 = store.put("agents/a1", b"three", expected_version=v1)
    assert len({v0, v1, v2}) == 3
    with pytest.raises(VersionConflict) as stale:
        store.put("agents/a1", b"stale", expected_version=v1)
    assert (stale.value.key, stale.value.expected, stale.value.actual) == ("agents/a1", v1, v2)
    assert "stale" not in str(stale.value)  # errors never carry values
    with pytest.raises(VersionConflict) as exists:
        store.put("agents/a1", b"create", expected_version=ABSENT)
    assert exists.value.actual == v2
    assert store.get("agents/a1") == store.get("agents/a1") and store.get("agents/a1").value == b"three"
    with pytest.raises(VersionConflict) as missing:
        store.put("agents/a2", b"x", expected_version=0)
    assert missing.value.actual is None
    created = store.put("agents/a2", b"x", expected_version=ABSENT)
    assert store.get("agents/a2").version == created


def test_delete_reports_whether_a_value_was_removed(store):
    version = store.put("devices/n1/sdb", b"{}")
    with pytest.raises(VersionConflict):
        store.delete("devices/n1/sdb", expected_version=version + 7)
    assert store.get("devices/n1/sdb") is not None
    assert store.delete("devices/n1/sdb", expected_version=version) is True
    assert store.get("devices/n1/sdb") is None
    assert store.delete("devices/n1/sdb") is False
    assert store.children() == []  # emptied prefixes disappear
    store.put("devices/n1/sdb", b"again", expected_version=ABSENT)
    assert store.get("devices/n1/sdb").value == b"again"


def test_transaction_applies_all_or_nothing(store):
    va = store.put("a", b"1")
    vb = store.put("b", b"1")
    with pytest.raises(VersionConflict) as conflict:
        store.transaction([Put("a", b"2"), Put("c/new", b"1"), Delete("b", expected_version=vb + 1)])
    assert conflict.value.key == "b"
    assert store.get("a") == store.get("a") and store.get("a").version == va and store.get("a").value == b"1"
    assert store.get("b").value == b"1" and store.get("c/new") is None and store.children() == ["a", "b"]

    results = store.transaction([
        Put("a", b"2", expected_version=va), Put("c/new", b"1", expected_version=ABSENT),
        Delete("b", expected_version=vb), Check("framework_id", ABSENT), Delete("never-there"),
    ])
    assert results[0] == store.get("a").version and results[1] == store.get("c/new").version
    assert results[2:] == [True, True, False]
    assert store.scan() == {"a": store.get("a"), "c/new": store.get("c/new")}
    assert store.transaction([]) == []


def test_a_transaction_sees_its_own_earlier_operations(store):
    store.transaction([Put("x/y/z", b"deep"), Put("x", b"top"), Put("x/y", b"middle")])
    assert {k: v.value for k, v in store.scan().items()} == {"x": b"top", "x/y": b"middle", "x/y/z": b"deep"}
    store.transaction([Delete("x/y/z"), Delete("x/y"), Put("x/w", b"w")])
    assert store.children("x") == ["w"] and store.get("x/y") is None
    store.transaction([Delete("x/w"), Delete("x")])
    assert store.children() == [] and store.scan() == {}


def test_a_key_can_hold_a_value_and_children(store):
    store.put_json("plan/deploy", {"status": "IN_PROGRESS"})
    store.put_json("plan/deploy/steps/s1", {"status": "PENDING"})
    assert store.children("plan") == ["deploy"] and store.children("plan/deploy") == ["steps"]
    assert store.delete("plan/deploy") is True
    assert store.get("plan/deploy") is None
    assert store.get_json("plan/deploy/steps/s1") == {"status": "PENDING"}
    assert store.children("plan") == ["deploy"]
    store.put_json("plan/deploy", {"status": "COMPLETE"})
    assert store.get_json("plan/deploy") == {"status": "COMPLETE"}
    store.transaction([Delete("plan/deploy/steps/s1"), Delete("plan/deploy")])
    assert store.children() == [] and store.children("plan") == []


def test_children_and_scan_respect_segment_boundaries(store):
    for key in ["agents/a1", "agents/a2", "agents/a2/devices/sdb", "agents-old/a9", "agents2/a3", "agentsZ"]:
        store.put(key, key.encode())
    assert store.children() == ["agents", "agents-old", "agents2", "agentsZ"]
    assert store.children("agents") == ["a1", "a2"]
    assert store.children("agents/a2") == ["devices"]
    assert store.children("nothing/here") == []
    assert list(store.scan("agents")) == ["agents/a1", "agents/a2", "agents/a2/devices/sdb"]
    assert list(store.scan("agents/a2")) == ["agents/a2", "agents/a2/devices/sdb"]
    assert store.scan("agents/a1")["agents/a1"].value == b"agents/a1"
    assert len(store.scan()) == 6


def test_scan_returns_a_whole_subtree_of_many_keys(store):
    store.transaction([Put.json(f"agents/a{i:04d}", {"i": i}) for i in range(400)])
    store.transaction([Put.json(f"agents/a{i:04d}/devices/sdb", {"d": i}) for i in range(0, 400, 4)])
    found = store.scan("agents")
    assert len(found) == 500
    assert found["agents/a0399"].json() == {"i": 399} and found["agents/a0396/devices/sdb"].json() == {"d": 396}
    assert store.children("agents") == [f"a{i:04d}" for i in range(400)]


def test_escaped_segments_hold_arbitrary_text(store):
    key = f"devices/{key_segment('node-1.example')}/{key_segment('/dev/disk/by-id/scsi-0QEMU_1')}"
    store.put(key, b"{}")
    [device] = store.children("devices/node-1.example")
    assert device == "%2Fdev%2Fdisk%2Fby-id%2Fscsi-0QEMU_1"


@pytest.mark.parametrize("key", ["", "/abs", "trailing/", "a//b", "a/./b", "a/../b", "sp ace", "star*", "x" * 600,
                                 "/".join(["d"] * 17), "caf\u00e9", 42])
def test_invalid_keys_are_refused(store, key):
    with pytest.raises(InvalidKey):
        store.put(key, b"v")
    with pytest.raises(InvalidKey):
        store.get(key)


def test_invalid_values_and_operations_are_refused(store):
    for value in (b"", "text", None, bytearray(b"x")):
        with pytest.raises(InvalidValue):
            store.put("k", value)
    with pytest.raises(InvalidKey):
        store.transaction([Put("k", b"1"), Delete("k")])
    with pytest.raises(InvalidValue):
        store.transaction([Check("k", None)])
    with pytest.raises(InvalidValue):
        store.put("k", b"1", expected_version=-2)
    assert store.scan() == {}


def test_size_limits_match_zookeeper(store):
    largest = b"v" * MAX_VALUE_BYTES
    store.put("snapshot", largest)  # the biggest allowed value really goes through
    assert store.get("snapshot").value == largest
    with pytest.raises(ValueTooLarge) as too_big:
        store.put("snapshot2", largest + b"v")
    assert "split" in str(too_big.value)
    with pytest.raises(ValueTooLarge):
        store.transaction([Put("half1", b"v" * 600_000), Put("half2", b"v" * 600_000)])
    assert store.get("half1") is None and store.get("snapshot2") is None


def test_writes_need_the_lock_but_reads_do_not(store, store_url, open_test_store):
    store.put("framework_id", b"fw-1")
    reader = open_test_store(store_url, owner="reader")
    assert reader.get("framework_id").value == b"fw-1"
    assert reader.children() == ["framework_id"]
    for write in (lambda: reader.put("x", b"1"), lambda: reader.delete("framework_id"),
                  lambda: reader.transaction([Put("x", b"1")]), reader.destroy):
        with pytest.raises(LockNotHeld):
            write()
    assert store.scan() == {"framework_id": store.get("framework_id")}


def test_a_second_scheduler_is_refused_clearly(store, store_url, open_test_store):
    second = open_test_store(store_url, owner="second scheduler (pid 999)")
    with pytest.raises(LockHeld) as refused:
        second.acquire_lock(timeout=0.5)
    assert refused.value.holder == "contract-test scheduler"
    assert "contract-test scheduler" in str(refused.value) and "only one scheduler" in str(refused.value)
    assert second.lock_holder() == "contract-test scheduler" and not second.lock_held
    store.acquire_lock(timeout=1)  # idempotent while held
    assert store.lock_held

    store.release_lock()
    store.release_lock()  # no-op when not held
    assert not store.lock_held
    second.acquire_lock(timeout=10)
    assert second.lock_held and store.lock_holder() == "second scheduler (pid 999)"
    with pytest.raises(LockNotHeld):
        store.put("x", b"1")
    second.put("x", b"2")
    second.close()
    assert store.lock_holder() is None


def test_a_waiting_scheduler_gets_the_lock_once_it_is_released(store, store_url, open_test_store):
    waiting = open_test_store(store_url, owner="waiting scheduler")
    releaser = threading.Timer(0.3, store.release_lock)
    releaser.start()
    try:
        waiting.acquire_lock(timeout=30)
    finally:
        releaser.join(30)
    assert waiting.lock_held and store.lock_holder() == "waiting scheduler"
    waiting.put("framework_id", b"fw")


def test_data_and_versions_survive_reopening(store, store_url, open_test_store):
    version = store.put_json("framework_id", "fw-0042")
    store.put("agents/a1", b"x")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosed):
        store.get("framework_id")
    again = open_test_store(store_url)
    assert again.get("framework_id").version == version and again.get_json("framework_id") == "fw-0042"
    assert again.lock_holder() is None  # closing released the lock
    again.acquire_lock(timeout=10)
    again.put("framework_id", b"fw-0043", expected_version=version)


def test_destroy_removes_everything(store, store_url, open_test_store):
    store.transaction([Put("framework_id", b"fw"), Put("plan/deploy", b"{}"), Put("agents/a1/devices/d", b"d")])
    store.destroy()
    with pytest.raises(StoreClosed):
        store.get("framework_id")
    fresh = open_test_store(store_url)
    assert fresh.scan() == {} and fresh.children() == [] and fresh.lock_holder() is None
    fresh.acquire_lock(timeout=10)
    assert fresh.put("framework_id", b"new", expected_version=ABSENT) is not None


def test_compare_and_set_is_safe_across_threads(store):
    store.put_json("counter", 0)
    errors = []

    def increment(times):
        try:
            for _ in range(times):
                while True:
                    current = store.get("counter")
                    try:
                        store.put_json("counter", current.json() + 1, expected_version=current.version)
                        break
                    except VersionConflict:
                        continue
        except Exception as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)

    threads = [threading.Thread(target=increment, args=(20,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert store.get_json("counter") == 80

