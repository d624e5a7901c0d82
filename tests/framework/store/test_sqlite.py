"""SQLite-only behaviour: private files, lock exclusion between processes, and crash safety."""
import os
import signal
import sqlite3
import stat

import pytest

from dcos_scaleio.framework.store import LockHeld, StoreUnavailable, open_store

pytestmark = pytest.mark.sandbox


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite://{tmp_path}/state/store.db"


def test_files_are_private_and_the_journal_is_wal(tmp_path, db_url, open_test_store):
    store = open_test_store(db_url)
    store.acquire_lock(timeout=5)
    store.put("framework_id", b"fw")
    folder = tmp_path / "state"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    names = sorted(os.listdir(folder))
    assert names == ["store.db", "store.db-shm", "store.db-wal", "store.db.lock"]
    for name in names:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    with sqlite3.connect(folder / "store.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_existing_file_is_made_private(tmp_path, open_test_store):
    path = tmp_path / "loose.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    open_test_store(f"sqlite://{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unusable_file_is_reported_as_unavailable(tmp_path):
    folder = tmp_path / "not-a-db"
    folder.mkdir()
    (folder / "garbage.db").write_bytes(b"this is not an sqlite database" * 100)
    with pytest.raises(StoreUnavailable) as refused:
        open_store(f"sqlite://{folder}/garbage.db")
    assert "garbage.db" in str(refused.value)


def test_lock_excludes_another_process_until_it_dies(db_url, open_test_store, spawn_worker):
    holder = spawn_worker(db_url, owner="scheduler in worker")
    holder.send("lock 5")
    holder.expect("locked")
    holder.send("put framework_id fw-from-worker")
    holder.expect("ok 0")

    store = open_test_store(db_url, owner="test")
    with pytest.raises(LockHeld) as refused:
        store.acquire_lock(timeout=0.3)
    assert refused.value.holder == "scheduler in worker"
    assert store.get("framework_id").value == b"fw-from-worker"  # readers are never blocked

    contender = spawn_worker(db_url, owner="third")
    contender.send("lock 0.2")
    contender.expect("error LockHeld")

    holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the flock
    store.acquire_lock(timeout=10)
    assert store.lock_holder() == "test"
    contender.send("lock 0.2")
    contender.expect("error LockHeld")
    store.put("framework_id", b"fw-from-test", expected_version=0)


def test_sigkill_during_writes_leaves_complete_transactions(db_url, open_test_store, spawn_worker):
    """Kill a writer repeatedly while it commits 3-key transactions of ~300 KB: every key of the
    group always holds the same counter, at least the last one the writer reported committed."""
    for round_ in range(3):
        writer = spawn_worker(db_url, owner=f"writer {round_}")
        writer.send("lock 10")
        writer.expect("locked")
        writer.send("churn 300000")
        last = int(writer.expect("committed").split()[1])
        for _ in range(3 + round_ * 2):
            last = int(writer.expect("committed").split()[1])
        writer.signal(signal.SIGKILL)
        writer.kill()
        # Lines printed between our last read and the kill are lost to us; `last` is a lower bound.
        reader = open_test_store(db_url)
        values = [reader.get(f"churn/{i}").value for i in range(3)]
        assert len(set(values)) == 1, "a transaction was torn"
        assert int(values[0].split(b".")[0]) >= last
        with sqlite3.connect(db_url[len("sqlite://"):]) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        reader.close()
