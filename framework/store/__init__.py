"""State stores: where the scheduler persists every decision before acting on it.

One contract (:class:`StateStore`, see :mod:`.base` for the guarantees), two implementations:
ZooKeeper (DC/OS; ``zk://master.mesos:2181/dcos-service-<name>``) and SQLite (sandbox,
single machine; ``sqlite:///path/file.db``). Typical use::

    store = open_store(options_store_url, owner="scheduler pid 42 on agent-1")
    store.acquire_lock(timeout=30, on_lost=stop_scheduler)   # LockHeld if another scheduler runs
    framework_id = store.get_json("framework_id")
    store.transaction([Put.json("plan/deploy", snapshot), Put.json("framework_id", fid)])
"""
from .base import (
    ABSENT,
    MAX_TRANSACTION_BYTES,
    MAX_VALUE_BYTES,
    Check,
    Delete,
    Put,
    StateStore,
    Versioned,
    encode_json,
)
from .errors import (
    InvalidKey,
    InvalidServiceName,
    InvalidStoreUrl,
    InvalidValue,
    LockError,
    LockHeld,
    LockLost,
    LockNotHeld,
    StoreClosed,
    StoreError,
    StoreUnavailable,
    ValueTooLarge,
    VersionConflict,
)
from .keys import join_key, key_segment, segment_text, validate_key
from .location import (
    DEFAULT_ZK_HOSTS,
    StoreLocation,
    parse_store_url,
    service_root_path,
    validate_service_name,
    zookeeper_url,
)


def open_store(url, owner=None, **options):
    """Open the store a URL names (``str`` or :class:`StoreLocation`).

    ``owner`` describes this process in lock-held messages (default: pid and host name). Extra
    keyword options go to the implementation: ``session_timeout``, ``connect_timeout``,
    ``operation_timeout`` (seconds) for ZooKeeper; ``busy_timeout`` for SQLite.
    Raises :class:`InvalidStoreUrl` or :class:`StoreUnavailable`.
    """
    location = parse_store_url(url)
    if location.scheme == "zk":
        from .zookeeper import ZooKeeperStore

        return ZooKeeperStore(location, owner=owner, **options)
    from .sqlite import SqliteStore

    return SqliteStore(location, owner=owner, **options)


__all__ = [
    "ABSENT", "MAX_TRANSACTION_BYTES", "MAX_VALUE_BYTES", "Check", "Delete", "Put", "StateStore", "Versioned",
    "encode_json", "InvalidKey", "InvalidServiceName", "InvalidStoreUrl", "InvalidValue", "LockError", "LockHeld",
    "LockLost", "LockNotHeld", "StoreClosed", "StoreError", "StoreUnavailable", "ValueTooLarge", "VersionConflict",
    "join_key", "key_segment", "segment_text", "validate_key", "DEFAULT_ZK_HOSTS", "StoreLocation",
    "parse_store_url", "service_root_path", "validate_service_name", "zookeeper_url", "open_store",
]
