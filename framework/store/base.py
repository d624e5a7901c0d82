"""The state store contract, shared by the ZooKeeper and SQLite implementations.

What every implementation guarantees (the contract tests in tests/framework/store check each point
against both):

* **Keys** are relative ``/``-separated paths (see :mod:`.keys`). A key can hold a value and be the
  prefix of other keys at the same time (``plan/deploy`` and ``plan/deploy/steps``).
* **Values** are non-empty ``bytes`` of at most :data:`MAX_VALUE_BYTES`; the JSON helpers store
  compact, key-sorted UTF-8 JSON. (Empty values are refused: in ZooKeeper an empty node is how a
  mere prefix looks.) A whole transaction is at most :data:`MAX_TRANSACTION_BYTES` (values plus
  keys plus :data:`OP_OVERHEAD_BYTES` per operation) because ZooKeeper refuses larger requests;
  SQLite enforces the same limits so that the sandbox fails where DC/OS would.
* **Versions** are integers, opaque except that every successful write of a key yields a version
  different from all earlier versions of that key while it exists. ``expected_version`` turns a
  write into a compare-and-set: an int means "the key exists at exactly this version",
  :data:`ABSENT` means "the key does not exist", ``None`` means unconditional.
* **Atomicity and durability**: :meth:`StateStore.transaction` applies all of its operations or
  none; when a write returns, it is durable (fsync'd SQLite WAL / a ZooKeeper quorum commit) and
  visible to every later read through any store instance at the same location.
* **Single writer**: writes need the single-scheduler lock (:meth:`StateStore.acquire_lock`);
  without it they raise :class:`LockNotHeld`, after losing it :class:`LockLost`. ZooKeeper writes
  are fenced (each transaction checks the lock node), so a scheduler whose session expired cannot
  overwrite its successor's state. Reads need no lock.
* **Failures**: a write that raises :class:`StoreUnavailable` may or may not have been applied
  (the backend could not confirm); read the key back before retrying a compare-and-set. Any other
  error means nothing was applied.
* **Reads** see every write that returned before them. ``scan``/``children`` are point-in-time
  only on SQLite; on ZooKeeper they walk the tree, so they are exact when no other instance writes
  meanwhile -- always the case for the lock holder reading its own state.
* **Errors** are the typed errors of :mod:`.errors`; none carries credentials or stored values.
* **Threads**: a store instance may be used from several threads at once.
"""
import abc
import json
import os
import socket
import threading
from dataclasses import dataclass

from .errors import InvalidKey, InvalidValue, LockLost, LockNotHeld, StoreClosed, ValueTooLarge, VersionConflict
from .keys import validate_key

#: ``expected_version`` meaning "the key must not exist".
ABSENT = -1
#: Largest value a key may hold (ZooKeeper's default jute.maxbuffer is 1 MiB minus one byte,
#: and a request carries its path and headers too).
MAX_VALUE_BYTES = 1_000_000
#: Largest transaction: the sum over its operations of value + key + OP_OVERHEAD_BYTES. Fits one
#: largest value, and stays under ZooKeeper's 1,048,575-byte request limit with the multi's headers.
MAX_TRANSACTION_BYTES = 1_040_000
#: Allowance per operation for the root path, ancestors and request headers.
OP_OVERHEAD_BYTES = 256


@dataclass(frozen=True)
class Versioned:
    """A stored value with its version."""

    value: bytes
    version: int

    def json(self):
        """The value decoded as JSON."""
        return json.loads(self.value)


@dataclass(frozen=True)
class Put:
    """Transaction operation: set ``key`` to ``value`` (optionally only at ``expected_version``)."""

    key: str
    value: bytes
    expected_version: int = None

    @classmethod
    def json(cls, key, obj, expected_version=None):
        """A :class:`Put` of ``obj`` encoded with :func:`encode_json`."""
        return cls(key, encode_json(obj), expected_version)


@dataclass(frozen=True)
class Delete:
    """Transaction operation: remove ``key``'s value (optionally only at ``expected_version``).
    Keys below it are not touched. Deleting a missing key is not an error (result ``False``)."""

    key: str
    expected_version: int = None


@dataclass(frozen=True)
class Check:
    """Transaction operation: write nothing, but fail the transaction with :class:`VersionConflict`
    unless ``key`` is at ``expected_version`` (an int or :data:`ABSENT`)."""

    key: str
    expected_version: int


def encode_json(obj):
    """Compact, key-sorted UTF-8 JSON: equal objects encode to equal bytes."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"value is not JSON-serialisable: {exc}") from None


def default_owner():
    """How a lock holder describes itself when the caller gives nothing better."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def check_expected(key, expected, actual):
    """Raise :class:`VersionConflict` unless ``actual`` (a version, or ``None`` for a missing key)
    satisfies ``expected`` (``None``: anything; :data:`ABSENT`: missing; an int: that version)."""
    if expected is None:
        return
    if (expected == ABSENT and actual is not None) or (expected != ABSENT and actual != expected):
        raise VersionConflict(key, expected, actual)


def validate_ops(ops):
    """Check a transaction's operations against the contract (keys, values, sizes, one op per key)
    and return them as a list."""
    ops = list(ops)
    seen = set()
    total = 0
    for op in ops:
        if not isinstance(op, (Put, Delete, Check)):
            raise InvalidValue(f"transaction operations are Put, Delete or Check, not {type(op).__name__}")
        validate_key(op.key)
        if op.key in seen:
            raise InvalidKey(f"key {op.key!r} appears more than once in one transaction")
        seen.add(op.key)
        if op.expected_version is not None and (not isinstance(op.expected_version, int) or op.expected_version < ABSENT):
            raise InvalidValue(f"expected_version for {op.key!r} must be None, ABSENT or a version number")
        if isinstance(op, Check) and op.expected_version is None:
            raise InvalidValue(f"a Check of {op.key!r} needs an expected_version")
        size = len(op.key) + OP_OVERHEAD_BYTES
        if isinstance(op, Put):
            if not isinstance(op.value, bytes) or not op.value:
                raise InvalidValue(f"the value for {op.key!r} must be non-empty bytes")
            if len(op.value) > MAX_VALUE_BYTES:
                raise ValueTooLarge(
                    f"value for {op.key!r} is {len(op.value)} bytes; the limit is {MAX_VALUE_BYTES} "
                    "(ZooKeeper's request limit): split it over several keys"
                )
            size += len(op.value)
        total += size
    if total > MAX_TRANSACTION_BYTES:
        raise ValueTooLarge(
            f"transaction of {len(ops)} operations is {total} bytes; the limit is {MAX_TRANSACTION_BYTES} "
            "(ZooKeeper's request limit): split it"
        )
    return ops


class StateStore(abc.ABC):
    """A namespaced, versioned key-value store with transactions and a single-scheduler lock.

    Open one with :func:`dcos_scaleio.framework.store.open_store`. Usable as a context manager
    (``close()`` on exit). See the module docstring for the guarantees.
    """

    def __init__(self, location, owner=None):
        self.location = location
        self.owner = owner or default_owner()
        self._state_lock = threading.RLock()
        self._acquire_mutex = threading.Lock()
        self._flags_lock = threading.Lock()
        self._closed = False
        self._lock_held = False
        self._lock_lost = False
        self._on_lost = None

    # -- reads --------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, key):
        """The :class:`Versioned` value of ``key``, or ``None`` if it has no value."""

    def get_json(self, key, default=None):
        """The JSON-decoded value of ``key``, or ``default`` if it has no value."""
        found = self.get(key)
        return default if found is None else found.json()

    @abc.abstractmethod
    def children(self, prefix=""):
        """Sorted names of the immediate child segments below ``prefix`` ("" = top level) that hold a
        value or have descendants with values. ``children("agents") == ["a1", "a2"]``."""

    @abc.abstractmethod
    def scan(self, prefix=""):
        """Every key at or below ``prefix`` that holds a value, as ``{key: Versioned}`` (sorted by key)."""

    # -- writes -------------------------------------------------------------------------------
    def put(self, key, value, expected_version=None):
        """Set ``key`` to the non-empty bytes ``value``; return the new version.
        Raises :class:`VersionConflict` if ``expected_version`` does not hold."""
        return self.transaction([Put(key, value, expected_version)])[0]

    def put_json(self, key, obj, expected_version=None):
        """:meth:`put` of ``obj`` encoded with :func:`encode_json`; returns the new version."""
        return self.put(key, encode_json(obj), expected_version)

    def delete(self, key, expected_version=None):
        """Remove ``key``'s value (keys below it stay). Return whether it had one."""
        return self.transaction([Delete(key, expected_version)])[0]

    def transaction(self, ops):
        """Apply :class:`Put`, :class:`Delete` and :class:`Check` operations atomically (each key at
        most once). Returns one result per operation: the new version for a Put, whether a value
        was removed for a Delete, ``True`` for a Check. On :class:`VersionConflict` nothing applied."""
        ops = validate_ops(ops)
        if not ops:
            return []
        self._require_writable()
        return self._commit(ops)

    @abc.abstractmethod
    def _commit(self, ops):
        """Apply validated ``ops`` atomically, fenced by the lock where the backend allows it."""

    # -- the single-scheduler lock ------------------------------------------------------------
    def acquire_lock(self, timeout, on_lost=None):
        """Become the only writer of this location, waiting at most ``timeout`` seconds.

        Raises :class:`LockHeld` (naming the holder) if another owner keeps it. ``on_lost`` is called
        once, from a background thread, if the lock is later lost (ZooKeeper session expiry, lock
        node removed); it should stop the scheduler. On ZooKeeper a crashed holder's lock is freed
        only when its session expires, so ``timeout`` should exceed the session timeout. Calling it
        again while holding the lock is a no-op.
        """
        self._require_open()
        # Flags live under their own small lock: backends report losses from their I/O threads,
        # which must never wait behind an acquire that is waiting for another scheduler.
        with self._acquire_mutex:
            if self.lock_held:
                return
            self._acquire(timeout)
            with self._flags_lock:
                self._lock_held = True
                self._lock_lost = False
                self._on_lost = on_lost

    def release_lock(self):
        """Give the lock up (no-op if not held)."""
        with self._acquire_mutex:
            if not self._forget_lock():
                return
            self._release()

    def _forget_lock(self):
        """Stop considering the lock held (a later loss is no news); return whether it was held."""
        with self._flags_lock:
            held, self._lock_held, self._on_lost = self._lock_held, False, None
            return held

    @property
    def lock_held(self):
        """Whether this instance holds the lock right now (as far as it knows)."""
        return self._lock_held and not self._lock_lost

    @abc.abstractmethod
    def lock_holder(self):
        """The holder's self-description, or ``None`` if nobody holds the lock."""

    @abc.abstractmethod
    def _acquire(self, timeout):
        """Backend part of :meth:`acquire_lock`."""

    @abc.abstractmethod
    def _release(self):
        """Backend part of :meth:`release_lock`."""

    def _notify_lock_lost(self):
        """Backends call this when they learn the lock is gone; runs ``on_lost`` once, off-thread.
        Never blocks for long: safe to call from a client library's I/O thread."""
        with self._flags_lock:
            if not self._lock_held or self._lock_lost:
                return
            self._lock_lost = True
            callback, self._on_lost = self._on_lost, None
        if callback is not None:
            threading.Thread(target=callback, name="store-lock-lost", daemon=True).start()

    # -- lifecycle ----------------------------------------------------------------------------
    @abc.abstractmethod
    def destroy(self):
        """Delete everything at this location (all keys, the lock, the root node or file), then
        close. For uninstall; needs the lock."""

    @abc.abstractmethod
    def close(self):
        """Release the lock if held and free resources. Idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.location}>"

    def _require_open(self):
        if self._closed:
            raise StoreClosed(f"the store at {self.location} is closed")

    def _require_writable(self):
        self._require_open()
        if self._lock_lost:
            raise LockLost(f"the lock of {self.location} was lost; writes are refused (stop this scheduler)")
        if not self._lock_held:
            raise LockNotHeld(f"writing to {self.location} needs the single-scheduler lock (acquire_lock first)")
