"""Key rules shared by every store implementation.

A key is a relative, ``/``-separated path such as ``framework_id``, ``plan/deploy``, ``agents/<id>``
or ``devices/<node>/<dev>``. Segments use a conservative character set that is valid as a
ZooKeeper node name and sorts the same everywhere; arbitrary text (a device path like ``/dev/sdb``,
a host name) becomes a segment through :func:`key_segment`.
"""
import re
from urllib.parse import quote, unquote

from .errors import InvalidKey

#: Characters allowed in one key segment. ``%`` is there so that :func:`key_segment` can escape.
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9._:@%+=-]{1,200}")
MAX_KEY_LENGTH = 512
MAX_KEY_DEPTH = 16


def validate_key(key):
    """Return ``key`` unchanged if it follows the rules, else raise :class:`InvalidKey`.

    Rules: a non-empty ``str`` of at most ``MAX_KEY_LENGTH`` characters and ``MAX_KEY_DEPTH``
    segments; no leading, trailing or doubled ``/``; each segment matches ``SEGMENT_PATTERN`` and is
    neither ``.`` nor ``..``.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"a key must be a non-empty string, got {type(key).__name__}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"key longer than {MAX_KEY_LENGTH} characters: {key[:40]!r}...")
    segments = key.split("/")
    if len(segments) > MAX_KEY_DEPTH:
        raise InvalidKey(f"key deeper than {MAX_KEY_DEPTH} segments: {key!r}")
    for segment in segments:
        if segment in (".", "..") or not SEGMENT_PATTERN.fullmatch(segment):
            raise InvalidKey(
                f"invalid key {key!r}: segments must match {SEGMENT_PATTERN.pattern} and not be '.' or '..' "
                "(use key_segment() to escape arbitrary text)"
            )
    return key


def validate_prefix(prefix):
    """Like :func:`validate_key`, but the empty string (the whole key space) is allowed too."""
    if prefix == "":
        return prefix
    return validate_key(prefix)


def key_segment(text):
    """Escape arbitrary text into one valid key segment (reversible with :func:`segment_text`).

    ``key_segment("/dev/sdb") == "%2Fdev%2Fsdb"``; text that is already a valid segment other than
    ``.``/``..`` and without ``%`` comes back unchanged.
    """
    if not isinstance(text, str) or not text:
        raise InvalidKey("a key segment needs non-empty text")
    # quote() keeps "~" (unreserved in RFC 3986) but "~" is not a segment character here.
    escaped = quote(text, safe=":@+=-_").replace("~", "%7E")
    # quote() leaves "." alone; "." and ".." are not valid segments, so escape those two whole.
    if escaped in (".", ".."):
        escaped = escaped.replace(".", "%2E")
    if not SEGMENT_PATTERN.fullmatch(escaped):
        raise InvalidKey(f"text too long for one key segment ({len(escaped)} characters escaped)")
    return escaped


def segment_text(segment):
    """Inverse of :func:`key_segment`."""
    return unquote(segment)


def join_key(*segments):
    """Join already-valid segments (or sub-keys) with ``/`` and validate the result."""
    return validate_key("/".join(segments))


def ancestors(key):
    """The proper prefixes of ``key``, shortest first: ``ancestors("a/b/c") == ["a", "a/b"]``."""
    parts = key.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
