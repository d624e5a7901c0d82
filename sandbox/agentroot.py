"""Isolated agent roots: each emulated agent is a host of its own.

An :class:`AgentRoot` is a private, copy-on-write view of the machine's whole root filesystem plus a
hostname of its own. Programs run inside it see ``/etc``, ``/usr``, ``/opt``, ``/var/lib`` ... at their
real paths, and every write lands in the agent's *upper* directory, never on the machine.

How it works (see ../shared/reference/isolated-agent-root.md for the checked recipe):

- One long-lived *holder* process per agent owns a private mount + UTS namespace
  (``unshare --mount --uts`` exec'ing this very file in holder mode). Overlayfs refuses to use one
  upper dir in two mounts, so all processes of the agent share the holder's namespace instead of
  each building its own.
- The holder makes every mount private (inside the new namespace only: it checks first that its
  namespace differs from its parent's), mounts ``overlay lowerdir=/,upperdir=upper,workdir=work`` on
  ``merged``, rbinds ``/proc``, ``/dev``, ``/sys``, mounts tmpfs on ``/run`` and ``/tmp`` (runtime
  state, lost on reboot), binds the shared directories at their own paths, sets the hostname,
  chroots into ``merged`` and waits.
- :meth:`AgentRoot.popen` joins it with ``nsenter --target <holder> --mount --uts --root --wd`` in a
  new session.
- The agent's processes are found by comparing ``/proc/<pid>/ns/mnt`` with the namespace recorded at
  start, so they can be killed even after the holder itself was SIGKILLed. The namespace and all its
  mounts disappear with its last process.
- The holder also watches a pipe whose write end only the owning process holds: if the owner dies,
  the holder kills the agent's processes and exits, so no agent outlives the emulator that made it.
"""
from __future__ import annotations

import json
import os
import pathlib
import select
import shutil
import signal
import stat
import subprocess
import sys
import time

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
_NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
_MOUNT = shutil.which("mount") or "/usr/bin/mount"
_START_TIMEOUT = 20.0
_KILL_TIMEOUT = 10.0
# Mount points the holder creates over the overlay. /run and /tmp are runtime state (tmpfs).
_RBINDS = ("/proc", "/dev", "/sys")
_TMPFS = (("/run", "0755"), ("/tmp", "1777"))


def default_env() -> dict:
    """The clean minimal environment programs inside an agent get unless the caller passes one."""
    return {"PATH": DEFAULT_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}


def _validate_abs_path(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise ValueError(f"not an absolute path: {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path must not contain '..': {path!r}")
    return "/" + "/".join(parts)


def _mnt_ns(pid) -> str | None:
    """The mount namespace identity of a process ("mnt:[4026...]"), or None if it is gone/a zombie."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def pids_in_namespace(ns: str, exclude=()) -> list[int]:
    """Every live process whose mount namespace is ``ns``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in exclude:
            continue
        if _mnt_ns(pid) == ns:
            found.append(pid)
    return found


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _kill_namespace(ns: str, exclude=(), timeout=_KILL_TIMEOUT, verify=None) -> None:
    """SIGKILL every process of a namespace until none is left (new forks are caught by re-scanning).
    ``verify(ns)`` is asked before each round: a namespace id is recycled once its namespace dies, and
    another agent's namespace must never be hit."""
    deadline = time.monotonic() + timeout
    while True:
        pids = pids_in_namespace(ns, exclude)
        if not pids or (verify is not None and not verify(ns)):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} of namespace {ns} survive SIGKILL")
        for pid in pids:
            _kill(pid, signal.SIGKILL)
        time.sleep(0.01)


class AgentRoot:
    """An isolated host: a private copy-on-write root filesystem, hostname and process set.

    Directories live under ``<state_dir>/<name>/`` (``upper/``, ``work/``, ``merged/``). ``shared_dirs``
    are absolute host directories bind-mounted at the same path inside the agent, so writes are seen
    on both sides. Not thread-safe: one owner drives start/stop/reboot; popen/run/pids may be called
    from any thread while the agent is up.
    """

    def __init__(self, state_dir, name: str, *, hostname: str | None = None, shared_dirs=()):
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"bad agent name: {name!r}")
        self.name = name
        self.hostname = hostname or name
        if len(self.hostname.encode()) > 64:
            raise ValueError(f"hostname too long: {self.hostname!r}")
        self.dir = pathlib.Path(state_dir).resolve() / name
        self.upper = self.dir / "upper"
        self.work = self.dir / "work"
        self.merged = self.dir / "merged"
        self.shared_dirs = tuple(_validate_abs_path(str(d)) for d in shared_dirs)
        self._holder: subprocess.Popen | None = None
        self._ns: str | None = None
        self._watch_w: int | None = None

    # ------------------------------------------------------------------ files from outside
    def path(self, agent_path: str, *, follow: bool = True) -> pathlib.Path:
        """A host path through which ``agent_path`` can be read or written from outside the agent.

        While the agent runs this goes through the agent's own mount (``/proc/<holder>/root/...``),
        because overlayfs does not see changes made behind its back in the upper dir; while it is
        stopped it is the path in the upper dir. Symlinks are resolved as the agent sees them (upper
        over lower), so e.g. ``/lib/...`` lands in ``usr/lib`` on a merged-/usr machine instead of
        shadowing the ``/lib`` symlink, and an absolute symlink never leads to the machine's own file.
        Compute it right before use: it changes across start/stop. ``follow=False`` leaves a symlink
        in the last component alone (to replace or remove the link itself).
        """
        resolved = (self.resolve(agent_path) if follow else self.resolve_parents(agent_path)).lstrip("/")
        holder = self._live_holder()
        base = pathlib.Path(f"/proc/{holder.pid}/root") if holder else self.upper
        return base / resolved if resolved else base

    def write_bytes(self, agent_path: str, data: bytes, mode: int | None = None, *,
                    follow: bool = True) -> pathlib.Path:
        """Write a file into the agent (parents created), optionally chmod it. Returns the host path.
        With ``follow=False`` a symlink at ``agent_path`` is replaced by the file instead of written through."""
        target = self.path(agent_path, follow=follow)
        if not follow and target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if mode is not None:
            os.chmod(target, mode)
        return target

    def write_text(self, agent_path: str, text: str, mode: int | None = None, *,
                   follow: bool = True) -> pathlib.Path:
        return self.write_bytes(agent_path, text.encode(), mode, follow=follow)

    def remove(self, agent_path: str) -> None:
        """Make a file or directory tree disappear from the agent's view (never from the machine).
        Like ``rm -rf``: a symlink is removed itself, not its target."""
        target = self.path(agent_path, follow=False)
        if self.running:
            _rm_tree(target)
            return
        resolved = self.resolve_parents(agent_path)
        _rm_tree(target)
        if os.path.lexists(resolved):  # present in the lower layer: hide it with a whiteout
            target.parent.mkdir(parents=True, exist_ok=True)
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def make_empty_dir(self, agent_path: str) -> None:
        """Make ``agent_path`` an empty directory in the agent, hiding whatever the machine has there
        (an overlay *opaque* directory): e.g. a fresh host's /etc/systemd/system."""
        target = self.path(agent_path)
        _rm_tree(target)
        if self.running:
            target.mkdir(parents=True)  # overlay marks a directory created over a whiteout opaque
            return
        target.mkdir(parents=True)
        os.setxattr(target, "trusted.overlay.opaque", b"y", follow_symlinks=False)

    def resolve(self, agent_path: str) -> str:
        """The in-agent path with every symlink (parents and the last component) resolved."""
        resolved = self.resolve_parents(agent_path)
        for _ in range(40):
            link = self._overlay_readlink(resolved)
            if link is None:
                return resolved
            base = "/" if link.startswith("/") else resolved.rsplit("/", 1)[0] + "/"
            resolved = self.resolve_parents(_normalize(base + link))
        raise ValueError(f"too many symlinks resolving {agent_path!r}")

    def resolve_parents(self, agent_path: str) -> str:
        """The in-agent path with every symlink among its parent directories resolved (overlay view)."""
        parts = _validate_abs_path(agent_path).split("/")[1:]
        if parts == [""]:
            return "/"
        done: list[str] = []
        pending = parts[:-1]
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join(done + [part])
            link = self._overlay_readlink(candidate)
            if link is None:
                done.append(part)
                continue
            hops += 1
            if hops > 40:
                raise ValueError(f"too many symlinks resolving {agent_path!r}")
            if link.startswith("/"):
                done = []
            pending = [p for p in link.split("/") if p] + pending
        return "/" + "/".join(done + [parts[-1]])

    def _overlay_readlink(self, agent_path: str) -> str | None:
        """The target if ``agent_path`` (whose parents are already resolved) is a symlink in the agent's
        view. While running, ask the agent's own mounts (this also covers its tmpfs and shared dirs);
        while stopped, apply overlay rules by hand: upper wins over lower."""
        holder = self._live_holder()
        if holder:
            candidates = [pathlib.Path(f"/proc/{holder.pid}/root") / agent_path.lstrip("/")]
        else:
            candidates = [self.upper / agent_path.lstrip("/"), pathlib.Path(agent_path)]
        for candidate in candidates:
            try:
                st = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            return os.readlink(candidate) if stat.S_ISLNK(st.st_mode) else None
        return None

    def read_text(self, agent_path: str) -> str | None:
        """The file as the agent sees it (upper overrides lower), or None if it does not exist."""
        if self.running:
            target = self.path(agent_path)
        else:
            target = self._offline_lookup(self.resolve(agent_path))
        if target is None:
            return None
        try:
            return target.read_text(errors="replace")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def _offline_lookup(self, agent_path: str) -> pathlib.Path | None:
        """Resolve a path with overlay rules (whiteouts, opaque dirs) while the agent is down."""
        parts = [p for p in agent_path.split("/") if p]
        lower_visible = True
        cur = self.upper
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                break
            if _is_whiteout(st):
                return None
            if i < len(parts) - 1 and _is_opaque(cur):
                lower_visible = False
        else:
            return cur
        if not lower_visible:
            return None
        return pathlib.Path(agent_path)

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._live_holder() is not None

    @property
    def holder_pid(self) -> int | None:
        holder = self._live_holder()
        return holder.pid if holder else None

    def _live_holder(self) -> subprocess.Popen | None:
        # One read of the attribute: another thread may be stopping the agent meanwhile.
        holder = self._holder
        return holder if holder is not None and holder.poll() is None else None

    def start(self) -> None:
        """Start the holder (idempotent). Raises RuntimeError if the namespace cannot be set up."""
        if self.running:
            return
        self._cleanup_stale()
        for d in (self.upper, self.work, self.merged):
            d.mkdir(parents=True, exist_ok=True)
        for d in self.shared_dirs:
            os.makedirs(d, exist_ok=True)
        config = {
            "upper": str(self.upper), "work": str(self.work), "merged": str(self.merged),
            "hostname": self.hostname, "shared_dirs": list(self.shared_dirs),
        }
        watch_r, watch_w = os.pipe()  # non-inheritable; only the holder gets the read end
        log = open(self.dir / "holder.log", "ab")
        try:
            holder = subprocess.Popen(
                [_UNSHARE, "--mount", "--uts", "--propagation", "private", "--",
                 sys.executable, "-I", os.path.abspath(__file__), "holder", str(watch_r), json.dumps(config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                pass_fds=(watch_r,), start_new_session=True, env={"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"})
        finally:
            os.close(watch_r)
            log.close()
        try:
            self._await_ready(holder)
        except BaseException:
            os.close(watch_w)
            _kill(holder.pid, signal.SIGKILL)
            holder.wait()
            holder.stdout.close()
            raise
        holder.stdout.close()
        self._holder = holder
        self._watch_w = watch_w
        self._ns = _mnt_ns(holder.pid)
        (self.dir / "holder.json").write_text(json.dumps({"pid": holder.pid, "ns": self._ns}))

    def _await_ready(self, holder: subprocess.Popen) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"agent {self.name}: holder not ready within {_START_TIMEOUT}s")
            ready, _, _ = select.select([holder.stdout], [], [], left)
            if ready:
                chunk = os.read(holder.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        if buf.strip() != b"READY":
            holder.wait(timeout=5)
            raise RuntimeError(f"agent {self.name}: holder failed (exit {holder.returncode}): "
                               f"{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return (self.dir / "holder.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _cleanup_stale(self) -> None:
        """Kill what a previous owner of this agent dir left running (crashed owner, SIGKILLed holder)."""
        stale = self.dir / "holder.json"
        try:
            info = json.loads(stale.read_text())
        except (OSError, ValueError):
            return
        ns = info.get("ns")
        if ns and ns != _mnt_ns(os.getpid()):
            _kill_namespace(ns, verify=self._namespace_is_ours)
        stale.unlink(missing_ok=True)

    def _namespace_is_ours(self, ns: str) -> bool:
        """Namespace ids are recycled once a namespace dies: only treat ``ns`` as this agent's if its
        mount table still holds this agent's overlay (so another agent is never killed by mistake)."""
        marker = f"upperdir={self.upper},"
        for pid in pids_in_namespace(ns):
            # Any process will do, but one chrooted below the overlay's root does not list it.
            try:
                with open(f"/proc/{pid}/mountinfo") as f:
                    if any(marker in line for line in f):
                        return True
            except OSError:
                continue
        return False

    def pids(self) -> list[int]:
        """Pids of every process inside the agent (not the holder)."""
        ns, holder = self._ns, self._holder
        if ns is None:
            return []
        pids = pids_in_namespace(ns, (holder.pid,) if holder is not None else ())
        if pids and (holder is None or holder.poll() is not None) and not self._namespace_is_ours(ns):
            return []  # our namespace died with the holder and its id now names someone else's
        return pids

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to every process inside the agent except the holder. With SIGKILL, wait until
        they are all gone (re-scanning, so children forked meanwhile die too)."""
        ns, holder = self._ns, self._holder
        if ns is None:
            return
        exclude = (holder.pid,) if holder is not None else ()
        if sig == signal.SIGKILL:
            _kill_namespace(ns, exclude, verify=self._namespace_is_ours)
        else:
            for pid in self.pids():
                _kill(pid, sig)

    def stop(self) -> None:
        """Everything inside dies; the namespace and its mounts disappear. The upper dir is kept."""
        if self._ns is not None:
            _kill_namespace(self._ns, exclude=(self._holder.pid,) if self._holder else (),
                            verify=self._namespace_is_ours)
        if self._holder is not None:
            _kill(self._holder.pid, signal.SIGKILL)
            self._holder.wait()
            self._holder = None
        if self._ns is not None:
            # Anything forked between the two scans. Once the holder is gone the namespace id may be
            # recycled, hence the check that it still holds our overlay.
            _kill_namespace(self._ns, verify=self._namespace_is_ours)
        if self._watch_w is not None:
            os.close(self._watch_w)
            self._watch_w = None
        self._ns = None
        (self.dir / "holder.json").unlink(missing_ok=True)

    def reboot(self) -> None:
        """Everything dies (holder included), runtime tmpfs (/run, /tmp) is lost, then start() again."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        """stop() and remove ``<state_dir>/<name>``."""
        self.stop()
        self._cleanup_stale()
        if self.dir.exists():
            shutil.rmtree(self.dir)

    # ------------------------------------------------------------------ running programs inside
    def popen(self, argv, *, cwd=None, env=None, stdin=None, stdout=None, stderr=None) -> subprocess.Popen:
        """Run argv inside the agent (its namespaces and root), in its own session."""
        holder = self._live_holder()
        if holder is None:
            raise RuntimeError(f"agent {self.name} is not running")
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("empty argv")
        pid = holder.pid
        wd = "--wd" if cwd is None else f"--wd=/proc/{pid}/root/{_validate_abs_path(str(cwd)).lstrip('/')}"
        env = default_env() if env is None else dict(env)
        env.setdefault("PATH", DEFAULT_PATH)
        return subprocess.Popen(
            [_NSENTER, f"--target={pid}", "--mount", "--uts", "--root", wd, "--", *argv],
            stdin=stdin, stdout=stdout, stderr=stderr, env=env, start_new_session=True)

    def run(self, argv, *, timeout=60, env=None, cwd=None, input=None) -> subprocess.CompletedProcess:
        """popen + communicate with text output captured; on timeout the process group is killed."""
        proc = self.popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(input.encode() if isinstance(input, str) else input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args[proc.args.index("--") + 1:], proc.returncode,
                                           out.decode(errors="replace"), err.decode(errors="replace"))

    def __repr__(self):
        return f"AgentRoot({str(self.dir)!r}, running={self.running})"


def _normalize(path: str) -> str:
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return "/" + "/".join(out)


def _rm_tree(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


# ---------------------------------------------------------------------- holder (runs in the new namespace)
def _holder_main(watch_fd: int, config: dict) -> int:
    """Set up the agent's mounts inside this (fresh) namespace, chroot, print READY, then wait."""
    own = _mnt_ns("self")
    parent = _mnt_ns(os.getppid())
    if own is None or own == parent:
        # Never touch mounts in the machine's namespace.
        print("holder: not in a private mount namespace; refusing to mount", file=sys.stderr)
        return 3
    merged = config["merged"]

    def mount(*args):
        subprocess.run([_MOUNT, *args], check=True, stdin=subprocess.DEVNULL)

    mount("--make-rprivate", "/")
    overlay_opts = f"lowerdir=/,upperdir={config['upper']},workdir={config['work']}"
    deadline = time.monotonic() + 10
    while True:
        # The previous incarnation's overlay may still be tearing down (upperdir "in use"): retry.
        res = subprocess.run([_MOUNT, "-t", "overlay", "overlay", "-o", overlay_opts, merged],
                             stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if res.returncode == 0:
            break
        if time.monotonic() > deadline:
            print(f"holder: overlay mount failed: {res.stderr.strip()}", file=sys.stderr)
            return 4
        time.sleep(0.05)
    for d in _RBINDS:
        mount("--rbind", d, merged + d)
    for d, mode in _TMPFS:
        os.makedirs(merged + d, exist_ok=True)
        mount("-t", "tmpfs", "-o", f"mode={mode}", "tmpfs", merged + d)
    for d in sorted(config["shared_dirs"], key=len):
        os.makedirs(merged + d, exist_ok=True)
        mount("--bind", d, merged + d)
    import socket
    socket.sethostname(config["hostname"])
    os.chroot(merged)
    os.chdir("/")

    def shutdown(*_):
        _kill_namespace(own, exclude=(os.getpid(),))
        os._exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    os.close(1)
    os.open(os.devnull, os.O_WRONLY)  # keep fd 1 valid
    while True:
        # EOF on the watch pipe: the owner is gone, so the agent goes too.
        select.select([watch_fd], [], [])
        if not os.read(watch_fd, 1):
            shutdown()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "holder":
    sys.exit(_holder_main(int(sys.argv[2]), json.loads(sys.argv[3])))
