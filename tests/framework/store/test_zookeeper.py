"""ZooKeeper-only behaviour against a real server: the SDK layout, server restarts and crashes in the
middle of writes, session expiry freeing the lock and fencing the old holder, and credentials."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from dcos_scaleio.framework.store import LockHeld, LockLost, StoreUnavailable, open_store, zookeeper_url
from tests.support.zookeeper import ZooKeeperServer, four_letter_word, free_port

pytestmark = pytest.mark.sandbox


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def raw_client(zk_server):
    """A plain kazoo client, to look at the znodes the store wrote."""
    client = KazooClient(hosts=zk_server.hosts)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def test_layout_follows_the_sdk_convention(zk_server, raw_client, open_test_store):
    name = f"team/{unique('scaleio')}"
    root = "/dcos-service-" + name.replace("/", "__")
    store = open_test_store(zookeeper_url("/" + name, hosts=zk_server.hosts), owner="layout test")
    store.acquire_lock(timeout=10)
    store.put_json("framework_id", "fw-1")
    store.put_json("agents/a1", {"state": "ok"})

    assert sorted(raw_client.get_children(root)) == ["lock", "state"]
    assert raw_client.get(f"{root}/state/framework_id")[0] == b'"fw-1"'
    assert raw_client.get(f"{root}/state/agents/a1")[0] == b'{"state":"ok"}'
    [lock_node] = raw_client.get_children(f"{root}/lock")
    data, stat = raw_client.get(f"{root}/lock/{lock_node}")
    assert data == b"layout test" and stat.ephemeralOwner != 0  # vanishes with the session

    store.destroy()
    assert raw_client.exists(root) is None


def test_unreachable_zookeeper_is_reported_without_secrets():
    url = f"zk://scaleio:hunter2@127.0.0.1:{free_port()}/dcos-service-x"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as refused:
        open_store(url, connect_timeout=1.0)
    assert time.monotonic() - started < 30
    assert "hunter2" not in str(refused.value) and "scaleio:***@" in str(refused.value)


def test_removing_the_lock_node_counts_as_losing_the_lock(zk_server, raw_client, open_test_store):
    url = zk_server.url("/dcos-service-" + unique("deleted"))
    store = open_test_store(url)
    lost = threading.Event()
    store.acquire_lock(timeout=10, on_lost=lost.set)
    store.put("k", b"1")
    lock_root = parse_root(url) + "/lock"
    for node in raw_client.get_children(lock_root):
        raw_client.delete(f"{lock_root}/{node}")
    assert lost.wait(15)
    assert not store.lock_held
    with pytest.raises(LockLost):
        store.put("k", b"2")
    assert store.get("k").value == b"1"


def parse_root(url):
    return "/" + url.split("/", 3)[3]


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_server_restart_mid_use_keeps_data_session_and_lock(tmp_path, open_test_store, outage):
    with ZooKeeperServer(base_dir=str(tmp_path)) as zk:
        url = zk.url("/dcos-service-restart")
        # The session must outlive the outage: a JVM restart on a busy 2-core CI machine has taken long
        # enough for a 15 s session to expire (LockLost in CI once), so 30 s (the server allows 60 s).
        store = open_test_store(url, owner="survivor", session_timeout=30.0, operation_timeout=60.0)
        probe = open_test_store(url, owner="probe", operation_timeout=1.0)
        lost = threading.Event()
        store.acquire_lock(timeout=10, on_lost=lost.set)
        store.put_json("framework_id", "fw-1")
        for i in range(10):
            store.put_json(f"agents/a{i}", {"i": i})

        done, failures, stop = [], [], threading.Event()

        def writer():
            n = 0
            try:
                while not stop.is_set():
                    n += 1
                    store.put_json("counter", n)
                    done.append(n)
            except Exception as exc:  # checked below
                failures.append(exc)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(done) >= 5, 30, "writes before the outage")
            getattr(zk, outage)()
            with pytest.raises(StoreUnavailable):
                probe.get("framework_id")  # a bounded retry gives up while the server is down
            during = len(done)
            zk.start()
            wait_for(lambda: len(done) >= during + 5 or failures, 60, "writes after the restart")
        finally:
            stop.set()
            thread.join(60)
        assert not failures and not thread.is_alive()
        assert done == list(range(1, len(done) + 1))
        assert store.get_json("counter") == done[-1]
        assert store.get_json("framework_id") == "fw-1"
        assert [store.get_json(f"agents/a{i}") for i in range(10)] == [{"i": i} for i in range(10)]
        assert not lost.is_set() and store.lock_held  # the session survived the restart
        intruder = open_test_store(url, owner="intruder")
        with pytest.raises(LockHeld):
            intruder.acquire_lock(timeout=1.0)
        assert intruder.lock_holder() == "survivor"
        store.put("after", b"restart")
        for opened in (intruder, probe, store):
            opened.close()  # while the server still runs


def test_session_expiry_frees_the_lock_and_fences_the_old_holder(zk_server, open_test_store, spawn_worker):
    """A scheduler frozen (SIGSTOP, like a long GC pause) past its session timeout loses the lock to
    a successor; when it thaws it is told, and its pending write is refused rather than applied."""
    url = zk_server.url("/dcos-service-" + unique("expiry"))
    frozen = spawn_worker(url, owner="frozen scheduler", session_timeout=2.0)
    frozen.send("lock 10")
    frozen.expect("locked")
    frozen.send("put framework_id fw-old")
    frozen.expect("ok")

    frozen.signal(signal.SIGSTOP)
    try:
        successor = open_test_store(url, owner="successor")
        successor.acquire_lock(timeout=30)  # granted once the frozen session expires
        successor.put("framework_id", b"fw-new")
        frozen.send("put framework_id fw-stale")  # queued: runs the moment the process thaws
    finally:
        frozen.signal(signal.SIGCONT)
    assert frozen.expect_all({"lost", "error LockLost"}, timeout=30)
    assert successor.get("framework_id").value == b"fw-new"
    assert successor.lock_holder() == "successor"


def test_credentials_protect_the_nodes(zk_server, raw_client, open_test_store):
    root = "/dcos-service-" + unique("acl")
    owner_url = f"zk://scaleio:s3cret@{zk_server.hosts}{root}"
    store = open_test_store(owner_url)
    store.acquire_lock(timeout=10)
    store.put("framework_id", b"fw")
    assert store.get("framework_id").value == b"fw"
    with pytest.raises(NoAuthError):
        raw_client.get(f"{root}/state/framework_id")
    stranger = open_test_store(zk_server.url(root))
    with pytest.raises(StoreUnavailable) as refused:
        stranger.get("framework_id")
    assert "s3cret" not in str(refused.value) and "credentials" in str(refused.value)
    store.destroy()
    assert raw_client.exists(root) is None


def test_the_test_server_dies_with_the_process_that_started_it(tmp_path):
    """tests/support/zookeeper.py must not leak JVMs when a test run is killed."""
    script = (
        "import sys; from tests.support.zookeeper import ZooKeeperServer; "
        f"zk = ZooKeeperServer(base_dir={str(tmp_path)!r}).start(); print(zk.process.pid, zk.port, flush=True); "
        "sys.stdin.read()"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=os.getcwd())
    try:
        jvm_pid, port = (int(x) for x in parent.stdout.readline().split())
        assert four_letter_word(port, "ruok") == "imok"
    finally:
        parent.kill()
        parent.wait(15)
        parent.stdin.close()
        parent.stdout.close()
    try:
        wait_for(lambda: not os.path.exists(f"/proc/{jvm_pid}") or _is_zombie(jvm_pid), 15, "the JVM to die")
    finally:
        if not _is_zombie(jvm_pid):  # the check failed: do not leak the server it started
            os.kill(jvm_pid, signal.SIGKILL)


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
