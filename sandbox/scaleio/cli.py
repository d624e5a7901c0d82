"""``python -m dcos_scaleio.sandbox scaleio [--state-dir D]``: a pre-built ScaleIO world in the foreground.

Brings up an existing-cluster system (3-node MDM cluster by default, named, password changed, one
protection domain and pool, SDSs with devices) with its gateway on loopback, plus the artifact mirror
serving the ScaleIO/rexray/dvdcli/isolator packages, then prints ONE JSON line and runs until
SIGTERM/SIGINT::

    {"gateway_url": "https://127.0.10.1:PORT/api", "ca_path": ".../tls/ca.pem", "admin_user": "admin",
     "admin_password": "...", "state_dir": "...", "system_id": "...", "system_name": "scaleio",
     "mdm_ips": [...], "sds_ips": [...], "protection_domain": "default", "storage_pool": "default",
     "mirror_url": "http://127.0.0.1:PORT", "mirror_files": {"<file>": {"sha256": ..., "size": ...}},
     "mirror_catalog": {"scaleio/<ver>/<family>/<component>": "<file>", ...}}

The admin password is ``$SCALEIO_ADMIN_PASSWORD``, else the one saved in ``<state_dir>/admin-password``
(0600) by an earlier run, else a fresh random one (saved there). A state dir is reused as it is.
Without ``--state-dir`` a temporary one is used and removed at exit.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .prebuilt import ExistingCluster

PASSWORD_ENV = "SCALEIO_ADMIN_PASSWORD"
PASSWORD_FILE = "admin-password"


def admin_password(state_dir: Path) -> str:
    """The world's admin password (env, else saved, else new and saved 0600)."""
    pw_file = state_dir / PASSWORD_FILE
    pw = os.environ.get(PASSWORD_ENV)
    if not pw and pw_file.exists():
        pw = pw_file.read_text().strip()
    if not pw:
        # ScaleIO wants 3 of 4 character classes: "Sio" gives upper and lower case, the "-7" a symbol
        # and a digit, whatever the random part holds (it is all letters about 3% of the time).
        pw = "Sio-7" + secrets.token_urlsafe(12)
    if not pw_file.exists() or pw_file.read_text().strip() != pw:
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(pw + "\n")
    return pw


class ScaleIOWorld:
    """The pre-built system + gateway (:class:`ExistingCluster`) and, optionally, the package mirror."""

    def __init__(self, state_dir, *, mirror: bool = True, **cluster_kw):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        cluster_kw.setdefault("password", admin_password(self.state_dir))
        self.cluster = ExistingCluster(self.state_dir, **cluster_kw)
        self.with_mirror = mirror
        self.mirror = None
        self.catalog: dict = {}

    def _start_mirror(self) -> None:
        from dcos_scaleio.sandbox.mirror import Mirror
        from . import packages
        out = self.state_dir / "mirror"
        catalog_file = out / "catalog.json"
        if catalog_file.exists():
            self.catalog = json.loads(catalog_file.read_text())
        else:
            out.mkdir(parents=True, exist_ok=True)
            self.catalog = packages.build_all(out)
            # catalog.json is written last: its presence means the packages are complete.
            catalog_file.write_text(json.dumps(self.catalog, sort_keys=True))
        self.mirror = Mirror(out).start()

    def start(self) -> "ScaleIOWorld":
        try:
            self.cluster.start()
            if self.with_mirror:
                self._start_mirror()
        except BaseException:
            self.stop()
            raise
        return self

    def info(self) -> dict:
        info = self.cluster.info()
        if self.mirror is not None:
            files = self.mirror.index
            info.update({"mirror_url": self.mirror.url, "mirror_catalog": self.catalog,
                         "mirror_files": {f: v for f, v in files.items() if f != "catalog.json"}})
        return info

    def stop(self) -> None:
        if self.mirror is not None:
            self.mirror.stop()
            self.mirror = None
        self.cluster.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dcos_scaleio.sandbox scaleio",
                                 description="Run a pre-built ScaleIO system, its gateway and the package mirror.")
    ap.add_argument("--state-dir", help="where the system's state lives (reused if it exists)")
    ap.add_argument("--ip-prefix", default="127.0.10", help="first three octets of the members' addresses")
    ap.add_argument("--mode", default="3_node", choices=["1_node", "3_node", "5_node"])
    ap.add_argument("--gateway-port", type=int, default=0, help="HTTPS port of the gateway (0: a free one)")
    ap.add_argument("--sds-count", type=int, default=3)
    ap.add_argument("--no-mirror", action="store_true", help="do not build/serve the package mirror")
    args = ap.parse_args(argv)

    temp = None
    if args.state_dir:
        state_dir = Path(args.state_dir).resolve()
    else:
        temp = state_dir = Path(tempfile.mkdtemp(prefix="scaleio-sandbox-"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    world = ScaleIOWorld(state_dir, mirror=not args.no_mirror, ip_prefix=args.ip_prefix, mode=args.mode,
                         gateway_port=args.gateway_port, sds_count=args.sds_count)
    try:
        try:
            world.start()
        except OSError as exc:
            print(f"scaleio sandbox: cannot start: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(world.info(), sort_keys=True), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        world.stop()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
