"""The ScaleIO host daemons run by the units ``mdm``, ``sds``, ``scini``, ``lia``, ``scaleio-gateway``.

``python -m dcos_scaleio.sandbox.scaleio.daemons <kind>`` (or the installed wrapper scripts) runs one
in the foreground until SIGTERM, telling systemd when it is ready (``Type=notify``). Each listens where the real
one does, on the agent's own address (``/etc/sandbox/agent.json``), so probes, ``scli``, the SDCs and
the gateway find it with a plain TCP connect:

- ``mdm``: TCP 9011 always; TCP 6611 (management) once the cluster exists and this MDM is a manager
  member of it. 9011 also carries the SDC connections: an SDC (the ``scini`` daemon) connects, says
  hello with its GUID, and stays connected; the MDM marks it connected in the shared system and
  disconnected when the connection drops (scini stopped, agent rebooted, MDM gone). While the system's
  fault ``mdm_unreachable`` names this MDM's IP, both ports are closed.
- ``sds``: TCP 7072; publishes this host's disks (size, whether they carry data, from the host's own
  ``lsblk``/``blkid``) to the system, which vets ``add_sds_device`` against them.
- ``scini``: the SDC kernel driver. Refuses to "load" unless the package ships a module for the
  running kernel (``uname -r``). Keeps one connection per configured system to its MDMs; the
  configuration is the runtime list (``drv_cfg --add_mdm``, under /run, lost on reboot) plus the
  ``mdm`` lines of ``drv_cfg.txt`` read at start.
- ``lia``: TCP 9099.
- ``scaleio-gateway``: the system helper's gateway server, configured by this agent's properties.

(The ``rexray`` unit runs ``/usr/bin/rexray start`` itself, see tools/rexray.py.)

Line protocol on 9011: one JSON object per line each way.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

from dcos_scaleio.sandbox.scaleio import hostside
from dcos_scaleio.sandbox.scaleio import sdcstate

MDM_PORT = 9011
MDM_MGMT_PORT = 6611
SDS_PORT = 7072
LIA_PORT = 9099
POLL = 0.25

MDM_CONF = "/opt/emc/scaleio/mdm/cfg/conf.txt"


class Listener:
    """A TCP listener on ``ip:port`` whose connections are served by ``handler(sock)`` in threads.

    ``open()``/``close()`` may be called repeatedly: closing makes the port refuse connections
    (what a dead or unreachable daemon looks like) without ending already-accepted ones.
    """

    def __init__(self, ip: str, port: int, handler):
        self.ip, self.port, self.handler = ip, port, handler
        self._sock = None
        self._lock = threading.Lock()
        self._conns = set()

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        with self._lock:
            if self._sock is not None:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            deadline = time.monotonic() + 10
            while True:  # a just-killed previous instance may still hold the port for a moment
                try:
                    sock.bind((self.ip, self.port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sock.close()
                        raise
                    time.sleep(0.1)
            sock.listen(64)
            self._sock = sock
            threading.Thread(target=self._accept_loop, args=(sock,), daemon=True).start()

    def close(self, drop_connections: bool = False) -> None:
        """Stop accepting; with ``drop_connections`` also cut the accepted ones (a network failure)."""
        with self._lock:
            sock, self._sock = self._sock, None
            conns = list(self._conns) if drop_connections else []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept_loop(self, sock) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        with self._lock:
            self._conns.add(conn)
        try:
            self.handler(conn)
        except Exception:  # one bad peer must not kill the daemon
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


def read_lines(conn):
    """Yield decoded JSON objects, one per line, until EOF."""
    buf = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    return


def send_line(conn, obj) -> None:
    conn.sendall(json.dumps(obj).encode() + b"\n")


def ask(ip: str, port: int, obj: dict, timeout: float = 3.0) -> dict | None:
    """One request/reply on a daemon's line protocol; None if nothing answers."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as conn:
            send_line(conn, obj)
            return next(read_lines(conn), None)
    except OSError:
        return None


def notify_ready() -> None:
    """Tell the service manager the daemon is ready (``Type=notify``): ``systemctl start`` returns only
    then, so a started unit is really listening, as with the real daemons' init scripts."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(path)
            sock.sendall(f"READY=1\nMAINPID={os.getpid()}".encode())
    except OSError:
        pass


class Stopper:
    """Turns SIGTERM/SIGINT into an event the daemon's main loop waits on."""

    def __init__(self):
        self.event = threading.Event()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, *_):
        self.event.set()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)


# ---------------------------------------------------------------------------------------------
# mdm
# ---------------------------------------------------------------------------------------------
def read_conf(host: hostside.Host, path: str) -> dict:
    """``key=value`` lines of a ScaleIO conf.txt."""
    out = {}
    for line in (host.read_text(path) or "").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


class MdmService:
    """The MDM's ports on ``ip``, following the shared system (see the module docstring).

    Usable outside agent roots too: a pre-built system can run one per MDM address so that SDCs
    connect to it exactly as to an MDM in an agent::

        svc = MdmService("127.0.9.1", System.open(state_dir, actor="mdm@prebuilt")).start()
        ...
        svc.stop()
    """

    def __init__(self, ip: str, system, role: str | None = None):
        """``role``: what the MDM package was installed as (``"manager"``/``"tb"``, from conf.txt);
        None accepts either when the MDM is added to the cluster."""
        from dcos_scaleio.sandbox.scaleio import sysview
        self.ip = ip
        self.role = role
        self.view = sysview.SystemView(system)
        self.member_port = Listener(ip, MDM_PORT, self._serve_member)
        self.mgmt_port = Listener(ip, MDM_MGMT_PORT, lambda conn: conn.recv(1))
        self._stop = threading.Event()
        self._thread = None
        # guid -> the connection that registered it last: a link that drops only disconnects the SDC
        # if no newer link of the same SDC came up meanwhile (a quick scini restart).
        self._latest: dict[str, object] = {}
        self._latest_lock = threading.Lock()

    def start(self) -> "MdmService":
        self._follow()  # open the ports before returning: callers probe them right away
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.member_port.close()
        self.mgmt_port.close()

    def _loop(self) -> None:
        while not self._stop.wait(POLL):
            self._follow()

    def _follow(self) -> None:
        try:
            unreachable = self.view.mdm_unreachable(self.ip)
            manager = self.view.is_member(self.ip)
        except Exception:  # the system is briefly busy: keep the last state
            return
        if unreachable:
            self.member_port.close(drop_connections=True)
            self.mgmt_port.close(drop_connections=True)
        else:
            self.member_port.open()
            (self.mgmt_port.open if manager else self.mgmt_port.close)()

    def _serve_member(self, conn) -> None:
        guid = None
        try:
            for msg in read_lines(conn):
                op = msg.get("op")
                if op == "ping":
                    send_line(conn, {"ok": True, "member": self.view.is_member(self.ip), "role": self.role})
                elif op == "sdc_hello":
                    if not self.view.is_member(self.ip):
                        send_line(conn, {"ok": False, "error": "This MDM is not attached to a system."})
                        return
                    guid = str(msg["guid"]).upper()
                    with self._latest_lock:
                        self._latest[guid] = conn
                        self.view.sdc_connected(guid, str(msg["ip"]))
                    send_line(conn, {"ok": True, "system_id": self.view.system_id()})
                else:
                    send_line(conn, {"ok": False, "error": f"unknown op {op!r}"})
        finally:
            if guid is not None:
                with self._latest_lock:
                    if self._latest.get(guid) is conn:
                        del self._latest[guid]
                        try:
                            self.view.sdc_disconnected(guid)
                        except Exception:
                            pass


def run_mdm(host: hostside.Host) -> int:
    from dcos_scaleio.sandbox.scaleio import sysview
    stopper = Stopper()
    conf = read_conf(host, MDM_CONF)
    role = {"1": "manager", "0": "tb"}.get(conf.get("actor_role_is_manager", "1"), "manager")
    service = MdmService(host.ip, sysview.open_system(host, "mdm"), role=role).start()
    notify_ready()
    stopper.wait(None)
    service.stop()
    return 0


# ---------------------------------------------------------------------------------------------
# sds
# ---------------------------------------------------------------------------------------------
def parse_pairs(line: str) -> dict:
    """One line of ``lsblk -P`` output (``NAME="sdb" SIZE="1073741824" ...``) as a dict."""
    import shlex
    out = {}
    for token in shlex.split(line):
        if "=" in token:
            key, value = token.split("=", 1)
            out[key] = value
    return out


def host_disks(host: hostside.Host) -> list[dict]:
    """The host's whole disks as the SDS sees them: path, size, and whether they carry data.

    Uses the host's own ``lsblk`` (and ``blkid -p`` for signatures lsblk does not report), so the
    agent's configured disk table is what counts.
    """
    listing = host.run(["lsblk", "-b", "-d", "-n", "-P", "-o", "NAME,SIZE,TYPE,FSTYPE"])
    disks = []
    if listing.returncode != 0:
        return disks
    for line in listing.stdout.splitlines():
        row = parse_pairs(line)
        if row.get("TYPE", "disk") != "disk" or not row.get("NAME") or not row.get("SIZE", "").isdigit():
            continue
        path = "/dev/" + row["NAME"]
        has_data = bool(row.get("FSTYPE"))
        if not has_data:
            has_data = host.run(["blkid", "-p", path]).returncode == 0
        disks.append({"path": path, "size_kb": int(row["SIZE"]) // 1024, "has_data": has_data})
    return disks


def run_sds(host: hostside.Host) -> int:
    """Listen on 7072 and keep the system's view of this host's disks current."""
    from dcos_scaleio.sandbox.scaleio import sysview
    stopper = Stopper()
    port = Listener(host.ip, SDS_PORT, lambda conn: conn.recv(1))
    port.open()
    system = sysview.open_system(host, "sds")
    published = None
    ready = False
    while True:
        disks = host_disks(host)
        if disks != published:
            try:
                system.set_host_disks(host.ip, disks)
                published = disks
            except Exception:  # system busy: retry on the next round
                pass
        if not ready and published is not None:
            notify_ready()
            ready = True
        if stopper.wait(2.0 if published is not None else POLL):
            break
    port.close()
    return 0


# ---------------------------------------------------------------------------------------------
# scini (SDC driver)
# ---------------------------------------------------------------------------------------------
def run_scini(host: hostside.Host) -> int:
    kernel = host.run(["uname", "-r"]).stdout.strip()
    try:
        sdcstate.load_module(host, kernel)
    except sdcstate.ModuleLoadError as exc:
        # What the real init script reports when the package has no module for the running kernel.
        print(f"Loading scini module for kernel {kernel}... FAILED", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        print(f"scini: no driver for kernel {kernel} in the package; run driver_sync "
              "(/bin/emc/scaleio/scini_sync) or boot a supported kernel", file=sys.stderr)
        return 1
    stopper = Stopper()
    sdcstate.mark_loaded(host, kernel)
    sdcstate.load_file_systems(host)
    links: dict[tuple, threading.Event] = {}
    threads: list[threading.Thread] = []
    ready_by = time.monotonic() + 3.0   # ready once the configured systems are connected (or 3 s)
    ready = False
    try:
        while True:
            if not ready:
                connected = sdcstate.links(host)
                if time.monotonic() > ready_by or all(",".join(s) in connected
                                                      for s in sdcstate.configured_systems(host)):
                    notify_ready()
                    ready = True
            wanted = {tuple(ips) for ips in sdcstate.configured_systems(host)}
            for ips in wanted - set(links):
                stop = threading.Event()
                links[ips] = stop
                thread = threading.Thread(target=_sdc_link, args=(host, list(ips), stop), daemon=True)
                thread.start()
                threads.append(thread)
            for ips in set(links) - wanted:
                links.pop(ips).set()
            if stopper.wait(POLL):
                break
    finally:
        for stop in links.values():
            stop.set()
        for thread in threads:
            thread.join(timeout=2)   # each link closes its MDM connection: the MDM sees the SDC go
        sdcstate.mark_unloaded(host)
        sdcstate.unload_module(host)
    return 0


def _sdc_link(host: hostside.Host, ips: list[str], stop: threading.Event) -> None:
    """Keep this SDC connected to one reachable MDM of the system at ``ips`` until ``stop``."""
    guid = sdcstate.guid(host)
    while not stop.is_set():
        for ip in ips:
            if stop.is_set():
                return
            try:
                conn = socket.create_connection((ip, MDM_PORT), timeout=2)
            except OSError:
                continue
            try:
                send_line(conn, {"op": "sdc_hello", "guid": guid, "ip": host.ip})
                reply = next(read_lines(conn), None)
                if not reply or not reply.get("ok"):
                    continue
                sdcstate.record_connection(host, ips, ip, reply.get("system_id"))
                conn.settimeout(POLL)
                while not stop.is_set():  # hold the connection: the MDM sees us as connected
                    try:
                        if conn.recv(1) == b"":
                            break
                    except socket.timeout:
                        continue
                    except OSError:
                        break
            finally:
                conn.close()
                sdcstate.record_connection(host, ips, None, None)
        stop.wait(POLL)


# ---------------------------------------------------------------------------------------------
# lia, gateway
# ---------------------------------------------------------------------------------------------
def run_lia(host: hostside.Host) -> int:
    stopper = Stopper()
    port = Listener(host.ip, LIA_PORT, lambda conn: conn.recv(1))
    port.open()
    notify_ready()
    stopper.wait(None)
    port.close()
    return 0


GATEWAY_LOG = "/opt/emc/scaleio/gateway/logs/catalina.out"


def run_gateway(host: hostside.Host) -> int:
    """The system helper's gateway server, configured from this host's properties files."""
    from dcos_scaleio.sandbox.scaleio import gateway
    log = host.path(GATEWAY_LOG)
    log.parent.mkdir(parents=True, exist_ok=True)
    cfg = gateway.config_from_files(str(host.root))

    def announce():  # ready when the HTTPS port accepts connections
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((cfg["listen_ip"], cfg["port"]), timeout=1):
                    notify_ready()
                    return
            except (OSError, TypeError):
                time.sleep(0.05)
    threading.Thread(target=announce, daemon=True).start()
    return gateway.main(["--root", str(host.root), "--log", str(log)])


DAEMONS = {
    "mdm": run_mdm,
    "sds": run_sds,
    "scini": run_scini,
    "lia": run_lia,
    "scaleio-gateway": run_gateway,
}


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 1 or args[0] not in DAEMONS:
        print(f"usage: daemons {{{'|'.join(DAEMONS)}}}", file=sys.stderr)
        return 2
    try:
        host = hostside.Host()
        return DAEMONS[args[0]](host)
    except hostside.HostError as exc:
        print(f"{args[0]}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
