"""Many processes mutating one system at once; writers SIGKILLed mid-run. Real processes, one database."""
import signal
import subprocess
import sys
import time

import pytest


pytestmark = pytest.mark.sandbox

WORKER = r"""
import sys
from dcos_scaleio.sandbox.scaleio import errors
from dcos_scaleio.sandbox.scaleio.system import System
state_dir, n, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = System.open(state_dir, actor=f"worker{n}", check_reachability=False)
guid = "%08X-0000-4000-8000-%012X" % (n, n)
s.register_sdc(guid, f"127.0.88.{n + 1}")
for i in range(count):
    v = s.add_volume(f"w{n}-{i}", 8, pool_name="sp1", pd_name="pd1")
    s.map_volume(volume_id=v.id, sdc_guid=guid)
for name in ("contended", "shared"):
    try:
        if name == "contended":
            s.add_protection_domain(name)
        else:
            s.add_volume(name, 8, pool_name="sp1", pd_name="pd1")
    except errors.AlreadyExists:
        pass
print("done", flush=True)
"""

CHURN = r"""
import sys
from dcos_scaleio.sandbox.scaleio.system import System
s = System.open(sys.argv[1], actor="churn", check_reachability=False)
prefix = sys.argv[2]
guid = "CAFE0000-0000-4000-8000-000000000001"
s.register_sdc(guid, "127.0.88.200")
i = 0
while True:
    v = s.add_volume(f"{prefix}c{i}", 8, pool_name="sp1", pd_name="pd1")
    s.map_volume(volume_id=v.id, sdc_guid=guid)
    s.rename_volume(f"{prefix}r{i}", id=v.id)
    if i % 2:
        s.unmap_volume(volume_id=v.id, all_sdcs=True)
        s.remove_volume(id=v.id)
    print(i, flush=True)
    i += 1
"""


@pytest.fixture
def pool_system(sio_cluster3, fresh_ip, listen):
    """cluster3 + pd1/sp1 with three 2 TB devices (room for hundreds of 8 GB volumes)."""
    s, _ = sio_cluster3
    pd = s.add_protection_domain("pd1")
    sp = s.add_storage_pool("sp1", pd_id=pd.id)
    for i in range(3):
        ip = fresh_ip()
        listen(ip, 7072)
        s.add_sds([ip], pd_id=pd.id, name=f"sds{i}", devices=[{"path": "/dev/sdb", "pool_id": sp.id,
                                                                 "size_kb": 2048 * 1024 * 1024}])
    return s


def _spawn(script, *args):
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_parallel_writers_lose_no_update(pool_system):
    s = pool_system
    workers, count = 6, 12
    procs = [_spawn(WORKER, s.state_dir, n, count) for n in range(workers)]
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert out.strip() == "done"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    vols = s.volumes()
    assert len(vols) == workers * count + 1
    assert sum(1 for v in vols if len(v.mapped_sdc_ids) == 1) == workers * count
    assert len(s.sdcs()) == workers
    # Exactly once: one winner for each contended name, everyone else refused (and logged as such).
    assert [pd.name for pd in s.protection_domains()].count("contended") == 1
    assert s.count_events(op="add_protection_domain", outcome="applied") == 2      # pd1 + contended
    assert s.count_events(op="add_protection_domain", outcome="refused") == workers - 1
    assert s.count_events(op="add_volume", outcome="applied") == workers * count + 1
    assert s.count_events(op="add_volume", outcome="refused") == workers - 1
    assert s.count_events(op="map_volume", outcome="applied") == workers * count
    assert s.integrity_problems() == []


def _wait_lines(proc, n, deadline_s=60):
    end = time.monotonic() + deadline_s
    seen = 0
    while seen < n:
        assert time.monotonic() < end, "writer made no progress"
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        seen += 1


def test_sigkilled_writers_never_corrupt_the_system(pool_system):
    s = pool_system
    for round_, progress in enumerate((3, 11, 25)):
        p = _spawn(CHURN, s.state_dir, f"k{round_}-")
        try:
            _wait_lines(p, progress)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
            p.stdout.close()
            p.stderr.close()
        assert p.returncode == -signal.SIGKILL
        # The database is sound, and every object is explained by the log of applied events.
        assert s.integrity_problems() == []
        vols = s.volumes()
        applied = s.count_events(op="add_volume", outcome="applied") - \
            s.count_events(op="remove_volume", outcome="applied")
        assert len(vols) == applied
        maps = s.count_events(op="map_volume", outcome="applied") - \
            sum(1 for e in s.events(op="unmap_volume", outcome="applied"))
        assert sum(len(v.mapped_sdc_ids) for v in vols) == maps
    # A killed writer never leaves the write lock behind: others write at once.
    s.add_protection_domain("after-crash")
    assert s.protection_domain(name="after-crash")


def test_a_second_handle_in_one_process_keeps_sqlites_locks(tmp_path):
    """Regression: opening a second Store in a process used to open+close the database file outside
    SQLite, which drops every POSIX lock the process holds on it. Another process closing its own
    connection then believed it was the last one, deleted the -wal/-shm files, and the first
    process's next write found a malformed database."""
    import threading
    from dcos_scaleio.sandbox.scaleio.store import Store
    first, second = Store(tmp_path), Store(tmp_path)
    with first.write() as c:
        c.execute("INSERT INTO meta (key, value) VALUES ('probe', 'one')")
    other = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom dcos_scaleio.sandbox.scaleio.store import Store\n"
                               "Store(sys.argv[1]).close()", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "scaleio.db-wal").exists(), "another process removed the WAL we still use"
    errors_seen = []

    def write_from_a_new_thread():   # a new thread opens a new connection, as the gateway's threads do
        try:
            with first.write() as c:
                c.execute("INSERT INTO meta (key, value) VALUES ('probe2', 'two')")
        except Exception as exc:  # collected and asserted below
            errors_seen.append(exc)

    t = threading.Thread(target=write_from_a_new_thread)
    t.start()
    t.join(30)
    assert errors_seen == []
    with second.read() as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT value FROM meta WHERE key='probe2'").fetchone()[0] == "two"
    first.close()
    second.close()
