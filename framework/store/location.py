"""Where a store lives: service names, the SDK's ZooKeeper root convention, and store URLs.

Options describe the store as a URL-like string:

* ``zk://[user:password@]host[:port][,host[:port]...]/znode/path`` -- ZooKeeper; the path is the
  service's root node, by convention ``/dcos-service-<name>`` (see :func:`service_root_path`).
  The port defaults to 2181. Credentials, if given, are used as a ZooKeeper digest identity.
* ``sqlite:///absolute/path/to/file.db`` -- an SQLite file (single machine, the sandbox).

A :class:`StoreLocation` prints itself with credentials replaced by ``***``; only
:meth:`StoreLocation.auth` exposes them, for the ZooKeeper client itself.
"""
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from .errors import InvalidServiceName, InvalidStoreUrl

DEFAULT_ZK_HOSTS = "master.mesos:2181"
DEFAULT_ZK_PORT = 2181

# One Marathon path segment (app id rules): lowercase letters, digits, hyphens and dots, starting and
# ending with a letter or digit around each dot.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_SERVICE_SEGMENT = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_ZNODE_SEGMENT = re.compile(r"[A-Za-z0-9._:@%+=-]{1,200}")


def validate_service_name(name):
    """Return the canonical service name (no leading ``/``) or raise :class:`InvalidServiceName`.

    Foldered names are allowed: ``/team/scaleio`` and ``team/scaleio`` both give ``team/scaleio``.
    Each folder segment follows Marathon's app id rules (lowercase letters, digits, ``-`` and ``.``).
    """
    if not isinstance(name, str) or not name.strip("/"):
        raise InvalidServiceName("a service name must be a non-empty string")
    canonical = name[1:] if name.startswith("/") else name
    if len(canonical) > 200:
        raise InvalidServiceName("service name longer than 200 characters")
    for segment in canonical.split("/"):
        if not _SERVICE_SEGMENT.fullmatch(segment):
            raise InvalidServiceName(
                f"invalid service name {name!r}: each '/'-separated part must be lowercase letters, "
                "digits, '-' and '.', starting and ending with a letter or digit"
            )
    return canonical


def service_root_path(name):
    """The ZooKeeper root node of a service, as the DC/OS SDK names it.

    ``service_root_path("scaleio") == "/dcos-service-scaleio"`` and, for a foldered name,
    ``service_root_path("/a/b") == "/dcos-service-a__b"``.
    """
    return "/dcos-service-" + validate_service_name(name).replace("/", "__")


def zookeeper_url(name, hosts=DEFAULT_ZK_HOSTS):
    """The default store URL of a service on DC/OS: ``zk://master.mesos:2181/dcos-service-<name>``."""
    return f"zk://{hosts}{service_root_path(name)}"


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store URL. ``str()`` and ``repr()`` never show the password."""

    scheme: str  # "zk" or "sqlite"
    path: str  # znode path or absolute file path
    hosts: tuple = ()  # ("host:port", ...) for ZooKeeper
    username: str = None
    password: str = field(default=None, repr=False)

    def __str__(self):
        if self.scheme == "sqlite":
            return f"sqlite://{self.path}"
        creds = f"{self.username}:***@" if self.username is not None else ""
        return f"zk://{creds}{','.join(self.hosts)}{self.path}"

    def auth(self):
        """``(username, password)`` for the ZooKeeper digest scheme, or ``None``."""
        if self.username is None:
            return None
        return self.username, self.password


def parse_store_url(url):
    """Parse a store URL into a :class:`StoreLocation`; raise :class:`InvalidStoreUrl` if malformed.

    Error messages quote the URL with any credentials removed.
    """
    if isinstance(url, StoreLocation):
        return url
    if not isinstance(url, str) or "://" not in url:
        raise InvalidStoreUrl("a store URL looks like zk://host:port/dcos-service-<name> or sqlite:///path/file.db")
    scheme, rest = url.split("://", 1)
    if "?" in rest or "#" in rest:
        raise InvalidStoreUrl(f"store URLs take no query or fragment: {_redact(url)}")
    if scheme == "sqlite":
        return _parse_sqlite(url, rest)
    if scheme == "zk":
        return _parse_zk(url, rest)
    raise InvalidStoreUrl(f"unsupported store scheme {scheme!r}: use zk:// or sqlite:///")


def _parse_sqlite(url, rest):
    if not rest.startswith("/") or rest.startswith("//"):
        raise InvalidStoreUrl(f"an SQLite store URL needs an absolute path, like sqlite:///var/lib/x.db: {url}")
    if rest.endswith("/") or "\x00" in rest:
        raise InvalidStoreUrl(f"an SQLite store URL must name a file: {url}")
    return StoreLocation(scheme="sqlite", path=unquote(rest))


def _parse_zk(url, rest):
    slash = rest.find("/")
    if slash < 0:
        raise InvalidStoreUrl(f"a ZooKeeper store URL needs a root path, like zk://host:2181/dcos-service-<name>: {_redact(url)}")
    netloc, path = rest[:slash], rest[slash:]
    username = password = None
    if "@" in netloc:
        creds, netloc = netloc.rsplit("@", 1)
        username, sep, password = creds.partition(":")
        if not sep or not username:
            raise InvalidStoreUrl(f"ZooKeeper credentials must be user:password: {_redact(url)}")
        username, password = unquote(username), unquote(password)
    hosts = tuple(_parse_host(h, url) for h in netloc.split(","))
    segments = path.split("/")[1:]
    if not segments or any(s in (".", "..") or not _ZNODE_SEGMENT.fullmatch(s) for s in segments):
        raise InvalidStoreUrl(f"invalid ZooKeeper root path {path!r} in {_redact(url)}")
    if segments[0] == "zookeeper":
        raise InvalidStoreUrl("the /zookeeper subtree is reserved by ZooKeeper")
    return StoreLocation(scheme="zk", path=path, hosts=hosts, username=username, password=password)


def _parse_host(text, url):
    host, sep, port = text.rpartition(":") if ":" in text else (text, "", str(DEFAULT_ZK_PORT))
    if not _HOST.fullmatch(host or "") or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidStoreUrl(f"invalid ZooKeeper host {text!r} in {_redact(url)}")
    return f"{host}:{int(port)}"


def _redact(url):
    """The URL with everything up to the last ``@`` (possible credentials) replaced: over-redacting a
    path that contains ``@`` is better than leaking a password that contains ``/``."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"
