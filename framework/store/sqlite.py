"""SQLite state store: one file, for the sandbox and single-machine use.

Durability: WAL journal with ``synchronous=FULL`` (every commit fsyncs the WAL), so a returned write
survives a crash of the process or the machine. The database, its WAL/shm files and the lock file
are mode 0600.

The single-scheduler lock is an exclusive ``flock`` on the sidecar file ``<db>.lock``, which holds
the owner's self-description. The kernel drops a ``flock`` when its holder dies, however it dies, so
a crashed scheduler never leaves a stale lock; and ``flock`` locks belong to open files, not
processes, so two store instances in one process exclude each other as well. The lock cannot be
lost while its holder lives, so ``on_lost`` is never called here. Keep the file on a local
filesystem: ``flock`` and SQLite's WAL locking are not reliable over NFS.
"""
import errno
import fcntl
import os
import sqlite3
import time

from .base import ABSENT, Check, Delete, Put, StateStore, Versioned, check_expected
from .errors import LockHeld, StoreUnavailable
from .keys import validate_key, validate_prefix

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
"""
_LOCK_POLL_SECONDS = 0.05


class SqliteStore(StateStore):
    """The :class:`StateStore` contract on an SQLite file (``sqlite:///path/file.db``)."""

    def __init__(self, location, owner=None, busy_timeout=10.0):
        super().__init__(location, owner)
        self._path = location.path
        self._lock_path = self._path + ".lock"
        self._lock_fd = None
        try:
            self._create_file()
            self._db = sqlite3.connect(self._path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the SQLite store {location}: {_reason(exc)}") from None

    def _create_file(self):
        """Create the database file (and its folder) private to this user, and make the new directory
        entry durable before anything is written into the file."""
        folder = os.path.dirname(self._path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
        finally:
            os.close(fd)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- reads --------------------------------------------------------------------------------
    def get(self, key):
        validate_key(key)
        row = self._query("SELECT value, version FROM kv WHERE key = ?", (key,))
        return Versioned(bytes(row[0][0]), row[0][1]) if row else None

    def children(self, prefix=""):
        validate_prefix(prefix)
        start = prefix + "/" if prefix else ""
        rows = self._query(*_below(prefix, "SELECT key FROM kv"))
        return sorted({key[len(start):].split("/", 1)[0] for (key,) in rows})

    def scan(self, prefix=""):
        validate_prefix(prefix)
        sql, args = _below(prefix, "SELECT key, value, version FROM kv")
        if prefix:
            sql, args = sql + " OR key = ?", args + (prefix,)
        rows = self._query(sql + " ORDER BY key", args)
        return {key: Versioned(bytes(value), version) for key, value, version in rows}

    def _query(self, sql, args):
        with self._state_lock:
            self._require_open()
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"reading the SQLite store {self.location} failed: {_reason(exc)}") from None

    # -- writes -------------------------------------------------------------------------------
    def _commit(self, ops):
        with self._state_lock:
            self._require_open()
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"the SQLite store {self.location} is busy: {_reason(exc)}") from None
            try:
                results = [self._apply(op) for op in ops]
                self._db.execute("COMMIT")
                return results
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreUnavailable(f"writing the SQLite store {self.location} failed: {_reason(exc)}") from None
                raise

    def _apply(self, op):
        row = self._db.execute("SELECT version FROM kv WHERE key = ?", (op.key,)).fetchone()
        current = row[0] if row else None
        check_expected(op.key, op.expected_version, current)
        if isinstance(op, Check):
            return True
        if isinstance(op, Delete):
            if current is None:
                return False
            self._db.execute("DELETE FROM kv WHERE key = ?", (op.key,))
            return True
        assert isinstance(op, Put)
        if current is None:
            self._db.execute("INSERT INTO kv (key, value, version) VALUES (?, ?, 0)", (op.key, op.value))
            return 0
        self._db.execute("UPDATE kv SET value = ?, version = ? WHERE key = ?", (op.value, current + 1, op.key))
        return current + 1

    # -- lock ---------------------------------------------------------------------------------
    def _acquire(self, timeout):
        started = time.monotonic()
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise StoreUnavailable(f"cannot lock {self.location}: {_reason(exc)}") from None
                if time.monotonic() - started >= timeout:
                    raise LockHeld(self.location, _read_owner(fd), time.monotonic() - started)
                time.sleep(_LOCK_POLL_SECONDS)
            os.ftruncate(fd, 0)
            os.pwrite(fd, self.owner.encode(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def _release(self):
        fd, self._lock_fd = self._lock_fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # nobody's name in the file once it is free
        finally:
            os.close(fd)  # closing the only descriptor drops the flock

    def lock_holder(self):
        if self.lock_held:
            return self.owner
        try:
            fd = os.open(self._lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return _read_owner(fd) or "an unidentified owner"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- lifecycle ----------------------------------------------------------------------------
    def destroy(self):
        self._require_writable()
        with self._state_lock:
            self._db.close()
            for path in (self._path, self._path + "-wal", self._path + "-shm", self._path + "-journal"):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            # Unlink the lock file while still holding it, so no one locks the old file meanwhile.
            try:
                os.unlink(self._lock_path)
            except FileNotFoundError:
                pass
            self.release_lock()
            self._closed = True

    def close(self):
        with self._state_lock:
            if self._closed:
                return
            self.release_lock()
            self._db.close()
            self._closed = True


def _below(prefix, select):
    """``select`` restricted to keys strictly below ``prefix`` ('/' sorts just before '0')."""
    if not prefix:
        return select, ()
    return f"{select} WHERE (key > ? AND key < ?)", (prefix + "/", prefix + "0")


def _read_owner(fd):
    try:
        return os.pread(fd, 4096, 0).decode(errors="replace").strip() or None
    except OSError:
        return None


def _reason(exc):
    """A short reason without values: sqlite3 and OS errors name the problem, never the data."""
    return f"{type(exc).__name__}: {exc}"
