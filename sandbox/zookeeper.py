"""A real, standalone ZooKeeper server for the sandbox and tests (Debian's ``zookeeper`` package), on loopback.

``sandbox up --store zookeeper`` runs one; ``tests.support.zookeeper`` re-exports this module.

Usage::

    with ZooKeeperServer() as zk:          # starts, waits until it answers "ruok"
        store = open_store(zk.url("/dcos-service-x"))
        zk.restart()                        # same port and data: clients reconnect
        zk.kill()                           # SIGKILL; zk.start() brings it back

Each server gets its own temporary folder (``zoo.cfg``, data, log file) on a free 127.0.0.1 port;
``close()`` (or leaving the ``with``) stops the JVM and removes the folder. The JVM is started
directly (no ``zkServer.sh``), in its own process group, with a small heap and fast-start flags.

Tuning that tests rely on: ``tickTime`` 500 ms, so sessions may last between ``min_session_ms``
(default 1 s) and ``max_session_ms`` (default 60 s); ``forceSync=no`` because tests only simulate
process crashes (the OS still has every write), not power loss.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"
# Optional: an SLF4J binding so the server's log says something when a test needs debugging.
SLF4J_SIMPLE_JAR = "/usr/share/java/slf4j-simple.jar"
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the kernel SIGKILLs the server if the test process dies without cleaning up
    (killed by a timeout, say), so no JVM outlives its test run."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def four_letter_word(port, word, timeout=1.0):
    """Send a ZooKeeper four-letter command (``ruok``, ``srvr``) and return the answer, or ``None``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(word.encode())
            chunks = []
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


class _PortTaken(Exception):
    pass


class ZooKeeperServer:
    """One standalone ZooKeeper server process with its own folder and port."""

    def __init__(self, base_dir=None, port=None, tick_ms=500, min_session_ms=1000, max_session_ms=60000,
                 start_timeout=60.0):
        java = shutil.which("java")
        if java is None or not os.path.exists(ZOOKEEPER_JAR):
            raise RuntimeError(
                "ZooKeeper tests need Debian's zookeeper package (java and /usr/share/java/zookeeper.jar): "
                "apt-get install zookeeper"
            )
        self._java = java
        self.dir = tempfile.mkdtemp(prefix="zk-", dir=base_dir)
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.process = None
        self.log_path = os.path.join(self.dir, "zookeeper.log")
        self._config_path = os.path.join(self.dir, "zoo.cfg")
        data_dir = os.path.join(self.dir, "data")
        os.makedirs(data_dir)
        with open(self._config_path, "w") as cfg:
            cfg.write(
                f"tickTime={tick_ms}\n"
                f"dataDir={data_dir}\n"
                f"clientPort={self.port}\n"
                "clientPortAddress=127.0.0.1\n"
                f"minSessionTimeout={min_session_ms}\n"
                f"maxSessionTimeout={max_session_ms}\n"
                "maxClientCnxns=0\n"
                "admin.enableServer=false\n"
                "4lw.commands.whitelist=ruok,srvr,stat,cons\n"
                "forceSync=no\n"
            )

    @property
    def hosts(self):
        """The connect string, ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def url(self, root):
        """A store URL for the znode ``root``, e.g. ``url("/dcos-service-x")``."""
        return f"zk://{self.hosts}{root}"

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        """Start the JVM and wait until it answers ``ruok``; raise with the log's tail if it cannot.
        If a port chosen here was taken meanwhile, the first start moves to another free port."""
        if self.running:
            return self
        for _ in range(3):
            try:
                return self._start_once()
            except _PortTaken:
                if self._fixed_port:
                    break
                self._rewrite_port(free_port())
        raise RuntimeError(f"ZooKeeper could not bind 127.0.0.1:{self.port}:\n{self.log_tail()}")

    def _rewrite_port(self, port):
        with open(self._config_path) as cfg:
            lines = [f"clientPort={port}\n" if line.startswith("clientPort=") else line for line in cfg]
        with open(self._config_path, "w") as cfg:
            cfg.writelines(lines)
        self.port = port

    def _start_once(self):
        log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        classpath = ZOOKEEPER_JAR + (f":{SLF4J_SIMPLE_JAR}" if os.path.exists(SLF4J_SIMPLE_JAR) else "")
        argv = [
            self._java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
            "-Djava.net.preferIPv4Stack=true", "-cp", classpath, MAIN_CLASS, self._config_path,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.dir, start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.process = None
                with open(self.log_path, errors="replace") as log:
                    log.seek(log_start)
                    if "Address already in use" in log.read():
                        raise _PortTaken()
                raise RuntimeError(f"ZooKeeper exited with {code} at start:\n{self.log_tail()}")
            if four_letter_word(self.port, "ruok", timeout=0.5) == "imok":
                self._fixed_port = True  # clients know this port now: restarts must keep it
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"ZooKeeper did not answer ruok within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout=15.0):
        """SIGTERM and wait (SIGKILL if it lingers). The data stays for the next ``start()``."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self):
        """SIGKILL, as a crash. The data stays for the next ``start()``."""
        self._signal_and_wait(signal.SIGKILL, 15.0)

    def restart(self):
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start()

    def _signal_and_wait(self, sig, timeout):
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15.0)
        self.process = None
        # Wait until the port is really closed, so a restart binds cleanly and clients see it down.
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and four_letter_word(self.port, "ruok", timeout=0.2) is not None:
            time.sleep(0.05)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self):
        """Kill the server if it runs and remove its folder."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
