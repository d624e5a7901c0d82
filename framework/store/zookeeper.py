"""ZooKeeper state store (kazoo), the default on DC/OS.

Layout under the service root (``/dcos-service-<name>`` by the SDK's convention):

* ``<root>/state/<key>``: one znode per key; the znode's data is the value and its data version the
  key's version. A znode with empty data is a mere prefix (hence the contract's "no empty values");
  prefixes left without values or children are removed in the same transaction that empties them.
* ``<root>/lock``: the standard ZooKeeper lock (ephemeral sequential nodes
  ``<uuid>__lock__<sequence>`` whose data is the owner's self-description; lowest sequence holds
  it), so the lock vanishes with the holder's session.

Every write is one ZooKeeper ``multi`` that starts with a check of the writer's own lock node: a
scheduler whose session expired (and whose lock node is therefore gone) cannot overwrite anything,
even before it has noticed. Every request waits a bounded time (kazoo itself would queue it
forever while reconnecting) and operations retry through connection loss with a bounded
:class:`kazoo.retry.KazooRetry`, then raise :class:`StoreUnavailable`. A write whose ``multi``
was sent when the connection dropped is re-read after reconnecting and reported as done if the
store already shows its effect. A lost session (``KazooState.LOST``) or a deleted lock node calls
the ``on_lost`` callback.
"""
import logging
import threading
import time
import uuid

from kazoo.client import KazooClient, KazooState
from kazoo.protocol.states import EventType
from kazoo.exceptions import (
    ConnectionClosedError,
    KazooException,
    NoAuthError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    RolledBackError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry, RetryFailedError
from kazoo.security import make_digest_acl

from .base import Check, Delete, Put, StateStore, Versioned, check_expected
from .errors import LockHeld, LockLost, LockNotHeld, StoreClosed, StoreError, StoreUnavailable
from .keys import ancestors, validate_key, validate_prefix

log = logging.getLogger(__name__)

# How many times a transaction is re-planned when another client changed a node between planning
# and committing (rare: there is only one writer, but prefixes can be touched by a stale reader).
_MAX_RACES = 20


class ZooKeeperStore(StateStore):
    """The :class:`StateStore` contract on ZooKeeper (``zk://host:port,.../root``).

    ``session_timeout``: ZooKeeper session timeout asked for (the server clamps it to
    [2, 20] x tickTime); a crashed holder's lock is freed after it. ``connect_timeout``: how long
    opening waits for a first connection. ``operation_timeout``: how long one operation keeps
    retrying through connection loss before :class:`StoreUnavailable`.
    """

    def __init__(self, location, owner=None, session_timeout=10.0, connect_timeout=10.0, operation_timeout=30.0):
        super().__init__(location, owner)
        self._root = location.path
        self._data_root = self._root + "/state"
        self._lock_root = self._root + "/lock"
        self._fence_path = None
        self._call_timeout = operation_timeout
        retry = dict(max_tries=-1, delay=0.05, backoff=2, max_delay=1.0, deadline=operation_timeout)
        self._retry = KazooRetry(**retry)
        kwargs = {}
        auth = location.auth()
        if auth is not None:
            kwargs["auth_data"] = [("digest", f"{auth[0]}:{auth[1]}")]
            kwargs["default_acl"] = [make_digest_acl(auth[0], auth[1], all=True)]
        self._client = KazooClient(
            hosts=",".join(location.hosts),
            timeout=session_timeout,
            connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=2.0),
            command_retry=retry,  # bounds kazoo's internal retries too
            **kwargs,
        )
        self._client.add_listener(self._on_session_state)
        try:
            self._client.start(timeout=connect_timeout)
        except (KazooTimeoutError, KazooException) as exc:
            self._stop_client()
            raise StoreUnavailable(
                f"ZooKeeper for {location} did not answer within {connect_timeout:.0f} s ({type(exc).__name__})"
            ) from None

    # -- plumbing -----------------------------------------------------------------------------
    def _path(self, key):
        return f"{self._data_root}/{key}" if key else self._data_root

    def _call(self, method, *args, **kwargs):
        """One request through kazoo's ``<method>_async`` with a bounded wait: kazoo queues requests
        while it reconnects and would otherwise wait forever. A timeout counts as a retryable
        OperationTimeoutError for :meth:`_run`."""
        pending = getattr(self._client, method + "_async")(*args, **kwargs)
        return self._wait(pending)

    def _wait(self, pending):
        try:
            return pending.get(timeout=self._call_timeout)
        except KazooTimeoutError:
            raise OperationTimeoutError() from None

    def _run(self, func, *args):
        """Run ``func`` with the bounded retry and map kazoo's errors onto the store's."""
        self._require_open()
        try:
            return self._retry.copy()(func, *args)
        except StoreError:
            raise
        except RetryFailedError:
            raise StoreUnavailable(f"ZooKeeper for {self.location} stayed unreachable; operation abandoned") from None
        except NoAuthError:
            raise StoreUnavailable(f"ZooKeeper refused access to {self.location} (check the credentials)") from None
        except ConnectionClosedError:
            raise StoreClosed(f"the store at {self.location} is closed") from None
        except KazooException as exc:
            raise StoreUnavailable(f"ZooKeeper operation on {self.location} failed: {type(exc).__name__}") from None

    def _on_session_state(self, state):
        # Runs on kazoo's connection thread: never block here.
        if self._closed:
            return  # our own close() ends the session
        if state == KazooState.LOST:
            log.warning("ZooKeeper session for %s lost", self.location)
            self._notify_lock_lost()
        elif state == KazooState.SUSPENDED:
            log.warning("ZooKeeper connection for %s suspended; operations retry", self.location)

    # -- reads --------------------------------------------------------------------------------
    def get(self, key):
        validate_key(key)

        def read():
            try:
                data, stat = self._call("get", self._path(key))
            except NoNodeError:
                return None
            return Versioned(data, stat.version) if data else None

        return self._run(read)

    def children(self, prefix=""):
        validate_prefix(prefix)

        def read():
            try:
                return sorted(self._call("get_children", self._path(prefix)))
            except NoNodeError:
                return []

        return self._run(read)

    def scan(self, prefix=""):
        validate_prefix(prefix)
        return self._run(self._scan_once, prefix)

    def _scan_once(self, prefix):
        """Breadth-first walk with pipelined requests: per tree level, one round of reads, then one
        round of child listings for just the nodes that have children."""
        found = {}
        level = [prefix]
        while level:
            parents = []
            for key, pending in [(k, self._client.get_async(self._path(k))) for k in level]:
                try:
                    value, stat = self._wait(pending)
                except NoNodeError:
                    continue
                if value and key:
                    found[key] = Versioned(value, stat.version)
                if stat.numChildren:
                    parents.append(key)
            level = []
            for key, pending in [(k, self._client.get_children_async(self._path(k))) for k in parents]:
                try:
                    names = self._wait(pending)
                except NoNodeError:
                    continue
                level += [f"{key}/{n}" if key else n for n in names]
        return dict(sorted(found.items()))

    # -- writes -------------------------------------------------------------------------------
    def _commit(self, ops):
        sent = False

        def attempt():
            nonlocal sent
            if sent:
                done = self._effect_visible(ops)
                if done is not None:
                    return done
            tx, results = self._plan(ops)
            sent = True
            outcome = self._wait(tx.commit_async())
            failed = [i for i, r in enumerate(outcome) if isinstance(r, Exception) and not isinstance(r, RolledBackError)]
            if not failed:
                return results
            if failed[0] == 0:  # the fence: our lock node is gone
                self._notify_lock_lost()
                raise LockLost(f"the lock of {self.location} was lost; the write was refused (stop this scheduler)")
            sent = False  # a refused multi applied nothing
            return _RACE

        for _ in range(_MAX_RACES):
            result = self._run(attempt)
            if result is not _RACE:
                return result
        raise StoreUnavailable(f"nodes under {self.location} kept changing during a transaction; gave up")

    def _plan(self, ops):
        """Build the ``multi`` for ``ops`` against the current tree; raise VersionConflict early."""
        fence = self._fence_path
        if fence is None:
            raise LockNotHeld(f"writing to {self.location} needs the single-scheduler lock (acquire_lock first)")
        tx = self._client.transaction()
        tx.check(fence, 0)
        view = _View(lambda path: self._call("exists", path), self._data_root)
        # Read every node the plan may look at in one pipelined round instead of one by one.
        paths = {self._data_root}
        for op in ops:
            paths.add(self._path(op.key))
            paths.update(self._path(a) for a in ancestors(op.key))
        view.load({path: self._client.exists_async(path) for path in paths}, self._wait)
        results = []
        for op in ops:
            path = self._path(op.key)
            node = view.node(path)
            current = node.version if node is not None and node.has_value else None
            check_expected(op.key, op.expected_version, current)
            if isinstance(op, Check):
                if node is not None:
                    tx.check(path, node.version)
                results.append(True)
            elif isinstance(op, Put):
                results.append(self._plan_put(tx, view, op, node))
            else:
                results.append(self._plan_delete(tx, view, op, node))
        return tx, results

    def _plan_put(self, tx, view, op, node):
        path = self._path(op.key)
        if node is not None:
            tx.set_data(path, op.value, node.version)
            node.has_value, node.version = True, node.version + 1
            return node.version
        for prefix_path in [self._data_root] + [self._path(a) for a in ancestors(op.key)]:
            if view.node(prefix_path) is None:
                tx.create(prefix_path, b"")
                view.created(prefix_path, has_value=False)
        tx.create(path, op.value)
        view.created(path, has_value=True)
        return 0

    def _plan_delete(self, tx, view, op, node):
        path = self._path(op.key)
        if node is None or not node.has_value:
            return False
        if node.children:  # keep the prefix for the keys below it
            tx.set_data(path, b"", node.version)
            node.has_value, node.version = False, node.version + 1
            return True
        tx.delete(path, node.version)
        view.deleted(path)
        for prefix in reversed(ancestors(op.key)):  # prune prefixes left empty
            prefix_path = self._path(prefix)
            parent = view.node(prefix_path)
            if parent is None or parent.has_value or parent.children:
                break
            tx.delete(prefix_path, parent.version)
            view.deleted(prefix_path)
        return True

    def _effect_visible(self, ops):
        """After a connection loss during commit: the results if the store shows every effect of
        ``ops`` (so the multi was applied), else ``None``."""
        results = []
        for op in ops:
            try:
                data, stat = self._call("get", self._path(op.key))
            except NoNodeError:
                data, stat = b"", None
            if isinstance(op, Put):
                if data != op.value:
                    return None
                results.append(stat.version)
            elif isinstance(op, Delete):
                if data:
                    return None
                results.append(True)
            else:
                results.append(True)
        return results

    # -- lock ---------------------------------------------------------------------------------
    # The classic ZooKeeper lock (as kazoo's and Curator's recipes): every contender creates an
    # ephemeral sequential node "<uuid>__lock__<sequence>" under <root>/lock; the lowest sequence
    # holds the lock, each other contender watches its predecessor. Written here instead of using
    # kazoo's recipe so that every request has a bounded wait.
    def _acquire(self, timeout):
        started = time.monotonic()
        deadline = started + max(timeout, 0.0)
        node = self._run(self._create_lock_node, f"{uuid.uuid4().hex}{_LOCK_MARK}")
        path = f"{self._lock_root}/{node}"
        try:
            while True:
                predecessor = self._run(self._predecessor, node)
                if predecessor is None:
                    break
                gone = threading.Event()
                stat = self._run(self._call, "exists", f"{self._lock_root}/{predecessor}", lambda event: gone.set())
                if stat is None:
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not gone.wait(remaining):
                    raise LockHeld(self.location, self._holder(), time.monotonic() - started)
        except BaseException:
            self._delete_quietly(path)
            raise
        self._fence_path = path
        self._watch_fence(path)

    def _create_lock_node(self, prefix):
        # After a connection loss the create may have happened already: look for our prefix first.
        try:
            for child in self._call("get_children", self._lock_root):
                if child.startswith(prefix):
                    return child
        except NoNodeError:
            pass
        created = self._call("create", f"{self._lock_root}/{prefix}", self.owner.encode(),
                             ephemeral=True, sequence=True, makepath=True)
        return created.rsplit("/", 1)[1]

    def _predecessor(self, node):
        """The contender just before ``node``, or ``None`` if ``node`` holds the lock."""
        ordered = sorted(self._call("get_children", self._lock_root), key=_lock_sequence)
        if node not in ordered:
            raise StoreUnavailable(f"the lock request on {self.location} vanished (ZooKeeper session expired)")
        position = ordered.index(node)
        return ordered[position - 1] if position else None

    def _holder(self):
        try:
            return self.lock_holder()
        except StoreError:
            return None

    def _watch_fence(self, fence):
        """Report the lock lost if our lock node is deleted while we hold it (session expiry is
        reported by the LOST session state)."""

        def on_event(event):
            if fence != self._fence_path:
                return  # released or replaced meanwhile
            if event.type == EventType.DELETED:
                log.warning("lock node of %s disappeared", self.location)
                self._notify_lock_lost()
            else:
                self._client.exists_async(fence, watch=on_event)  # watches fire once: re-arm

        self._run(self._call, "exists", fence, on_event)

    def _delete_quietly(self, path):
        """One bounded attempt; if it fails, the ephemeral node still goes with the session."""
        try:
            if self._client.connected:
                self._call("delete", path)
                return
        except NoNodeError:
            return
        except (KazooException, KazooTimeoutError):
            pass
        log.warning("could not delete the lock node of %s now; it goes when the session ends", self.location)

    def _release(self):
        fence, self._fence_path = self._fence_path, None
        if fence is not None:
            self._delete_quietly(fence)  # close() must not hang on a dead connection

    def lock_holder(self):
        if self.lock_held:
            return self.owner

        def read():
            try:
                nodes = sorted(self._call("get_children", self._lock_root), key=_lock_sequence)
                for node in nodes:
                    return self._call("get", f"{self._lock_root}/{node}")[0].decode(errors="replace")
            except NoNodeError:
                pass  # no lock folder, or the holder went away meanwhile
            return None

        return self._run(read)

    # -- lifecycle ----------------------------------------------------------------------------
    def destroy(self):
        self._require_writable()
        with self._state_lock:
            # Our own lock node goes with the tree: stop treating its removal as a loss.
            self._forget_lock()
            self._fence_path = None

            for _ in range(_MAX_RACES):
                try:
                    self._run(self._delete_tree, self._root)
                    break
                except _Retryable:  # a node appeared meanwhile (a contender's lock node): walk again
                    continue
            self.close()

    def _delete_tree(self, path):
        try:
            for child in self._call("get_children", path):
                self._delete_tree(f"{path}/{child}")
            self._call("delete", path)
        except NoNodeError:
            pass
        except NotEmptyError:
            raise _Retryable() from None

    def close(self):
        with self._state_lock:
            if self._closed:
                return
            try:
                self.release_lock()
            finally:
                self._closed = True
                self._stop_client()

    def _stop_client(self):
        try:
            self._client.stop()
            self._client.close()
        except KazooException:
            log.debug("ignoring an error while stopping the ZooKeeper client", exc_info=True)


class _Retryable(StoreError):
    """Internal: an operation lost a race and should run again."""


_RACE = object()
_LOCK_MARK = "__lock__"


def _lock_sequence(name):
    """Sort key of a lock node: its sequence number (nodes of other shapes sort by name)."""
    return name.rsplit(_LOCK_MARK, 1)[-1]


class _Node:
    __slots__ = ("has_value", "version", "children")

    def __init__(self, has_value, version, children):
        self.has_value, self.version, self.children = has_value, version, children


class _View:
    """The tree as a planned ``multi`` will leave it: znode states read lazily, then updated with
    each planned create/set/delete so later operations of the same transaction see earlier ones."""

    def __init__(self, exists, data_root):
        self._exists = exists
        self._data_root = data_root
        self._nodes = {}

    def load(self, pending, wait):
        """Take in ``{path: pending exists() result}`` read ahead by the caller."""
        for path, result in pending.items():
            self._nodes[path] = _View._node_of(wait(result))

    @staticmethod
    def _node_of(stat):
        return None if stat is None else _Node(stat.dataLength > 0, stat.version, stat.numChildren)

    def node(self, path):
        if path not in self._nodes:
            self._nodes[path] = _View._node_of(self._exists(path))
        return self._nodes[path]

    def created(self, path, has_value):
        self._nodes[path] = _Node(has_value, 0, 0)
        self._adjust_parent(path, +1)

    def deleted(self, path):
        self._nodes[path] = None
        self._adjust_parent(path, -1)

    def _adjust_parent(self, path, delta):
        if path == self._data_root:
            return
        parent = self.node(path.rsplit("/", 1)[0])
        if parent is not None:
            parent.children += delta
