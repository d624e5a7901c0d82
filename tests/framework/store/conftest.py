"""Fixtures for the state store tests: one real ZooKeeper server per test module (started only when a
ZooKeeper test runs), per-test store locations for both backends, and worker processes that use a
store from another process (for lock exclusion, session expiry and crash tests)."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from dcos_scaleio.framework.store import open_store
from tests.support.zookeeper import ZooKeeperServer

BACKENDS = ["sqlite", "zookeeper"]
WORKER_SCRIPT = os.path.join(os.path.dirname(__file__), "store_worker.py")
# Short enough that nothing waits long, long enough to ride out a loaded 2-core machine.
ZK_SESSION_TIMEOUT = 8.0


@pytest.fixture(scope="module")
def zk_server(tmp_path_factory):
    """A real standalone ZooKeeper server on loopback, shared by the tests of one module."""
    server = ZooKeeperServer(base_dir=str(tmp_path_factory.mktemp("zookeeper")))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def store_url(backend, request, tmp_path):
    """A fresh, empty store location of the parametrized backend."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/state/store.db"
    server = request.getfixturevalue("zk_server")
    return server.url(f"/dcos-service-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def open_test_store():
    """Open stores (closed at teardown) with test-friendly timeouts for the backend."""
    opened = []

    def opener(url, **options):
        if url.startswith("zk://"):
            options.setdefault("session_timeout", ZK_SESSION_TIMEOUT)
            options.setdefault("connect_timeout", 15.0)
            options.setdefault("operation_timeout", 20.0)
        store = open_store(url, **options)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(store_url, open_test_store):
    """An open store at a fresh location whose lock this test holds."""
    opened = open_test_store(store_url, owner="contract-test scheduler")
    opened.acquire_lock(timeout=10)
    return opened


class Worker:
    """A Python process driving a store through line commands (see store_worker.py)."""

    def __init__(self, url, owner, session_timeout):
        argv = [sys.executable, WORKER_SCRIPT, url, owner, str(session_timeout)]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, bufsize=1, start_new_session=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def pid(self):
        return self.process.pid

    def _pump(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def expect(self, prefix, timeout=30.0):
        """The next output line starting with ``prefix`` (other lines are skipped); fail on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"worker {self.pid} printed no {prefix!r} line within {timeout} s")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"worker {self.pid} exited (code {self.process.wait()}) before printing {prefix!r}")
            if line.startswith(prefix):
                return line

    def expect_all(self, lines, timeout=30.0):
        """Wait until every line of ``lines`` was printed, in any order; return True."""
        missing = set(lines)
        deadline = time.monotonic() + timeout
        while missing:
            line = self.expect("", timeout=max(0.0, deadline - time.monotonic()))
            missing.discard(line)
        return True

    def signal(self, sig):
        os.killpg(self.process.pid, sig)

    def kill(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(15)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


@pytest.fixture
def spawn_worker():
    """Start worker processes; every one is killed at teardown."""
    workers = []

    def spawn(url, owner="worker", session_timeout=ZK_SESSION_TIMEOUT):
        worker = Worker(url, owner, session_timeout)
        workers.append(worker)
        worker.expect("ready")
        return worker

    yield spawn
    for worker in workers:
        worker.kill()
