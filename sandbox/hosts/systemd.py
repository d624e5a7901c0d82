"""A small service manager with systemd's unit-file semantics, run INSIDE an agent by the fake systemctl.

There is no PID 1 manager: each ``systemctl`` call loads unit files, does its job and exits, and the
services it starts keep running inside the agent (they inherit its namespaces). Runtime state lives
under ``/run/sandbox/systemd`` (tmpfs, so a reboot forgets it, as a real reboot does); service output
goes to ``/var/log/sandbox/<unit>.log`` (the journal stand-in, kept across reboots).

Honoured: unit dirs ``/etc/systemd/system``, ``/run/systemd/system``, ``/lib/systemd/system``,
``/usr/lib/systemd/system`` and ``<unit>.d/*.conf`` drop-ins; ``Requires=``/``Wants=``/``BindsTo=``
(pull in, hard or soft), ``After=``/``Before=`` (ordering), stop propagating to units that require a
stopped one; ``Type=simple|exec|forking|oneshot|notify`` (NOTIFY_SOCKET with READY=1/MAINPID=),
``RemainAfterExit=``, ``ExecStartPre/ExecStart/ExecStartPost/ExecStop/ExecStopPost/ExecReload`` (with
the ``-`` prefix), ``Environment=``, ``EnvironmentFile=[-]``, ``WorkingDirectory=``, ``PIDFile=``,
``TimeoutStartSec=``/``TimeoutStopSec=``, ``[Install] WantedBy=/RequiredBy=/Alias=``. A changed unit
file keeps its old content until ``daemon-reload`` (with systemd's warning), as real systemd does.
``Restart=`` (always|on-failure|on-abnormal|on-abort|on-success) with ``RestartSec=`` and the start
limit (``StartLimitBurst=``/``StartLimitIntervalSec=``, default 5 in 10 s) is honoured once a service is
active, by a small supervisor process in the unit's session (a service that dies while starting fails
the start job instead); ``KillMode=control-group|process|mixed|none``.
Not emulated: sockets, timers, cgroups (a unit's processes are its session).
A service without a unit file but with an executable ``/etc/init.d/<name>`` gets a generated unit
(Type=forking, RemainAfterExit=yes, ``<script> start|stop|reload``), as systemd-sysv-generator does;
``enable`` of such a unit is not supported (real systemd delegates to update-rc.d/chkconfig).

Sandbox extension: ``X-SandboxExecRestart=`` in ``[Service]`` runs instead of stop+start on restart
(the Mesos agent unit uses it to call the emulator's restart endpoint).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import signal
import socket
import subprocess
import time

from .families import load_json, write_json_atomic

UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
_RHEL_UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")


def unit_dirs() -> tuple:
    """The unit search path in the family's own spelling: on merged-/usr hosts /lib and /usr/lib are
    one directory, and the family decides which name systemctl prints (/usr/lib on CentOS 7)."""
    from .families import host_config
    return _RHEL_UNIT_DIRS if host_config()["os_family"] == "rhel" else UNIT_DIRS
SYSV_DIR = "/etc/init.d"
STATE_DIR = "/run/sandbox/systemd"
LOG_DIR = "/var/log/sandbox"
LOADED = os.path.join(STATE_DIR, "loaded.json")
BOOT_TARGETS = ("multi-user.target", "default.target", "graphical.target", "dcos.target")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SIMPLE_GRACE = 0.2  # seconds a Type=simple service may take to die before start counts as success
RESTART_POLICIES = ("always", "on-failure", "on-abnormal", "on-abort", "on-watchdog", "on-success")
SUPERVISE_ENV = "SANDBOX_SUPERVISE"
_LIST_KEYS = {"Requires", "Wants", "BindsTo", "After", "Before", "WantedBy", "RequiredBy", "Alias",
              "Conflicts", "PartOf", "Requisite"}


class UnitError(Exception):
    """A systemctl-level failure: ``message`` for stderr and the exit code to return."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def unit_name(name: str) -> str:
    """``mdm`` -> ``mdm.service``; names with a known suffix are kept. Rejects path-like names."""
    if not name or "/" in name or "\0" in name:
        raise UnitError(f"Invalid unit name \"{name}\" was escaped as \"{name.replace('/', '-')}\" (maybe you should use systemd-escape?)")
    if re.search(r"\.(service|target|socket|timer|mount|path|slice|scope|device)$", name):
        return name
    return name + ".service"


# ---------------------------------------------------------------------------------------- unit files
def find_unit_file(name: str) -> str | None:
    seen = set()
    for d in unit_dirs():
        path = os.path.join(d, name)
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if os.path.isfile(path) or (os.path.islink(path) and os.path.exists(path)):
            return path
    return None


def _dropins(name: str) -> list[str]:
    out = []
    for d in unit_dirs():
        dd = os.path.join(d, name + ".d")
        if os.path.isdir(dd):
            out += [os.path.join(dd, f) for f in sorted(os.listdir(dd)) if f.endswith(".conf")]
    return out


def parse_unit_text(text: str, into: dict | None = None) -> dict:
    """INI-like unit text -> {section: {key: [values]}}; an empty assignment resets a key."""
    sections = into if into is not None else {}
    section = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1], {})
            continue
        if section is None or "=" not in line:
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        if value == "":
            section[key] = []
        elif key in _LIST_KEYS:
            section.setdefault(key, []).extend(value.split())
        else:
            section.setdefault(key, []).append(value)
    return sections


class Unit:
    """A loaded unit: parsed sections plus where it came from."""

    def __init__(self, name: str, path: str | None, sections: dict):
        self.name, self.path, self.sections = name, path, sections

    def get(self, section: str, key: str, default=None):
        values = self.sections.get(section, {}).get(key)
        return values[-1] if values else default

    def getlist(self, section: str, key: str) -> list[str]:
        return list(self.sections.get(section, {}).get(key, []))

    @property
    def description(self) -> str:
        return self.get("Unit", "Description", self.name)

    @property
    def type(self) -> str:
        if self.name.endswith(".target"):
            return "target"
        default = "oneshot" if not self.getlist("Service", "ExecStart") else "simple"
        return self.get("Service", "Type", default)

    def deps(self, key: str) -> list[str]:
        return [unit_name(n) for n in self.getlist("Unit", key)]

    def timeout(self, key: str, default: float) -> float:
        value = self.get("Service", key) or self.get("Service", "TimeoutSec")
        return _parse_seconds(value, default)


def _parse_seconds(value, default: float) -> float:
    if not value:
        return default
    if value in ("infinity", "0"):
        return 3600.0
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|s|m|h)?", value):
        total += float(num) * {"ms": 0.001, "min": 60, "m": 60, "h": 3600}.get(unit, 1)
    return total or default


def _file_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def load_unit(name: str, *, warn=None) -> Unit | None:
    """The unit as the manager knows it: the loaded snapshot if the file changed since (with the
    daemon-reload warning), the file itself otherwise; None if no such unit exists."""
    path = find_unit_file(name)
    if path is None:
        return _sysv_unit(name)
    texts = [_file_text(path)] + [_file_text(p) for p in _dropins(name)]
    loaded = load_json(LOADED, {}) or {}
    snap = loaded.get(name)
    if snap is not None and snap["texts"] != texts:
        if warn:
            warn(f"Warning: {name} changed on disk. Run 'systemctl daemon-reload' to refresh units.")
        texts = snap["texts"]
        path = snap["path"]
    elif snap is None:
        loaded[name] = {"path": path, "texts": texts}
        with contextlib.suppress(OSError):
            write_json_atomic(LOADED, loaded)
    sections: dict = {}
    for t in texts:
        parse_unit_text(t, sections)
    return Unit(name, path, sections)


def _sysv_unit(name: str) -> Unit | None:
    """A unit generated for an executable /etc/init.d script (systemd-sysv-generator), e.g. scini."""
    if not name.endswith(".service"):
        return None
    script = os.path.join(SYSV_DIR, name[:-len(".service")])
    if not (os.path.isfile(script) and os.access(script, os.X_OK)):
        return None
    text = (f"[Unit]\nDescription=LSB: {name[:-8]}\nSourcePath={script}\n[Service]\nType=forking\n"
            f"RemainAfterExit=yes\nExecStart={script} start\nExecStop={script} stop\nExecReload={script} reload\n")
    return Unit(name, script, parse_unit_text(text))


def all_unit_names() -> list[str]:
    names = set()
    for d in unit_dirs():
        if os.path.isdir(d):
            names |= {f for f in os.listdir(d) if re.search(r"\.(service|target)$", f)}
    return sorted(names)


def daemon_reload() -> None:
    """Snapshot every unit file's current content as the loaded configuration."""
    loaded = {}
    for name in all_unit_names():
        path = find_unit_file(name)
        if path:
            loaded[name] = {"path": path, "texts": [_file_text(path)] + [_file_text(p) for p in _dropins(name)]}
    write_json_atomic(LOADED, loaded)


# ---------------------------------------------------------------------------------------- runtime state
def _state_path(name: str) -> str:
    return os.path.join(STATE_DIR, name + ".json")


def read_state(name: str) -> dict:
    return load_json(_state_path(name), {}) or {}


def write_state(name: str, state: dict) -> None:
    write_json_atomic(_state_path(name), state)


def _proc_start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None  # a zombie is dead for our purposes
    return fields[19]


def _alive(state: dict) -> bool:
    pid = state.get("pid")
    return bool(pid) and _proc_start_ticks(pid) == state.get("ticks")


def active_state(name: str) -> str:
    """active | inactive | failed | activating, as ``systemctl is-active`` prints."""
    st = read_state(name)
    s = st.get("state", "inactive")
    if st.get("supervisor") and s in ("active", "activating"):
        # Restart= units: the supervisor keeps the state file current; if it died, so did the unit.
        alive = _proc_start_ticks(st["supervisor"]) == st.get("sup_ticks")
        return s if alive else "failed"
    if s == "active" and st.get("pid") and not _alive(st):
        return "failed"
    return s


def _own_ns() -> str:
    return os.readlink("/proc/self/ns/mnt")


def session_pids(sid: int) -> list[int]:
    """Processes of a unit: those in this agent whose session is the unit's session."""
    own, me, found = _own_ns(), os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            if os.getsid(pid) != sid or os.readlink(f"/proc/{pid}/ns/mnt") != own:
                continue
        except OSError:
            continue
        if _proc_start_ticks(pid) is not None:
            found.append(pid)
    return found


JOB_ENV = "SANDBOX_SYSTEMD_JOB"


@contextlib.contextmanager
def manager_lock():
    """One systemctl transaction at a time per agent, as jobs are serialised by PID 1.

    Commands the manager runs synchronously while holding the lock (ExecStartPre, oneshot/forking
    ExecStart, ExecStop ...) carry ``SANDBOX_SYSTEMD_JOB=1``, so a ``systemctl`` they call does not
    wait for the lock its own caller holds."""
    if os.environ.get(JOB_ENV):
        yield
        return
    os.makedirs(STATE_DIR, exist_ok=True)
    fd = os.open(os.path.join(STATE_DIR, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------- execution
def _env_for(unit: Unit) -> dict:
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "HOME": "/root", "USER": "root", "LOGNAME": "root",
           "INVOCATION_ID": os.urandom(16).hex()}
    for spec in unit.getlist("Service", "EnvironmentFile"):
        optional = spec.startswith("-")
        path = spec.lstrip("-")
        try:
            text = _file_text(path)
        except OSError:
            if optional:
                continue
            raise UnitError(f"Failed to load environment files: No such file or directory ({path})")
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip().strip('"').strip("'")
    for spec in unit.getlist("Service", "Environment"):
        for item in shlex.split(spec):
            if "=" in item:
                k, v = item.split("=", 1)
                env[k] = v
    return env


def _expand(arg: str, env: dict) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), arg)


def _argv(line: str, env: dict):
    """(argv, ignore_failure) for an Exec line (prefixes '-', '@', '+', '!' handled)."""
    ignore = False
    while line and line[0] in "-@+!:":
        ignore |= line[0] == "-"
        line = line[1:]
    words = shlex.split(line)
    out = []
    for w in words:
        if re.fullmatch(r"\$(\w+)", w):  # $VAR alone splits into words, as systemd does
            out += env.get(w[1:], "").split()
        else:
            out.append(_expand(w, env))
    return out, ignore


def _log_file(unit: Unit):
    os.makedirs(LOG_DIR, exist_ok=True)
    return open(os.path.join(LOG_DIR, unit.name + ".log"), "ab")


def _spawn(unit: Unit, argv, env: dict, extra_env=None) -> subprocess.Popen:
    cwd = unit.get("Service", "WorkingDirectory", "/").lstrip("-") or "/"
    with _log_file(unit) as log:
        return subprocess.Popen(argv, env={**env, **(extra_env or {})}, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True, close_fds=True)


def _run_sync(unit: Unit, key: str, env: dict, timeout: float, extra_env=None) -> int:
    """Run each command of an Exec key in order; the first failing one (not '-') gives its status."""
    for line in unit.getlist("Service", key):
        argv, ignore = _argv(line, env)
        try:
            proc = _spawn(unit, argv, env, {**(extra_env or {}), JOB_ENV: "1"})
        except OSError:
            if ignore:
                continue
            return 203
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -1
        if rc != 0 and not ignore:
            return rc
    return 0


class Manager:
    """Start/stop/restart transactions over units (call inside manager_lock())."""

    def __init__(self, warn=print):
        self.warn = warn
        self._units: dict[str, Unit | None] = {}

    def unit(self, name: str) -> Unit | None:
        if name not in self._units:
            self._units[name] = load_unit(name, warn=self.warn)
        return self._units[name]

    # ------------------------------------------------------------------ start
    def start(self, names) -> None:
        """Start units with their Requires/Wants closure in After/Before order. Raises UnitError."""
        names = [unit_name(n) for n in names]
        for n in names:
            if self.unit(n) is None:
                raise UnitError(f"Failed to start {n}: Unit {n} not found.", 5)
        order = self._order(self._closure(names))
        failed: set[str] = set()
        for name in order:
            unit = self.unit(name)
            if unit is None:
                failed.add(name)
                continue
            hard = [d for d in unit.deps("Requires") + unit.deps("BindsTo") + unit.deps("Requisite")]
            if any(d in failed for d in hard):
                failed.add(name)
                write_state(name, {"state": "inactive", "result": "dependency"})
                continue
            if active_state(name) == "active":
                continue
            if not self._start_one(unit):
                failed.add(name)
        bad = [n for n in names if n in failed]
        if bad:
            n = bad[0]
            if read_state(n).get("result") == "dependency":
                raise UnitError(f"A dependency job for {n} failed. See 'journalctl -xe' for details.")
            raise UnitError(f"Job for {n} failed because the control process exited with error code.\n"
                            f"See \"systemctl status {n}\" and \"journalctl -xe\" for details.")

    def _closure(self, names) -> list[str]:
        seen, stack = [], list(names)
        while stack:
            n = stack.pop(0)
            if n in seen:
                continue
            seen.append(n)
            unit = self.unit(n)
            if unit is not None:
                stack += unit.deps("Requires") + unit.deps("Wants") + unit.deps("BindsTo")
                stack += self._wanted_by_links(n)
        return seen

    def _wanted_by_links(self, name: str) -> list[str]:
        """Units enabled into this one (``<name>.wants/``, ``<name>.requires/`` symlinks)."""
        out = []
        for d in unit_dirs():
            for kind in ("wants", "requires"):
                dd = os.path.join(d, f"{name}.{kind}")
                if os.path.isdir(dd):
                    out += sorted(os.listdir(dd))
        return out

    def _order(self, names: list[str]) -> list[str]:
        """Topological order by After=/Before= among ``names`` (stable on ties)."""
        after = {n: set() for n in names}
        for n in names:
            unit = self.unit(n)
            if unit is None:
                continue
            for d in unit.deps("After"):
                if d in after:
                    after[n].add(d)
            for d in unit.deps("Before"):
                if d in after:
                    after[d].add(n)
        order, done = [], set()
        while len(order) < len(names):
            ready = [n for n in names if n not in done and after[n] <= done]
            if not ready:  # an ordering cycle: systemd breaks it; so do we, in list order
                ready = [n for n in names if n not in done][:1]
            for n in ready:
                order.append(n)
                done.add(n)
        return order

    def _start_one(self, unit: Unit) -> bool:
        name = unit.name
        if unit.type == "target":
            write_state(name, {"state": "active", "since": time.time(), "result": "success"})
            return True
        env = _env_for(unit)
        t_start = unit.timeout("TimeoutStartSec", 90.0)
        write_state(name, {"state": "activating", "since": time.time()})
        if _run_sync(unit, "ExecStartPre", env, t_start) != 0:
            return self._fail(name, "exit-code")
        kind = unit.type
        state = {"state": "active", "since": time.time(), "result": "success"}
        if kind in ("oneshot", "forking"):
            rc = _run_sync(unit, "ExecStart", env, t_start)
            if rc != 0:
                return self._fail(name, "exit-code" if rc != -1 else "timeout")
            if kind == "forking":
                pid = _read_pidfile(unit.get("Service", "PIDFile"))
                if pid:
                    state.update(pid=pid, ticks=_proc_start_ticks(pid), sid=os.getsid(pid))
            elif unit.get("Service", "RemainAfterExit", "no") not in ("yes", "true", "1", "on"):
                state["state"] = "inactive"
        else:
            lines = unit.getlist("Service", "ExecStart")
            argv, _ = _argv(lines[-1], env)
            notify = kind == "notify"
            sock_path = os.path.join(STATE_DIR, "notify", name)
            sock = _notify_socket(sock_path) if notify else None
            policy = unit.get("Service", "Restart", "no")
            supervised = policy in RESTART_POLICIES
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_mainpid_path(name))
            try:
                notify_env = {"NOTIFY_SOCKET": sock_path} if notify else {}
                if supervised:
                    proc = _spawn_supervisor(unit, argv, env, notify_env, policy)
                else:
                    proc = _spawn(unit, argv, env, notify_env)
            except OSError as exc:
                _log(unit, f"Failed at step EXEC spawning {argv[0]}: {exc.strerror}")
                if sock:
                    sock.close()
                return self._fail(name, "exit-code")
            pid = _await_mainpid(name, proc) if supervised else proc.pid
            state.update(pid=pid, ticks=_proc_start_ticks(pid), sid=proc.pid)
            # While starting, the state names no supervisor: a service dying now fails the start job
            # (the supervisor then exits instead of restarting it); Restart= applies once active.
            write_state(name, {**state, "state": "activating"})
            if supervised:
                state.update(supervisor=proc.pid, sup_ticks=_proc_start_ticks(proc.pid))
            if notify:
                ok, pid = _await_ready(sock, proc, t_start)
                sock.close()
                with contextlib.suppress(OSError):
                    os.unlink(sock_path)
                if not ok:
                    _kill_session(state["sid"], 0.5)
                    return self._fail(name, "timeout" if proc.poll() is None else "exit-code")
                if supervised and pid == proc.pid:
                    pid = _await_mainpid(name, proc)
                state.update(pid=pid, ticks=_proc_start_ticks(pid))
            else:
                try:
                    rc = proc.wait(timeout=SIMPLE_GRACE)
                except subprocess.TimeoutExpired:
                    rc = None
                if rc is not None and rc != 0:
                    return self._fail(name, "exit-code")
                if rc == 0:
                    state = {"state": "inactive", "since": time.time(), "result": "success"}
        write_state(name, state)
        if state["state"] == "active" and _run_sync(unit, "ExecStartPost", env, t_start) != 0:
            self._stop_one(unit)
            return self._fail(name, "exit-code")
        return True

    def _fail(self, name: str, result: str) -> bool:
        write_state(name, {"state": "failed", "result": result, "since": time.time()})
        return False

    # ------------------------------------------------------------------ stop
    def stop(self, names) -> None:
        names = [unit_name(n) for n in names]
        for n in names:
            if self.unit(n) is None and not read_state(n):
                raise UnitError(f"Failed to stop {n}: Unit {n} not loaded.", 5)
        # Units that require a stopped unit stop first (reverse start order).
        todo = list(names)
        for n in list(todo):
            todo += [d for d in self._required_by(n) if d not in todo]
        for n in reversed(self._order(todo)):
            unit = self.unit(n)
            if unit is not None:
                self._stop_one(unit)
            else:
                write_state(n, {"state": "inactive", "since": time.time()})

    def _required_by(self, name: str) -> list[str]:
        out = []
        for other in all_unit_names():
            if other == name or active_state(other) not in ("active", "activating"):
                continue
            u = self.unit(other)
            if u is not None and name in u.deps("Requires") + u.deps("BindsTo"):
                out.append(other)
        return out

    def _stop_one(self, unit: Unit) -> None:
        name = unit.name
        st = read_state(name)
        if st.get("state") in (None, "inactive") and not st.get("sid"):
            write_state(name, {"state": "inactive", "since": time.time()})
            return
        env = _env_for(unit)
        timeout = unit.timeout("TimeoutStopSec", 10.0)
        # "deactivating" tells a Restart= supervisor not to bring the service back meanwhile.
        write_state(name, {**st, "state": "deactivating"})
        sup = st.get("supervisor")
        if sup and _proc_start_ticks(sup) == st.get("sup_ticks"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(sup, signal.SIGKILL)  # the sandbox's own helper, not part of the unit
        if st.get("state") == "active":
            _run_sync(unit, "ExecStop", env, timeout, {"MAINPID": str(st.get("pid") or "")})
        main = st["pid"] if st.get("pid") and _alive(st) else None
        mode = unit.get("Service", "KillMode", "control-group")
        if mode == "process":
            if main:
                _kill_pids([main], timeout)
        elif mode == "mixed":
            if main:
                _kill_pids([main], timeout)
            if st.get("sid"):
                _kill_session(st["sid"], 0)
        elif mode != "none" and st.get("sid"):
            _kill_session(st["sid"], timeout)
        _run_sync(unit, "ExecStopPost", env, timeout)
        write_state(name, {"state": "inactive", "since": time.time(), "result": "success"})

    # ------------------------------------------------------------------ restart / reload
    def restart(self, names, only_if_running: bool = False) -> None:
        names = [unit_name(n) for n in names]
        for n in names:
            unit = self.unit(n)
            if unit is None:
                raise UnitError(f"Failed to restart {n}: Unit {n} not found.", 5)
            if only_if_running and active_state(n) != "active":
                continue
            custom = unit.getlist("Service", "X-SandboxExecRestart")
            if custom and active_state(n) == "active":
                env = _env_for(unit)
                if _run_sync(unit, "X-SandboxExecRestart", env, unit.timeout("TimeoutStartSec", 90.0)) != 0:
                    self._fail(n, "exit-code")
                    raise UnitError(f"Job for {n} failed because the control process exited with error code.\n"
                                    f"See \"systemctl status {n}\" and \"journalctl -xe\" for details.")
                write_state(n, {**read_state(n), "since": time.time()})
                continue
            self.stop([n])
            self.start([n])

    def reload(self, names) -> None:
        for n in (unit_name(x) for x in names):
            unit = self.unit(n)
            if unit is None:
                raise UnitError(f"Failed to reload {n}: Unit {n} not found.", 5)
            if active_state(n) != "active":
                raise UnitError(f"{n} is not active, cannot reload.", 1)
            if not unit.getlist("Service", "ExecReload"):
                raise UnitError(f"Failed to reload {n}: Job type reload is not applicable for unit {n}.", 1)
            st = read_state(n)
            if _run_sync(unit, "ExecReload", _env_for(unit), 90.0, {"MAINPID": str(st.get("pid") or "")}) != 0:
                raise UnitError(f"Job for {n} failed because the control process exited with error code.")


def _log(unit: Unit, text: str) -> None:
    with _log_file(unit) as f:
        f.write((text + "\n").encode())


def _read_pidfile(path) -> int | None:
    if not path:
        return None
    try:
        return int(_file_text(path).strip())
    except (OSError, ValueError):
        return None


def _notify_socket(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    return sock


def _await_ready(sock: socket.socket, proc: subprocess.Popen, timeout: float):
    """Wait for READY=1 on the notify socket; (ok, main pid)."""
    deadline = time.monotonic() + timeout
    pid = proc.pid
    sock.settimeout(0.1)
    while time.monotonic() < deadline:
        try:
            msg = sock.recv(4096).decode(errors="replace")
        except socket.timeout:
            if proc.poll() is not None:
                return False, pid
            continue
        for line in msg.splitlines():
            if line.startswith("MAINPID=") and line[8:].isdigit():
                pid = int(line[8:])
            if line == "READY=1":
                return True, pid
    return False, pid


def _kill_pids(pids, timeout: float) -> None:
    """SIGTERM the given processes, SIGKILL those still alive after ``timeout`` (KillMode=process)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        alive = [p for p in pids if _proc_start_ticks(p) is not None]
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_proc_start_ticks(p) is not None for p in alive):
            time.sleep(0.02)


def _kill_session(sid: int, timeout: float) -> None:
    """SIGTERM every process of the unit, then SIGKILL what is left after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        pids = session_pids(sid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and session_pids(sid):
            time.sleep(0.02)


# ---------------------------------------------------------------------------------------- enablement
def install_targets(unit: Unit) -> list[tuple[str, str]]:
    """(link path, target path) pairs ``enable`` creates for a unit."""
    links = []
    for target in unit.getlist("Install", "WantedBy"):
        links.append((f"/etc/systemd/system/{target}.wants/{unit.name}", unit.path))
    for target in unit.getlist("Install", "RequiredBy"):
        links.append((f"/etc/systemd/system/{target}.requires/{unit.name}", unit.path))
    for alias in unit.getlist("Install", "Alias"):
        links.append((f"/etc/systemd/system/{alias}", unit.path))
    return links


def enabled_state(name: str) -> str:
    """enabled | disabled | static | masked (systemctl is-enabled)."""
    path = find_unit_file(name)
    if path and os.path.realpath(path) == "/dev/null":
        return "masked"
    unit = load_unit(name)
    if unit is None:
        raise UnitError(f"Failed to get unit file state for {name}: No such file or directory", 1)
    links = install_targets(unit)
    if not links:
        return "static"
    return "enabled" if any(os.path.islink(link) for link, _ in links) else "disabled"


def enabled_units() -> list[str]:
    """Units enabled into the boot targets (what a boot starts)."""
    found = []
    for d in unit_dirs():
        for target in BOOT_TARGETS:
            for kind in ("wants", "requires"):
                dd = os.path.join(d, f"{target}.{kind}")
                if os.path.isdir(dd):
                    found += [f for f in sorted(os.listdir(dd)) if f not in found]
    return found


def boot(running_kernel: str | None = None) -> list[str]:
    """What the agent's init does at boot: name itself in /etc/hosts (from agent.json), set the running
    kernel, load units, start enabled ones.
    Returns the units that failed to start (they are logged and left failed, as on a real boot)."""
    from .families import RUNNING_KERNEL, ensure_hosts_entry, host_config
    ensure_hosts_entry()
    os.makedirs(os.path.dirname(RUNNING_KERNEL), exist_ok=True)
    with open(RUNNING_KERNEL, "w") as f:
        f.write((running_kernel or host_config()["boot_kernel"]) + "\n")
    failed = []
    with manager_lock():
        daemon_reload()
        manager = Manager(warn=lambda *_: None)
        for name in enabled_units():
            try:
                manager.start([name])
            except UnitError:
                failed.append(name)
    return failed


# ---------------------------------------------------------------------------------------- Restart=
def _mainpid_path(name: str) -> str:
    return os.path.join(STATE_DIR, name + ".mainpid")


def _spawn_supervisor(unit: Unit, argv, env: dict, extra_env: dict, policy: str) -> subprocess.Popen:
    """Start a small supervisor in the unit's session that runs the service and restarts it per
    ``Restart=`` (what PID 1 does for real). It is the sandbox's helper, not part of the unit: stop
    kills it first, and the unit's main PID is the service process it runs."""
    import json
    import sys
    from .tools import _layout
    core_parent, sandbox_parent = _layout()
    code = (f"import sys\nsys.dont_write_bytecode = False\nsys.path.insert(0, {core_parent!r})\nimport dcos_scaleio\n"
            f"dcos_scaleio.__path__.append({sandbox_parent!r})\n"
            "from dcos_scaleio.sandbox.hosts.systemd import supervise_main\nsys.exit(supervise_main())\n")
    config = {"name": unit.name, "argv": argv, "policy": policy,
              "cwd": unit.get("Service", "WorkingDirectory", "/").lstrip("-") or "/",
              "restart_sec": _parse_seconds(unit.get("Service", "RestartSec"), 0.1),
              "burst": int(unit.get("Unit", "StartLimitBurst") or unit.get("Service", "StartLimitBurst") or 5),
              "interval": _parse_seconds(unit.get("Unit", "StartLimitIntervalSec")
                                         or unit.get("Service", "StartLimitInterval"), 10.0)}
    return _spawn(unit, [sys.executable, "-S", "-c", code], env, {**extra_env, SUPERVISE_ENV: json.dumps(config)})


def _await_mainpid(name: str, supervisor: subprocess.Popen, timeout: float = 10.0) -> int:
    """The pid of the service process the supervisor started (it writes it right after spawning)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(_file_text(_mainpid_path(name)))
        except (OSError, ValueError):
            if supervisor.poll() is not None:
                break
            time.sleep(0.01)
    return supervisor.pid


def _should_restart(policy: str, rc: int) -> bool:
    if policy == "always":
        return True
    if policy == "on-success":
        return rc == 0
    if policy == "on-failure":
        return rc != 0
    return rc < 0  # on-abnormal / on-abort / on-watchdog: killed by a signal


def supervise_main() -> int:
    """Entry point of the Restart= supervisor (runs inside the agent, in the unit's session)."""
    import json
    import sys
    config = json.loads(os.environ.pop(SUPERVISE_ENV))
    name, me = config["name"], os.getpid()
    first_env = dict(os.environ)
    later_env = {k: v for k, v in first_env.items() if k != "NOTIFY_SOCKET"}
    starts: list[float] = []
    first = True
    while True:
        try:
            child = subprocess.Popen(config["argv"], env=first_env if first else later_env, cwd=config["cwd"],
                                     stdin=subprocess.DEVNULL)
        except OSError as exc:
            print(f"Failed at step EXEC spawning {config['argv'][0]}: {exc.strerror}", file=sys.stderr, flush=True)
            return 203
        with open(_mainpid_path(name) + ".tmp", "w") as f:
            f.write(str(child.pid))
        os.replace(_mainpid_path(name) + ".tmp", _mainpid_path(name))
        if not first:
            st = read_state(name)
            if st.get("supervisor") == me and st.get("state") == "activating":
                write_state(name, {**st, "state": "active", "pid": child.pid, "ticks": _proc_start_ticks(child.pid),
                                   "since": time.time()})
        rc = child.wait()
        first = False
        st = read_state(name)
        if st.get("supervisor") != me or st.get("state") not in ("active", "activating"):
            return rc if rc > 0 else 1  # still starting (systemctl reports the failure) or being stopped
        if not _should_restart(config["policy"], rc):
            write_state(name, {"state": "failed" if rc != 0 else "inactive", "since": time.time(),
                               "result": "success" if rc == 0 else ("signal" if rc < 0 else "exit-code")})
            return 0
        now = time.monotonic()
        starts = [t for t in starts if now - t < config["interval"]] + [now]
        if len(starts) > config["burst"]:
            write_state(name, {"state": "failed", "result": "start-limit-hit", "since": time.time()})
            return 0
        print(f"{name}: Service hold-off time over, scheduling restart.", file=sys.stderr, flush=True)
        write_state(name, {**st, "state": "activating", "sub": "auto-restart"})
        time.sleep(config["restart_sec"])
        st = read_state(name)
        if st.get("supervisor") != me or st.get("state") != "activating":
            return 0
