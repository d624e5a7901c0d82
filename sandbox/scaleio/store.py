"""SQLite storage of one simulated ScaleIO system: schema, connections and transactions.

One database file (``<state_dir>/scaleio.db``) shared by every process that acts on the system: the
gateway, and the scli/drv_cfg/package scripts running inside agent roots where the state dir is
bind-mounted at the same path. Rules that keep it safe:

- WAL journal, so readers never block the writer and a killed process leaves at most an uncommitted
  tail that SQLite discards on the next open (crash safety comes from SQLite's atomic commit).
- Every write is one short ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two
  writers never deadlock upgrading read locks); a busy timeout makes contenders wait instead of failing.
- Connections are per thread and per process (re-opened after ``fork``), never shared.
- The file and its WAL/SHM siblings are 0600: the admin password hash lives there.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

DB_NAME = "scaleio.db"
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS mdm (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, ips TEXT NOT NULL, mgmt_ips TEXT NOT NULL,
    port INTEGER NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mdm_ip (ip TEXT PRIMARY KEY, mdm_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS app_user (
    name TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL, changed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pd (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pool (
    id TEXT PRIMARY KEY, pd_id TEXT NOT NULL, name TEXT NOT NULL, media_type TEXT NOT NULL,
    zero_padding INTEGER NOT NULL, spare_pct INTEGER NOT NULL, UNIQUE (pd_id, name));
CREATE TABLE IF NOT EXISTS sds (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, pd_id TEXT NOT NULL, port INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sds_ip (
    ip TEXT PRIMARY KEY, sds_id TEXT NOT NULL, role TEXT NOT NULL, pos INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS device (
    id TEXT PRIMARY KEY, sds_id TEXT NOT NULL, path TEXT NOT NULL, name TEXT, pool_id TEXT NOT NULL,
    size_kb INTEGER NOT NULL, UNIQUE (sds_id, path));
CREATE TABLE IF NOT EXISTS host_disk (
    ip TEXT NOT NULL, path TEXT NOT NULL, size_kb INTEGER NOT NULL, has_data INTEGER NOT NULL,
    PRIMARY KEY (ip, path));
CREATE TABLE IF NOT EXISTS sdc (
    id TEXT PRIMARY KEY, guid TEXT NOT NULL UNIQUE, ip TEXT NOT NULL, name TEXT,
    connected INTEGER NOT NULL, approved INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS volume (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, pool_id TEXT NOT NULL, size_kb INTEGER NOT NULL,
    thin INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS mapping (
    volume_id TEXT NOT NULL, sdc_id TEXT NOT NULL, PRIMARY KEY (volume_id, sdc_id));
CREATE TABLE IF NOT EXISTS session (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, user TEXT NOT NULL,
    created REAL NOT NULL, expires REAL);
CREATE TABLE IF NOT EXISTS fault (name TEXT PRIMARY KEY, params TEXT NOT NULL, remaining INTEGER);
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, actor TEXT NOT NULL, op TEXT NOT NULL,
    args TEXT NOT NULL, outcome TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS event_op ON event (op, outcome);
"""


class Store:
    """Connection factory + transaction helpers for one state dir's database."""

    def __init__(self, state_dir: str | os.PathLike):
        self.state_dir = Path(state_dir).resolve()
        self.path = self.state_dir / DB_NAME
        self._local = threading.local()
        self._init_db()

    def _init_db(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Create the file 0600 ourselves (no process-wide umask games: other threads may be creating
        # files); SQLite gives the -wal/-shm siblings the database file's permissions. O_EXCL: never
        # open+close an EXISTING database here. POSIX locks belong to the process, and closing any
        # descriptor of the file drops them all, so a second handle in a process that already has the
        # database open would silently release SQLite's locks (another process could then delete the
        # -wal/-shm files under it, and its next write would find a "malformed" database).
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        # Opening an existing system must not take the write lock (every scli call opens it).
        with self.read() as c:
            if c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
                row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is not None and row[0] == str(SCHEMA_VERSION):
                    return
        with self.write() as c:
            for stmt in filter(str.strip, SCHEMA.split(";")):
                c.execute(stmt)
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                      (str(SCHEMA_VERSION),))

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, and again after a fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # WAL + NORMAL: a killed process never corrupts the db or loses a committed transaction.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            self._local.pid = os.getpid()
            self._local.depth = 0
        return conn

    @contextlib.contextmanager
    def write(self):
        """A ``BEGIN IMMEDIATE`` transaction; commits on success, rolls back on any exception.

        Nested use joins the outer transaction (so helpers can be composed).
        """
        conn = self.connection()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            self._local.depth = 0
            conn.execute("ROLLBACK")
            raise
        self._local.depth = 0
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self):
        """A read transaction: one consistent snapshot across several queries."""
        conn = self.connection()
        if self._local.depth:
            yield conn
            return
        conn.execute("BEGIN")
        self._local.depth = 1
        try:
            yield conn
        finally:
            self._local.depth = 0
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None
