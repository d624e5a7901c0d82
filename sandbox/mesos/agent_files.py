"""The agent's sandbox files as a real agent exposes them: ``GET /files/read`` and ``GET /files/browse``
(what ``dcos task log`` and the Mesos UI use), plus the completed executors that ``/state`` lists.

``/files/read?path=P[&offset=N][&length=L]`` -> ``{"data": text, "offset": N}``; without ``offset`` (or
``offset=-1``) the answer is ``{"data": "", "offset": <file size>}``, as Mesos does. ``/files/browse?path=D``
-> ``[{"path", "size", "mode", "nlink", "uid", "gid", "mtime"}]``. Only files inside an attached
directory (the sandbox of a live or completed executor) can be read: 404 otherwise, 400 on bad query
arguments. Paths are resolved first, so a symlink in a sandbox (e.g. a volume's ``container_path``)
cannot lead out of it.
"""
import collections
import os
import stat

from .httpserver import Response, json_response

MAX_COMPLETED_EXECUTORS = 150      # --max_completed_executors_per_framework default
DEFAULT_LENGTH = 16 * 4096         # Mesos reads 16 pages unless told otherwise
MAX_LENGTH = 16 << 20              # one answer never holds more than this (a client pages on)


class CompletedExecutors:
    """Bounded per-framework history of terminated executors (in memory, like the real agent's)."""

    def __init__(self, limit=MAX_COMPLETED_EXECUTORS):
        self.limit = limit
        self._by_fw = {}           # fid -> deque of executor JSON

    def add(self, ex, tasks):
        if ex.directory is None:   # never got a sandbox (failed before preparation)
            return
        done = list(ex.completed_tasks) + [{"id": tid, "state": tasks[(ex.fid, tid)].state}
                                           for tid in sorted(ex.tasks) if (ex.fid, tid) in tasks]
        entry = {"id": ex.id, "name": (ex.info or {}).get("name", ""), "container": ex.container_id,
                 "directory": ex.directory, "type": ex.kind.upper(), "tasks": [], "queued_tasks": [],
                 "completed_tasks": done}
        self._by_fw.setdefault(ex.fid, collections.deque(maxlen=self.limit)).append(entry)

    def by_framework(self):
        return {fid: list(entries) for fid, entries in self._by_fw.items()}

    def directories(self):
        return [e["directory"] for entries in self._by_fw.values() for e in entries]

    def clear(self):
        self._by_fw.clear()


def attached_directories(agent):
    live = [ex.directory for ex in agent.executors.values() if ex.directory]
    return live + agent.completed_executors.directories()


def resolve(agent, path):
    """The real path of ``path`` if it lies inside an attached directory, else None."""
    if not path or "\x00" in path or not path.startswith("/"):
        return None
    real = os.path.realpath(path)
    for directory in attached_directories(agent):
        base = os.path.realpath(directory)
        if real == base or real.startswith(base + os.sep):
            return real
    return None


def _int_arg(query, name, default):
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"Failed to parse {name}: '{raw}' is not a number") from None


def _read(agent, query):
    path = query.get("path")
    if not path:
        return Response(400, b"Expecting 'path=value' in query.\n")
    try:
        offset = _int_arg(query, "offset", -1)
        length = _int_arg(query, "length", DEFAULT_LENGTH)
    except ValueError as exc:
        return Response(400, f"{exc}\n".encode())
    if offset < -1 or length < 0:
        return Response(400, b"Negative offset or length provided\n")
    real = resolve(agent, path)
    if real is None or not os.path.isfile(real):
        return Response(404, b"")
    size = os.path.getsize(real)
    if offset == -1:
        return json_response({"data": "", "offset": size})
    with open(real, "rb") as fh:
        fh.seek(min(offset, size))
        data = fh.read(min(length, MAX_LENGTH))
    return json_response({"data": data.decode("utf-8", errors="replace"), "offset": offset})


def _browse(agent, query):
    path = query.get("path")
    if not path:
        return Response(400, b"Expecting 'path=value' in query.\n")
    real = resolve(agent, path)
    if real is None or not os.path.isdir(real):
        return Response(404, b"")
    out = []
    for name in sorted(os.listdir(real)):
        try:
            st = os.lstat(os.path.join(real, name))
        except FileNotFoundError:
            continue
        out.append({"path": os.path.join(path.rstrip("/"), name), "size": st.st_size,
                    "mode": stat.filemode(st.st_mode), "nlink": st.st_nlink, "uid": str(st.st_uid),
                    "gid": str(st.st_gid), "mtime": int(st.st_mtime)})
    return json_response(out)


async def handle(agent, request, path):
    if request.method not in ("GET", "HEAD"):
        return Response(405, b"")
    if path in ("/files/read", "/files/read.json"):
        return _read(agent, request.query)
    if path in ("/files/browse", "/files/browse.json"):
        return _browse(agent, request.query)
    return Response(404, b"")
