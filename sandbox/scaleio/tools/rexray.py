"""``rexray``: REX-Ray 0.x with the ScaleIO driver (scaleio-commands.md section 6).

Commands:

- ``rexray version``
- ``rexray env``: the effective ScaleIO settings (password masked)
- ``rexray volume ls|list|get [NAME...] [--format json]``: ``ID Name Status Size`` rows; status is
  ``attached`` (to this host), ``available`` or ``unavailable`` (attached elsewhere)
- ``rexray volume create NAME [--size GB] [--type POOL] [--thick]``
- ``rexray volume mount NAME [--fsType T] [--preempt]``: map to this host's SDC, mount, print the path
- ``rexray volume unmount NAME``; ``rexray volume rm|remove NAME``
- ``rexray start [-f] [--dcos-config FILE]``: the service (unit ``rexray``/``dcos-rexray``). It needs the
  ``scini`` driver loaded and a valid config, then serves the Docker volume plugin API on
  ``/run/docker/plugins/rexray.sock`` (or the sockets of ``rexray.modules``) until SIGTERM. With
  ``--dcos-config`` it first copies that file over ``/etc/rexray/config.yml``, as DC/OS does.
- ``rexray stop``, ``rexray service start|stop|status``, ``rexray install|uninstall``

Global options: ``-c``/``--config FILE`` (default ``/etc/rexray/config.yml``), ``-l``/``--logLevel``.
Errors print ``Error: <text>`` on stderr with exit code 1.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

from dcos_scaleio.sandbox.scaleio import hostside
from dcos_scaleio.sandbox.scaleio.tools import volplugin
from dcos_scaleio.sandbox.scaleio.tools.rexray_driver import DEFAULT_CONFIG, Config, Driver, RexrayError

DEFAULT_VERSION = "0.11.4"
PID_FILE = "/var/run/rexray/rexray.pid"
LOG_FILE = "/var/log/rexray/rexray.log"


class UsageError(Exception):
    pass


def split_args(argv: list[str]) -> tuple[list[str], dict]:
    """Positional words and ``--flag [value]`` / ``--flag=value`` options (``-c``/``-l``/``-f`` short forms)."""
    switches = {"f", "foreground", "preempt", "thick", "force"}
    aliases = {"c": "config", "l": "logLevel", "f": "foreground"}
    words, opts = [], {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("-") and arg != "-":
            name = arg.lstrip("-")
            value = None
            if "=" in name:
                name, value = name.split("=", 1)
            name = aliases.get(name, name)
            if value is None and name not in switches:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: {arg}")
                value = argv[i + 1]
                i += 1
            opts[name] = True if value is None else value
        else:
            words.append(arg)
        i += 1
    return words, opts


def print_version(version: str) -> None:
    print("REX-Ray\n-------")
    print("Binary: /usr/bin/rexray")
    print("Flavor: client+agent+controller")
    print(f"SemVer: {version}")
    print("OsArch: Linux-x86_64")
    print(f"Branch: v{version}")
    print("Commit: sandbox")
    print("Formed: Mon, 01 Jan 2018 00:00:00 UTC")
    print("\nlibStorage\n----------")
    print("SemVer: 0.8.4")
    print("OsArch: Linux-x86_64")


def print_table(vols, with_path: bool, fmt: str | None) -> None:
    if fmt == "json":
        print(json.dumps([v.as_dict() for v in vols], indent=2))
        return
    header = ["ID", "Name", "Status", "Size"] + (["Path"] if with_path else [])
    rows = [[v.id, v.name, v.status, str(v.size_gb)] + ([v.path or ""] if with_path else []) for v in vols]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def volume_command(driver: Driver, words: list[str], opts: dict) -> int:
    if not words:
        raise UsageError("usage: rexray volume ls|create|mount|unmount|rm [NAME]")
    sub, names = words[0], words[1:]
    fmt = opts.get("format")
    if sub in ("ls", "list", "get"):
        print_table(driver.list(names), with_path=False, fmt=fmt)
        return 0
    if not names:
        raise UsageError(f"rexray volume {sub} needs a volume name")
    if sub in ("create", "new"):
        size = opts.get("size")
        if size is not None and not str(size).isdigit():
            raise UsageError(f"invalid --size {size!r}")
        vols = [driver.create(n, int(size) if size else None, opts.get("type"), False if opts.get("thick") else None)
                for n in names]
        print_table(vols, with_path=False, fmt=fmt)
    elif sub == "mount":
        vols = [driver.mount(n, preempt=True if opts.get("preempt") else None, fs_type=opts.get("fsType"))
                for n in names]
        print_table(vols, with_path=True, fmt=fmt)
    elif sub == "unmount":
        print_table([driver.unmount(n) for n in names], with_path=True, fmt=fmt)
    elif sub in ("rm", "remove"):
        for n in names:
            driver.remove(n)
            print(n)
    else:
        raise UsageError(f"unknown volume command {sub!r}")
    return 0


# ------------------------------------------------------------------------------------------------
# service mode
# ------------------------------------------------------------------------------------------------
class PluginService:
    """The Docker volume plugin handlers over one driver, serialised (one gateway session)."""

    def __init__(self, driver: Driver):
        self.driver = driver
        self.lock = threading.Lock()
        self.create_opts: dict[str, dict] = {}

    def _run(self, fn):
        with self.lock:
            try:
                return fn()
            except Exception:
                self.driver._client = None  # next request logs in again (expired token, gateway restart)
                raise

    def handlers(self) -> dict:
        d = self.driver

        def name_of(req):
            name = req.get("Name")
            if not isinstance(name, str) or not name:
                raise RexrayError("missing volume name")
            return name

        def create(req):
            name, opts = name_of(req), {k.lower(): v for k, v in (req.get("Opts") or {}).items()}
            self.create_opts[name] = opts

            def go():
                try:
                    d.get(name)
                except RexrayError:
                    size = opts.get("size")
                    d.create(name, int(size) if size else None, opts.get("volumetype") or opts.get("type"))
                return {}
            return self._run(go)

        def mount(req):
            name = name_of(req)
            opts = self.create_opts.get(name, {})
            info = self._run(lambda: d.mount(name, fs_type=opts.get("newfstype")))
            return {"Mountpoint": info.path}

        def unmount(req):
            name = name_of(req)
            self._run(lambda: d.unmount(name))
            return {}

        def remove(req):
            name = name_of(req)
            self._run(lambda: d.remove(name))
            return {}

        def path(req):
            name = name_of(req)
            return {"Mountpoint": d.mount_path(name) if d.is_mounted(name) else ""}

        def get(req):
            info = self._run(lambda: d.get(name_of(req)))
            return {"Volume": {"Name": info.name, "Mountpoint": info.path or "",
                               "Status": {"status": info.status, "size": info.size_gb}}}

        def list_(req):
            vols = self._run(lambda: d.list())
            return {"Volumes": [{"Name": v.name, "Mountpoint": v.path or ""} for v in vols]}

        return {"Create": create, "Mount": mount, "Unmount": unmount, "Remove": remove, "Path": path,
                "Get": get, "List": list_, "Capabilities": lambda req: {"Capabilities": {"Scope": "global"}}}


def start(host: hostside.Host, config_path: str, opts: dict) -> int:
    from dcos_scaleio.sandbox.scaleio import sdcstate
    dcos_config = opts.get("dcos-config")
    if dcos_config:
        text = host.read_text(dcos_config)
        if text is None:
            raise RexrayError(f"config file {dcos_config} not found")
        host.write_text(DEFAULT_CONFIG, text, 0o600)
        config_path = DEFAULT_CONFIG
    cfg = Config.load(host, config_path)
    if not sdcstate.is_loaded(host):
        raise RexrayError("error initializing the scaleio driver: the scini kernel module is not loaded "
                          "(start the scini service first)")
    service = PluginService(Driver(host, cfg))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = [volplugin.serve(str(host.path(sock)), service.handlers()) for sock in cfg.sockets]
    host.write_text(PID_FILE, f"{os.getpid()}\n")
    print(f"rexray started: serving {', '.join(cfg.sockets)}", flush=True)
    from dcos_scaleio.sandbox.scaleio.daemons import notify_ready
    notify_ready()
    try:
        stop.wait()
    finally:
        for server, sock in zip(servers, cfg.sockets):
            server.shutdown()
            server.server_close()
            try:
                host.path(sock).unlink()
            except FileNotFoundError:
                pass
        try:
            host.path(PID_FILE).unlink()
        except FileNotFoundError:
            pass
    return 0


def service_command(words: list[str]) -> int:
    action = words[0] if words else "status"
    if action not in ("start", "stop", "restart", "status"):
        raise UsageError(f"unknown service command {action!r}")
    proc = subprocess.run(["systemctl", "is-active" if action == "status" else action, "rexray"],
                          capture_output=True, text=True, timeout=60)
    print((proc.stdout or proc.stderr).strip())
    return proc.returncode


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    version = DEFAULT_VERSION
    if argv and argv[0].startswith("--sandbox-version="):
        version = argv.pop(0).split("=", 1)[1]
    try:
        words, opts = split_args(argv)
        host = hostside.Host()
        config_path = opts.get("config", DEFAULT_CONFIG)
        cmd = words[0] if words else "help"
        if cmd == "version":
            print_version(version)
            return 0
        if cmd in ("install", "uninstall"):
            print(f"rexray {cmd}ed" if cmd == "install" else "rexray uninstalled")
            return 0
        if cmd == "start":
            return start(host, config_path, opts)
        if cmd == "stop":
            pid = (host.read_text(PID_FILE) or "").strip()
            if pid.isdigit():
                os.kill(int(pid), signal.SIGTERM)
            return 0
        if cmd == "service":
            return service_command(words[1:])
        cfg = Config.load(host, config_path)
        if cmd == "env":
            print(f"SCALEIO_ENDPOINT={cfg.endpoint}\nSCALEIO_USERNAME={cfg.user}\nSCALEIO_PASSWORD=******\n"
                  f"SCALEIO_SYSTEMNAME={cfg.system_name or ''}\nSCALEIO_SYSTEMID={cfg.system_id or ''}\n"
                  f"SCALEIO_STORAGEPOOLNAME={cfg.pool_name or ''}\nSCALEIO_INSECURE={str(cfg.insecure).lower()}\n"
                  f"LIBSTORAGE_INTEGRATION_VOLUME_OPERATIONS_MOUNT_PREEMPT={str(cfg.preempt).lower()}")
            return 0
        if cmd in ("volume", "volumes"):
            from dcos_scaleio.sandbox.scaleio import sysview
            sysview.slow_command_on_host(host, "rexray", words[1] if len(words) > 1 else None)
            return volume_command(Driver(host, cfg), words[1:], opts)
        raise UsageError(f"unknown command {cmd!r}; try: version, volume, start")
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except (RexrayError, hostside.HostError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
