"""Typed errors of the state store.

Every message names the store by its *redacted* location (credentials removed) and never carries a
stored value, so errors can be logged and shown to operators as they are.
"""


class StoreError(Exception):
    """Base class of every error raised by a state store."""


class InvalidStoreUrl(StoreError, ValueError):
    """The store URL (``zk://...`` or ``sqlite:///...``) is malformed or unsupported."""


class InvalidServiceName(StoreError, ValueError):
    """A DC/OS service name does not follow Marathon's app id rules."""


class InvalidKey(StoreError, ValueError):
    """A key (or a transaction's list of keys) breaks the key rules (see ``keys.validate_key``)."""


class InvalidValue(StoreError, ValueError):
    """A value is not a non-empty ``bytes`` object (or not JSON-serialisable for the JSON helpers)."""


class ValueTooLarge(InvalidValue):
    """A value or a whole transaction exceeds the size limits every implementation enforces
    (ZooKeeper refuses requests above ~1 MiB, so SQLite refuses the same sizes to behave alike)."""


class StoreUnavailable(StoreError):
    """The backing service or file could not be used within the configured time (ZooKeeper
    unreachable or its session unusable, SQLite file unreadable or locked past the busy timeout).
    The operation may be retried later; for writes, nothing is known to have been applied unless a
    later read shows it."""


class StoreClosed(StoreError):
    """The store was closed (or destroyed) and cannot be used any more."""


class VersionConflict(StoreError):
    """A compare-and-set expectation did not hold; nothing of the operation or transaction was applied.

    Attributes: ``key``, ``expected`` (int version or ``ABSENT``), ``actual`` (int version, or
    ``None`` when the key does not exist).
    """

    def __init__(self, key, expected, actual):
        self.key = key
        self.expected = expected
        self.actual = actual
        want = "absent" if expected == -1 else f"version {expected}"
        have = "absent" if actual is None else f"version {actual}"
        super().__init__(f"version conflict on key {key!r}: expected {want}, found {have}")


class LockError(StoreError):
    """Base class of the single-scheduler lock errors."""


class LockHeld(LockError):
    """Another owner (another scheduler for the same service) holds the lock.

    Attribute ``holder``: the other owner's self-description (``None`` if it could not be read).
    """

    def __init__(self, location, holder, waited):
        self.holder = holder
        who = holder if holder else "an unidentified owner"
        super().__init__(
            f"another scheduler already runs for this service: the lock of {location} is held by "
            f"{who} (waited {waited:.1f} s); only one scheduler per service name may run"
        )


class LockNotHeld(LockError):
    """A write was attempted by a store instance that does not hold the lock."""


class LockLost(LockError):
    """The lock was held but has been lost (ZooKeeper session expired, lock node removed); writes are
    refused from then on. The scheduler must stop: another one may already be running."""
