"""A separate process that uses a state store, driven by line commands on stdin (for the tests).

argv: URL OWNER SESSION_TIMEOUT. Prints ``ready`` once the store is open, then per command:

* ``lock TIMEOUT``    -> ``locked`` | ``error <ErrorClass>``; later ``lost`` if the lock is lost
* ``put KEY VALUE``   -> ``ok <version>`` | ``error <ErrorClass>``
* ``churn SIZE``      -> forever: one transaction setting ``churn/0..2`` to the same counter value
                         padded to SIZE bytes, then ``committed <n>`` (until killed)
"""
import sys

from dcos_scaleio.framework.store import Put, StoreError, open_store


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def churn(store, size):
    n = 0
    while True:
        n += 1
        value = str(n).encode().ljust(size, b".")
        store.transaction([Put(f"churn/{i}", value) for i in range(3)])
        say(f"committed {n}")


def main():
    url, owner, session_timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    options = {"session_timeout": session_timeout, "connect_timeout": 15.0} if url.startswith("zk://") else {}
    store = open_store(url, owner=owner, **options)
    say("ready")
    for line in sys.stdin:
        command, *args = line.split()
        try:
            if command == "lock":
                store.acquire_lock(float(args[0]), on_lost=lambda: say("lost"))
                say("locked")
            elif command == "put":
                say(f"ok {store.put(args[0], args[1].encode())}")
            elif command == "churn":
                churn(store, int(args[0]))
        except StoreError as exc:
            say(f"error {type(exc).__name__}")
    store.close()


if __name__ == "__main__":
    main()
