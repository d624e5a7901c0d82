"""One simulated ScaleIO system (MDM cluster + storage objects), shared by many processes.

Usage::

    from dcos_scaleio.sandbox.scaleio.system import System
    s = System.open("/tmp/sio-state", actor="scli@agent-1")
    s.create_cluster("127.0.1.1", master_name="mdm1")
    s.login("admin", "admin"); s.set_password("admin", "admin", "Scaleio123")
    pd = s.add_protection_domain("pd1")
    sp = s.add_storage_pool(pd.id, "sp1")
    sds = s.add_sds(pd.id, ["127.0.1.1"], name="sds-a", devices=[("/dev/sdb", sp.id)])

Contracts:

- State lives in SQLite under ``state_dir`` (see :mod:`.store`); every public method is one short
  transaction, so any number of processes may call them at once and a process killed at any moment
  leaves a consistent system.
- Every mutating method appends one :class:`~.records.Event` (who, what, when, outcome) in the same
  transaction as its effect; a refusal is logged as ``outcome="refused"`` and raised as a typed
  :class:`~.errors.ScaleIOError` carrying the MDM status text. Secrets are never logged.
- Objects are addressed by keyword selectors (``id=``, ``name=``, ``ip=``, ...); unknown objects raise
  :class:`~.errors.NotFound`. Lookups of names are exact and case-sensitive, as in ScaleIO.
- Reachability: with ``check_reachability=True`` (default) the MDM refuses to add an SDS whose IPs do
  not answer on 7072, and an MDM member that does not answer on 9011, as the real MDM does.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
import json
import math
import os
import re
import secrets
import threading
import time
import uuid
from typing import Callable, Iterable, Sequence

from . import probe
from .errors import (AlreadyExists, AlreadyMapped, AuthFailed, InsufficientCapacity, InvalidParameter,
                     InvalidSession, InvalidState, NoCluster, NotFound, NotMapped, ScaleIOError, Unreachable)
from .records import (KB_PER_GB, Capacity, Cluster, Device, Event, HostDisk, LoginResult, Mdm,
                      ProtectionDomain, Sdc, Sds, SdsIp, StoragePool, Volume)
from .store import Store

DEFAULT_PASSWORD = "admin"
ADMIN_USER = "admin"
VOLUME_GRANULARITY_GB = 8
MIN_DEVICE_GB = 90          # ScaleIO refuses devices smaller than 90 GB
MAX_NAME_LEN = 31           # ScaleIO object names are limited to 31 characters
CLUSTER_MODES = {"1_node": (0, 0), "3_node": (1, 1), "5_node": (2, 2)}   # mode -> (slaves, tie-breakers)
MEDIA_TYPES = ("HDD", "SSD", "TRANSITIONAL")
SDS_IP_ROLES = ("all", "sdc_only", "sds_only")
PBKDF2_ROUNDS = 20000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:\-]+$")
_GUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _mutation(op: str, secret: Sequence[str] = ()):
    """Decorate a mutating method: run it in one write transaction and log the event.

    The method runs with ``self._c`` bound to the transaction's connection. It may call
    ``self._noop()`` to log ``outcome="noop"`` instead of ``"applied"``. A :class:`ScaleIOError` rolls the
    transaction back and is logged as ``"refused"`` in a separate transaction, then re-raised.
    """
    def deco(fn):
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            bound = sig.bind(self, *a, **kw)
            bound.apply_defaults()
            args = {k: ("***" if k in secret and v is not None else _jsonable(v))
                    for k, v in bound.arguments.items() if k != "self"}
            try:
                with self._store.write() as c:
                    self._c = c
                    self._noop_flag = False
                    result = fn(self, *a, **kw)
                    self._log(c, op, args, "noop" if self._noop_flag else "applied", None)
                return result
            except ScaleIOError as err:
                with self._store.write() as c:
                    self._log(c, op, args, "refused", err)
                raise
        return wrapper
    return deco


class System:
    """Handle on one simulated ScaleIO system. Cheap to create; open one per process (or per actor)."""

    def __init__(self, state_dir, *, actor: str | None = None, check_reachability: bool = True):
        self._store = Store(state_dir)
        self.state_dir = self._store.state_dir
        self.actor = actor or f"pid{os.getpid()}"
        self.check_reachability = check_reachability
        self._tl = threading.local()   # the running mutation's connection/flags, per thread

    @property
    def _c(self):
        return self._tl.c

    @_c.setter
    def _c(self, conn):
        self._tl.c = conn

    @property
    def _noop_flag(self) -> bool:
        return getattr(self._tl, "noop", False)

    @_noop_flag.setter
    def _noop_flag(self, value: bool) -> None:
        self._tl.noop = value

    @classmethod
    def open(cls, state_dir, *, actor: str | None = None, check_reachability: bool = True) -> "System":
        """Open (creating if needed) the system whose state lives in ``state_dir``.

        ``actor`` names who acts in the event log (e.g. ``"gateway"``, ``"scli@agent-2"``).
        """
        return cls(state_dir, actor=actor, check_reachability=check_reachability)

    def as_actor(self, actor: str) -> "System":
        """Another handle on the same system that logs as ``actor``."""
        return System(self.state_dir, actor=actor, check_reachability=self.check_reachability)

    def close(self) -> None:
        self._store.close()

    @property
    def db_path(self):
        return self._store.path

    # ------------------------------------------------------------------ internals
    def _noop(self) -> None:
        self._noop_flag = True

    def _log(self, c, op, args, outcome, err) -> None:
        error = f"{type(err).__name__}: {err.message}" if err is not None else None
        c.execute("INSERT INTO event (ts, actor, op, args, outcome, error) VALUES (?,?,?,?,?,?)",
                  (time.time(), self.actor, op, json.dumps(args, sort_keys=True), outcome, error))

    def _meta(self, c, key, default=None):
        row = c.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, c, key, value) -> None:
        if value is None:
            c.execute("DELETE FROM meta WHERE key=?", (key,))
        else:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", (key, str(value)))

    def _new_id(self, c, kind: str) -> str:
        """A ScaleIO-looking 16-hex-digit id: a random per-object word + a per-kind counter."""
        n = int(self._meta(c, f"seq:{kind}", "0"))
        self._set_meta(c, f"seq:{kind}", n + 1)
        while True:
            oid = f"{secrets.randbits(32):08x}{n:08x}"
            if not c.execute(f"SELECT 1 FROM {kind} WHERE id=?", (oid,)).fetchone():
                return oid

    def _require_cluster(self, c) -> None:
        if self._meta(c, "cluster_mode") is None:
            raise NoCluster()

    @staticmethod
    def _check_name(name: str | None, what: str) -> None:
        if name is None:
            return
        if not name or len(name) > MAX_NAME_LEN or not _NAME_RE.match(name):
            raise InvalidParameter(f"Invalid {what} name: {name!r} (1-{MAX_NAME_LEN} characters: letters, "
                                   f"digits, '_', '-', '.', ':')")

    @staticmethod
    def _check_ip(ip: str) -> None:
        if not isinstance(ip, str) or not probe.valid_ip(ip):
            raise InvalidParameter(f"Invalid IP address: {ip!r}")

    def _reachable(self, ip: str, port: int) -> bool:
        return not self.check_reachability or probe.tcp_listening(ip, port)

    # ------------------------------------------------------------------ row -> record
    def _mdm_rec(self, r) -> Mdm:
        return Mdm(r["id"], r["name"], tuple(json.loads(r["ips"])), tuple(json.loads(r["mgmt_ips"])),
                   r["port"], r["role"], r["status"])

    @staticmethod
    def _pd_rec(r) -> ProtectionDomain:
        return ProtectionDomain(r["id"], r["name"], r["state"])

    @staticmethod
    def _pool_rec(r) -> StoragePool:
        return StoragePool(r["id"], r["name"], r["pd_id"], r["media_type"], bool(r["zero_padding"]),
                           r["spare_pct"])

    @staticmethod
    def _sds_rec(c, r) -> Sds:
        ips = tuple(SdsIp(x["ip"], x["role"]) for x in
                    c.execute("SELECT ip, role FROM sds_ip WHERE sds_id=? ORDER BY pos", (r["id"],)))
        return Sds(r["id"], r["name"], r["pd_id"], ips, r["port"])

    @staticmethod
    def _dev_rec(r) -> Device:
        return Device(r["id"], r["name"], r["path"], r["sds_id"], r["pool_id"], r["size_kb"])

    @staticmethod
    def _sdc_rec(r) -> Sdc:
        return Sdc(r["id"], r["guid"], r["ip"], r["name"], bool(r["connected"]), bool(r["approved"]))

    @staticmethod
    def _vol_rec(c, r) -> Volume:
        sdcs = tuple(x[0] for x in c.execute("SELECT sdc_id FROM mapping WHERE volume_id=? ORDER BY sdc_id",
                                             (r["id"],)))
        return Volume(r["id"], r["name"], r["pool_id"], r["size_kb"], bool(r["thin"]), sdcs, r["created"])

    # ------------------------------------------------------------------ finders (inside a transaction)
    def _find_mdm(self, c, *, id=None, name=None, ip=None):
        if id:
            r = c.execute("SELECT * FROM mdm WHERE id=?", (id,)).fetchone()
        elif name:
            r = c.execute("SELECT * FROM mdm WHERE name=?", (name,)).fetchone()
        elif ip:
            r = c.execute("SELECT m.* FROM mdm m JOIN mdm_ip i ON i.mdm_id=m.id WHERE i.ip=?", (ip,)).fetchone()
        else:
            raise InvalidParameter("An MDM must be identified by id, name or IP")
        if r is None:
            raise NotFound("Could not find the MDM")
        return r

    def _find_pd(self, c, *, id=None, name=None):
        if id:
            r = c.execute("SELECT * FROM pd WHERE id=?", (id,)).fetchone()
        elif name:
            r = c.execute("SELECT * FROM pd WHERE name=?", (name,)).fetchone()
        else:
            raise InvalidParameter("A Protection Domain must be identified by id or name")
        if r is None:
            raise NotFound("Could not find the Protection Domain")
        return r

    def _find_pool(self, c, *, id=None, name=None, pd_id=None, pd_name=None):
        if id:
            r = c.execute("SELECT * FROM pool WHERE id=?", (id,)).fetchone()
        elif name:
            if pd_id or pd_name:
                pd = self._find_pd(c, id=pd_id, name=pd_name)
                r = c.execute("SELECT * FROM pool WHERE pd_id=? AND name=?", (pd["id"], name)).fetchone()
            else:
                rows = c.execute("SELECT * FROM pool WHERE name=?", (name,)).fetchall()
                if len(rows) > 1:
                    raise InvalidParameter("Storage Pool name is not unique; specify the Protection Domain")
                r = rows[0] if rows else None
        else:
            raise InvalidParameter("A Storage Pool must be identified by id or name")
        if r is None:
            raise NotFound("Could not find the Storage Pool")
        return r

    def _find_sds(self, c, *, id=None, name=None, ip=None):
        if id:
            r = c.execute("SELECT * FROM sds WHERE id=?", (id,)).fetchone()
        elif name:
            r = c.execute("SELECT * FROM sds WHERE name=?", (name,)).fetchone()
        elif ip:
            r = c.execute("SELECT s.* FROM sds s JOIN sds_ip i ON i.sds_id=s.id WHERE i.ip=?", (ip,)).fetchone()
        else:
            raise InvalidParameter("An SDS must be identified by id, name or IP")
        if r is None:
            raise NotFound("Could not find the SDS")
        return r

    def _find_device(self, c, *, id=None, sds_id=None, sds_name=None, sds_ip=None, path=None, name=None):
        if id:
            r = c.execute("SELECT * FROM device WHERE id=?", (id,)).fetchone()
        elif path or name:
            sds = self._find_sds(c, id=sds_id, name=sds_name, ip=sds_ip)
            col, val = ("path", path) if path else ("name", name)
            r = c.execute(f"SELECT * FROM device WHERE sds_id=? AND {col}=?", (sds["id"], val)).fetchone()
        else:
            raise InvalidParameter("A device must be identified by id, or by SDS and path or name")
        if r is None:
            raise NotFound("Could not find the device")
        return r

    def _find_sdc(self, c, *, id=None, guid=None, ip=None, name=None):
        if id:
            r = c.execute("SELECT * FROM sdc WHERE id=?", (id,)).fetchone()
        elif guid:
            r = c.execute("SELECT * FROM sdc WHERE guid=?", (guid.upper(),)).fetchone()
        elif ip:
            r = c.execute("SELECT * FROM sdc WHERE ip=? ORDER BY connected DESC", (ip,)).fetchone()
        elif name:
            r = c.execute("SELECT * FROM sdc WHERE name=?", (name,)).fetchone()
        else:
            raise InvalidParameter("An SDC must be identified by id, GUID, IP or name")
        if r is None:
            raise NotFound("Could not find the SDC")
        return r

    def _find_volume(self, c, *, id=None, name=None):
        if id:
            r = c.execute("SELECT * FROM volume WHERE id=?", (id,)).fetchone()
        elif name:
            r = c.execute("SELECT * FROM volume WHERE name=?", (name,)).fetchone()
        else:
            raise InvalidParameter("A volume must be identified by id or name")
        if r is None:
            raise NotFound("Could not find the volume")
        return r

    # ------------------------------------------------------------------ MDM cluster
    def cluster(self) -> Cluster:
        """The cluster state (``created=False`` before ``create_cluster``)."""
        with self._store.read() as c:
            mode = self._meta(c, "cluster_mode")
            members = tuple(self._mdm_rec(r) for r in c.execute("SELECT * FROM mdm ORDER BY seq"))
            user = c.execute("SELECT changed FROM app_user WHERE name=?", (ADMIN_USER,)).fetchone()
            return Cluster(created=mode is not None, system_id=self._meta(c, "system_id"),
                           system_name=self._meta(c, "system_name"), install_id=self._meta(c, "install_id"),
                           mode=mode, members=members, password_changed=bool(user and user[0]),
                           restricted_sdc_mode=self._meta(c, "restricted_sdc_mode") == "1")

    def _insert_mdm(self, c, ips, mgmt_ips, name, port, role, status) -> Mdm:
        for ip in list(ips) + list(mgmt_ips):
            self._check_ip(ip)
        if not ips:
            raise InvalidParameter("An MDM needs at least one IP")
        for ip in ips:
            if c.execute("SELECT 1 FROM mdm_ip WHERE ip=?", (ip,)).fetchone():
                raise AlreadyExists(f"An MDM with IP {ip} already exists in the system")
        mid = self._new_id(c, "mdm")
        seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM mdm").fetchone()[0]
        name = name or f"mdm_{mid[:8]}"
        self._check_name(name, "MDM")
        if c.execute("SELECT 1 FROM mdm WHERE name=?", (name,)).fetchone():
            raise AlreadyExists("An MDM with the same name already exists")
        c.execute("INSERT INTO mdm (id, name, ips, mgmt_ips, port, role, status, seq) VALUES (?,?,?,?,?,?,?,?)",
                  (mid, name, json.dumps(list(ips)), json.dumps(list(mgmt_ips)), port, role, status, seq))
        for ip in ips:
            c.execute("INSERT INTO mdm_ip (ip, mdm_id) VALUES (?,?)", (ip, mid))
        return self._mdm_rec(c.execute("SELECT * FROM mdm WHERE id=?", (mid,)).fetchone())

    @_mutation("create_cluster")
    def create_cluster(self, master_ip: str, *, master_management_ip: str | None = None,
                       master_name: str | None = None, port: int = probe.MDM_PORT) -> Cluster:
        """Create a 1_node cluster with this MDM as master (``scli --create_mdm_cluster``).

        The admin password becomes the default ``admin`` (to be changed with :meth:`set_password`).
        Refused with AlreadyExists if a cluster exists; Unreachable if nothing answers on
        ``master_ip:9011`` (the MDM service is not running).
        """
        c = self._c
        if self._meta(c, "cluster_mode") is not None:
            raise AlreadyExists("The MDM is already part of an MDM cluster")
        self._check_ip(master_ip)
        if not self._reachable(master_ip, port):
            raise Unreachable(f"Could not connect to the MDM at {master_ip}:{port}")
        mgmt = [master_management_ip] if master_management_ip else [master_ip]
        self._insert_mdm(c, [master_ip], mgmt, master_name, port, "manager", "master")
        self._set_meta(c, "cluster_mode", "1_node")
        self._set_meta(c, "system_id", secrets.token_hex(8))
        self._set_meta(c, "install_id", secrets.token_hex(8))
        self._set_user_password(c, ADMIN_USER, DEFAULT_PASSWORD, changed=False)
        return self.cluster()

    @_mutation("add_standby_mdm")
    def add_standby_mdm(self, ip: str, *, role: str = "manager", management_ip: str | None = None,
                        name: str | None = None, port: int = probe.MDM_PORT) -> Mdm:
        """Add a standby MDM (``role`` ``"manager"`` or ``"tb"``); it joins the cluster on switch_cluster_mode."""
        c = self._c
        self._require_cluster(c)
        if role not in ("manager", "tb"):
            raise InvalidParameter(f"Invalid MDM role: {role!r}")
        self._check_ip(ip)
        if not self._reachable(ip, port):
            raise Unreachable(f"Could not connect to the MDM at {ip}:{port}")
        mgmt = [] if role == "tb" else [management_ip or ip]
        return self._insert_mdm(c, [ip], mgmt, name, port, role, "standby")

    @_mutation("remove_standby_mdm")
    def remove_standby_mdm(self, *, id: str | None = None, name: str | None = None, ip: str | None = None) -> None:
        """Remove a standby MDM. Refused (InvalidState) for an active member."""
        c = self._c
        self._require_cluster(c)
        r = self._find_mdm(c, id=id, name=name, ip=ip)
        if r["status"] != "standby":
            raise InvalidState("The MDM is an active member of the cluster; switch the cluster mode first")
        c.execute("DELETE FROM mdm_ip WHERE mdm_id=?", (r["id"],))
        c.execute("DELETE FROM mdm WHERE id=?", (r["id"],))

    @_mutation("switch_cluster_mode")
    def switch_cluster_mode(self, mode: str, *, add_slaves: Iterable[str] = (), add_tbs: Iterable[str] = (),
                            remove_slaves: Iterable[str] = (), remove_tbs: Iterable[str] = ()) -> Cluster:
        """Change the cluster mode, promoting standbys / demoting members (each given by name, IP or id).

        The result must have exactly the slaves and tie-breakers the mode needs (0/0, 1/1, 2/2);
        added members must be standbys of the matching role. Switching to the current mode with no
        changes is a no-op.
        """
        c = self._c
        self._require_cluster(c)
        if mode not in CLUSTER_MODES:
            raise InvalidParameter(f"Invalid cluster mode: {mode!r} (expected 1_node, 3_node or 5_node)")

        def resolve(ref):
            r = c.execute("SELECT m.* FROM mdm m LEFT JOIN mdm_ip i ON i.mdm_id=m.id "
                          "WHERE m.id=? OR m.name=? OR i.ip=?", (ref, ref, ref)).fetchone()
            if r is None:
                raise NotFound(f"Could not find the MDM {ref}")
            return r

        changes = []
        for ref in remove_slaves:
            r = resolve(ref)
            if r["status"] != "slave":
                raise InvalidState(f"MDM {r['name']} is not a slave MDM")
            changes.append((r["id"], "standby"))
        for ref in remove_tbs:
            r = resolve(ref)
            if r["status"] != "tb":
                raise InvalidState(f"MDM {r['name']} is not a tie-breaker")
            changes.append((r["id"], "standby"))
        for ref, want_role, status in [(x, "manager", "slave") for x in add_slaves] + \
                                      [(x, "tb", "tb") for x in add_tbs]:
            r = resolve(ref)
            if r["status"] != "standby":
                raise InvalidState(f"MDM {r['name']} is not a standby MDM")
            if r["role"] != want_role:
                raise InvalidState(f"MDM {r['name']} has role {r['role']}, not {want_role}")
            changes.append((r["id"], status))
        current = self._meta(c, "cluster_mode")
        if not changes and mode == current:
            self._noop()
        for mid, status in changes:
            c.execute("UPDATE mdm SET status=? WHERE id=?", (status, mid))
        slaves = c.execute("SELECT COUNT(*) FROM mdm WHERE status='slave'").fetchone()[0]
        tbs = c.execute("SELECT COUNT(*) FROM mdm WHERE status='tb'").fetchone()[0]
        if (slaves, tbs) != CLUSTER_MODES[mode]:
            raise InvalidState(f"Cannot switch to {mode}: the cluster would have {slaves} slave MDM(s) and "
                               f"{tbs} tie-breaker(s), {mode} needs {CLUSTER_MODES[mode][0]} and "
                               f"{CLUSTER_MODES[mode][1]}")
        self._set_meta(c, "cluster_mode", mode)
        return self.cluster()

    @_mutation("rename_system")
    def rename_system(self, new_name: str) -> None:
        """Name the system (``scli --rename_system``)."""
        c = self._c
        self._require_cluster(c)
        self._check_name(new_name, "system")
        if self._meta(c, "system_name") == new_name:
            self._noop()
        self._set_meta(c, "system_name", new_name)

    @_mutation("set_restricted_sdc_mode")
    def set_restricted_sdc_mode(self, enabled: bool) -> None:
        """In restricted mode only approved SDCs (see :meth:`approve_sdc`) may connect."""
        c = self._c
        self._require_cluster(c)
        self._set_meta(c, "restricted_sdc_mode", "1" if enabled else None)

    # ------------------------------------------------------------------ users, passwords, sessions
    @staticmethod
    def _hash(password: str, salt: bytes) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS)

    def _set_user_password(self, c, user, password, *, changed: bool) -> None:
        salt = os.urandom(16)
        c.execute("INSERT OR REPLACE INTO app_user (name, salt, hash, changed) VALUES (?,?,?,?)",
                  (user, salt, self._hash(password, salt), int(changed)))

    def _verify(self, c, user, password) -> bool:
        r = c.execute("SELECT salt, hash FROM app_user WHERE name=?", (user,)).fetchone()
        if r is None or not isinstance(password, str):
            return False
        return hmac.compare_digest(self._hash(password, r["salt"]), r["hash"])

    def login(self, user: str, password: str) -> LoginResult:
        """Check credentials against the MDM's users (``scli --login``, the gateway's /api/login).

        Raises NoCluster before the cluster exists, AuthFailed on a bad user or password. Not logged
        as an event (it changes nothing) -- sessions are the caller's, see :meth:`open_session`.
        """
        with self._store.read() as c:
            self._require_cluster(c)
            if not self._verify(c, user, password):
                raise AuthFailed()
            changed = c.execute("SELECT changed FROM app_user WHERE name=?", (user,)).fetchone()[0]
            return LoginResult(user, not changed, self._meta(c, "system_id"))

    @_mutation("set_password", secret=("old_password", "new_password"))
    def set_password(self, user: str, old_password: str, new_password: str) -> None:
        """Change a user's password (``scli --set_password``). AuthFailed if ``old_password`` is wrong."""
        c = self._c
        self._require_cluster(c)
        if not self._verify(c, user, old_password):
            raise AuthFailed()
        if not new_password or len(new_password) < 6:
            raise InvalidParameter("The new password does not meet the password policy")
        self._set_user_password(c, user, new_password, changed=True)

    @_mutation("reset_password", secret=("new_password",))
    def reset_password(self, user: str, new_password: str, *, changed: bool = True) -> None:
        """Set a password without knowing the old one (an operator's recovery path; tests, pre-built systems)."""
        c = self._c
        self._require_cluster(c)
        self._set_user_password(c, user, new_password, changed=changed)

    @staticmethod
    def _token_hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def open_session(self, kind: str, user: str, *, ttl_s: float | None = None) -> str:
        """Create a session of ``kind`` (e.g. ``"gateway"``, ``"scli:agent-1:root"``) and return its token.

        Only a hash of the token is stored. ``ttl_s=None`` means no expiry.
        """
        token = secrets.token_urlsafe(24)
        now = time.time()
        with self._store.write() as c:
            c.execute("DELETE FROM session WHERE expires IS NOT NULL AND expires < ?", (now,))
            c.execute("INSERT INTO session (token_hash, kind, user, created, expires) VALUES (?,?,?,?,?)",
                      (self._token_hash(token), kind, user, now, now + ttl_s if ttl_s else None))
        return token

    def check_session(self, kind: str, token: str | None) -> str:
        """The user of a live session, or InvalidSession (unknown, closed or expired token)."""
        if not token:
            raise InvalidSession()
        with self._store.read() as c:
            r = c.execute("SELECT user, expires FROM session WHERE token_hash=? AND kind=?",
                          (self._token_hash(token), kind)).fetchone()
        if r is None or (r["expires"] is not None and r["expires"] < time.time()):
            raise InvalidSession()
        return r["user"]

    def close_session(self, kind: str, token: str | None) -> bool:
        """End a session; True if it existed."""
        if not token:
            return False
        with self._store.write() as c:
            return c.execute("DELETE FROM session WHERE token_hash=? AND kind=?",
                             (self._token_hash(token), kind)).rowcount > 0

    def expire_sessions(self, kind: str | None = None) -> int:
        """Fault injection: every session of ``kind`` (or all) expires now. Returns how many.

        ``kind`` also matches its qualified forms ``kind@...`` (each gateway's sessions are of kind
        ``gateway@<ip>:<port>``, so ``expire_sessions("gateway")`` expires the tokens of every gateway).
        """
        with self._store.write() as c:
            if kind is None:
                return c.execute("DELETE FROM session").rowcount
            return c.execute("DELETE FROM session WHERE kind=? OR substr(kind, 1, ?)=?",
                             (kind, len(kind) + 1, kind + "@")).rowcount

    # ------------------------------------------------------------------ protection domains
    def protection_domains(self) -> list[ProtectionDomain]:
        with self._store.read() as c:
            return [self._pd_rec(r) for r in c.execute("SELECT * FROM pd ORDER BY id")]

    def protection_domain(self, *, id: str | None = None, name: str | None = None) -> ProtectionDomain:
        with self._store.read() as c:
            return self._pd_rec(self._find_pd(c, id=id, name=name))

    @_mutation("add_protection_domain")
    def add_protection_domain(self, name: str) -> ProtectionDomain:
        c = self._c
        self._require_cluster(c)
        self._check_name(name, "Protection Domain")
        if c.execute("SELECT 1 FROM pd WHERE name=?", (name,)).fetchone():
            raise AlreadyExists("A Protection Domain with the same name already exists")
        pid = self._new_id(c, "pd")
        c.execute("INSERT INTO pd (id, name, state) VALUES (?,?,?)", (pid, name, "Active"))
        return ProtectionDomain(pid, name, "Active")

    @_mutation("remove_protection_domain")
    def remove_protection_domain(self, *, id: str | None = None, name: str | None = None) -> None:
        """Refused (InvalidState) while the domain still has storage pools or SDSs."""
        c = self._c
        r = self._find_pd(c, id=id, name=name)
        if c.execute("SELECT 1 FROM pool WHERE pd_id=?", (r["id"],)).fetchone() or \
                c.execute("SELECT 1 FROM sds WHERE pd_id=?", (r["id"],)).fetchone():
            raise InvalidState("The Protection Domain still has Storage Pools or SDSs; remove them first")
        c.execute("DELETE FROM pd WHERE id=?", (r["id"],))

    @_mutation("rename_protection_domain")
    def rename_protection_domain(self, new_name: str, *, id: str | None = None, name: str | None = None) -> None:
        c = self._c
        r = self._find_pd(c, id=id, name=name)
        self._check_name(new_name, "Protection Domain")
        if r["name"] == new_name:
            return self._noop()
        if c.execute("SELECT 1 FROM pd WHERE name=?", (new_name,)).fetchone():
            raise AlreadyExists("A Protection Domain with the same name already exists")
        c.execute("UPDATE pd SET name=? WHERE id=?", (new_name, r["id"]))

    # ------------------------------------------------------------------ storage pools
    def storage_pools(self, *, protection_domain_id: str | None = None) -> list[StoragePool]:
        with self._store.read() as c:
            if protection_domain_id:
                rows = c.execute("SELECT * FROM pool WHERE pd_id=? ORDER BY id", (protection_domain_id,))
            else:
                rows = c.execute("SELECT * FROM pool ORDER BY id")
            return [self._pool_rec(r) for r in rows]

    def storage_pool(self, *, id: str | None = None, name: str | None = None, pd_id: str | None = None,
                     pd_name: str | None = None) -> StoragePool:
        with self._store.read() as c:
            return self._pool_rec(self._find_pool(c, id=id, name=name, pd_id=pd_id, pd_name=pd_name))

    @_mutation("add_storage_pool")
    def add_storage_pool(self, name: str, *, pd_id: str | None = None, pd_name: str | None = None,
                         media_type: str = "HDD", zero_padding: bool = False,
                         spare_percentage: int = 10) -> StoragePool:
        c = self._c
        self._require_cluster(c)
        pd = self._find_pd(c, id=pd_id, name=pd_name)
        self._check_name(name, "Storage Pool")
        if media_type not in MEDIA_TYPES:
            raise InvalidParameter(f"Invalid media type: {media_type!r}")
        self._check_spare(spare_percentage)
        if c.execute("SELECT 1 FROM pool WHERE pd_id=? AND name=?", (pd["id"], name)).fetchone():
            raise AlreadyExists("A Storage Pool with the same name already exists in this Protection Domain")
        sid = self._new_id(c, "pool")
        c.execute("INSERT INTO pool (id, pd_id, name, media_type, zero_padding, spare_pct) VALUES (?,?,?,?,?,?)",
                  (sid, pd["id"], name, media_type, int(zero_padding), int(spare_percentage)))
        return StoragePool(sid, name, pd["id"], media_type, bool(zero_padding), int(spare_percentage))

    @staticmethod
    def _check_spare(pct) -> None:
        if not isinstance(pct, int) or isinstance(pct, bool) or not 0 <= pct <= 99:
            raise InvalidParameter(f"Invalid spare percentage: {pct!r} (0-99)")

    @_mutation("remove_storage_pool")
    def remove_storage_pool(self, *, id: str | None = None, name: str | None = None, pd_id: str | None = None,
                            pd_name: str | None = None) -> None:
        """Refused (InvalidState) while the pool has devices or volumes."""
        c = self._c
        r = self._find_pool(c, id=id, name=name, pd_id=pd_id, pd_name=pd_name)
        if c.execute("SELECT 1 FROM device WHERE pool_id=?", (r["id"],)).fetchone() or \
                c.execute("SELECT 1 FROM volume WHERE pool_id=?", (r["id"],)).fetchone():
            raise InvalidState("The Storage Pool still has devices or volumes; remove them first")
        c.execute("DELETE FROM pool WHERE id=?", (r["id"],))

    @_mutation("rename_storage_pool")
    def rename_storage_pool(self, new_name: str, *, id: str | None = None, name: str | None = None,
                            pd_id: str | None = None, pd_name: str | None = None) -> None:
        c = self._c
        r = self._find_pool(c, id=id, name=name, pd_id=pd_id, pd_name=pd_name)
        self._check_name(new_name, "Storage Pool")
        if r["name"] == new_name:
            return self._noop()
        if c.execute("SELECT 1 FROM pool WHERE pd_id=? AND name=?", (r["pd_id"], new_name)).fetchone():
            raise AlreadyExists("A Storage Pool with the same name already exists in this Protection Domain")
        c.execute("UPDATE pool SET name=? WHERE id=?", (new_name, r["id"]))

    @_mutation("set_zero_padding")
    def set_zero_padding(self, enabled: bool, *, id: str | None = None, name: str | None = None,
                         pd_id: str | None = None, pd_name: str | None = None) -> None:
        """Zero padding can only change while the pool has no devices."""
        c = self._c
        r = self._find_pool(c, id=id, name=name, pd_id=pd_id, pd_name=pd_name)
        if bool(r["zero_padding"]) == bool(enabled):
            return self._noop()
        if c.execute("SELECT 1 FROM device WHERE pool_id=?", (r["id"],)).fetchone():
            raise InvalidState("This operation is only allowed when there are no devices in the Storage Pool. "
                               "Please remove all devices from the Storage Pool.")
        c.execute("UPDATE pool SET zero_padding=? WHERE id=?", (int(bool(enabled)), r["id"]))

    @_mutation("set_spare_percentage")
    def set_spare_percentage(self, spare_percentage: int, *, id: str | None = None, name: str | None = None,
                             pd_id: str | None = None, pd_name: str | None = None) -> None:
        """Refused (InsufficientCapacity) if the larger spare would not leave room for the data in use."""
        c = self._c
        r = self._find_pool(c, id=id, name=name, pd_id=pd_id, pd_name=pd_name)
        self._check_spare(spare_percentage)
        if r["spare_pct"] == spare_percentage:
            return self._noop()
        cap = self._pool_capacity(c, r["id"], spare_pct=spare_percentage)
        if cap.in_use_kb > cap.usable_kb:
            raise InsufficientCapacity("Not enough capacity in the Storage Pool for the new spare policy")
        c.execute("UPDATE pool SET spare_pct=? WHERE id=?", (spare_percentage, r["id"]))

    # ------------------------------------------------------------------ capacity
    def _pool_capacity(self, c, pool_id, *, spare_pct=None, exclude_sds=None, exclude_device=None) -> Capacity:
        if spare_pct is None:
            spare_pct = c.execute("SELECT spare_pct FROM pool WHERE id=?", (pool_id,)).fetchone()[0]
        q = "SELECT COALESCE(SUM(size_kb), 0), COUNT(*) FROM device WHERE pool_id=?"
        params = [pool_id]
        if exclude_sds:
            q += " AND sds_id<>?"
            params.append(exclude_sds)
        if exclude_device:
            q += " AND id<>?"
            params.append(exclude_device)
        total, ndev = c.execute(q, params).fetchone()
        vol_kb, nvol = c.execute("SELECT COALESCE(SUM(size_kb), 0), COUNT(*) FROM volume WHERE pool_id=?",
                                 (pool_id,)).fetchone()
        return Capacity(total_kb=total, spare_kb=total * spare_pct // 100, in_use_kb=2 * vol_kb,
                        num_devices=ndev, num_volumes=nvol)

    def pool_capacity(self, *, id: str | None = None, name: str | None = None, pd_id: str | None = None,
                      pd_name: str | None = None) -> Capacity:
        with self._store.read() as c:
            r = self._find_pool(c, id=id, name=name, pd_id=pd_id, pd_name=pd_name)
            return self._pool_capacity(c, r["id"])

    def system_capacity(self, *, pd_id: str | None = None) -> Capacity:
        """Capacity summed over every pool (of one protection domain if ``pd_id``)."""
        with self._store.read() as c:
            q, p = ("SELECT id FROM pool WHERE pd_id=?", (pd_id,)) if pd_id else ("SELECT id FROM pool", ())
            caps = [self._pool_capacity(c, r[0]) for r in c.execute(q, p).fetchall()]
        return Capacity(sum(x.total_kb for x in caps), sum(x.spare_kb for x in caps),
                        sum(x.in_use_kb for x in caps), sum(x.num_devices for x in caps),
                        sum(x.num_volumes for x in caps))

    def _check_migration(self, c, pool_ids, *, exclude_sds=None, exclude_device=None, what="SDS") -> None:
        for pool_id in pool_ids:
            cap = self._pool_capacity(c, pool_id, exclude_sds=exclude_sds, exclude_device=exclude_device)
            if cap.in_use_kb > cap.usable_kb:
                raise InsufficientCapacity(f"Not enough free capacity in the Storage Pool to migrate the data "
                                           f"off the {what}")

    # ------------------------------------------------------------------ host disks (published by hosts)
    def set_host_disks(self, ip: str, disks: Iterable[dict]) -> None:
        """Publish the disks the host at ``ip`` has, replacing what it published before.

        Each disk is ``{"path": "/dev/sdb", "size_gb": 100 | "size_kb": N, "has_data": False}``. The MDM
        consults them when a device is added to an SDS with that IP (size, existing data, existence).
        Called by the host side (SDS daemon / agent provisioning), not by the framework.
        """
        self._check_ip(ip)
        rows = []
        for d in disks:
            size_kb = d.get("size_kb", int(d.get("size_gb", 0) * KB_PER_GB))
            rows.append((ip, d["path"], int(size_kb), int(bool(d.get("has_data", False)))))
        with self._store.write() as c:
            c.execute("DELETE FROM host_disk WHERE ip=?", (ip,))
            c.executemany("INSERT INTO host_disk (ip, path, size_kb, has_data) VALUES (?,?,?,?)", rows)

    def host_disks(self, ip: str) -> list[HostDisk]:
        with self._store.read() as c:
            return [HostDisk(r["ip"], r["path"], r["size_kb"], bool(r["has_data"]))
                    for r in c.execute("SELECT * FROM host_disk WHERE ip=? ORDER BY path", (ip,))]

    # ------------------------------------------------------------------ SDS and devices
    def sds_list(self, *, protection_domain_id: str | None = None) -> list[Sds]:
        with self._store.read() as c:
            if protection_domain_id:
                rows = c.execute("SELECT * FROM sds WHERE pd_id=? ORDER BY id", (protection_domain_id,)).fetchall()
            else:
                rows = c.execute("SELECT * FROM sds ORDER BY id").fetchall()
            return [self._sds_rec(c, r) for r in rows]

    def sds(self, *, id: str | None = None, name: str | None = None, ip: str | None = None) -> Sds:
        with self._store.read() as c:
            return self._sds_rec(c, self._find_sds(c, id=id, name=name, ip=ip))

    def sds_connected(self, sds: Sds) -> bool:
        """Whether the SDS service answers on one of its IPs (what "State: Connected" reflects)."""
        return any(probe.tcp_listening(i.ip, sds.port, timeout=0.5) for i in sds.ips if i.role != "sdc_only")

    @_mutation("add_sds")
    def add_sds(self, ips: Sequence[str | tuple[str, str]], *, pd_id: str | None = None,
                pd_name: str | None = None, name: str | None = None, port: int = probe.SDS_PORT,
                devices: Iterable[dict | tuple] = (), force_device_takeover: bool = False) -> Sds:
        """Add an SDS (``scli --add_sds``; REST ``POST /api/types/Sds/instances``).

        ``ips``: IPs, or ``(ip, role)`` pairs with role ``all``/``sdc_only``/``sds_only``.
        ``devices``: dicts ``{"path", "pool_id" | "pool_name", "name"?, "size_kb"?}`` or tuples
        ``(path, pool_id[, name])``; they are added atomically with the SDS.
        Refusals: AlreadyExists ("SDS IP address already in use", name taken), Unreachable (nothing on
        ``ip:7072``: the SDS service is not running), plus any device refusal of :meth:`add_device`.
        """
        c = self._c
        self._require_cluster(c)
        pd = self._find_pd(c, id=pd_id, name=pd_name)
        pairs = [(x, "all") if isinstance(x, str) else (x[0], x[1]) for x in ips]
        if not pairs:
            raise InvalidParameter("An SDS needs at least one IP")
        for ip, role in pairs:
            self._check_ip(ip)
            if role not in SDS_IP_ROLES:
                raise InvalidParameter(f"Invalid SDS IP role: {role!r}")
        if len({ip for ip, _ in pairs}) != len(pairs):
            raise InvalidParameter("Duplicate SDS IP")
        for ip, _ in pairs:
            if c.execute("SELECT 1 FROM sds_ip WHERE ip=?", (ip,)).fetchone():
                raise AlreadyExists("SDS IP address already in use")
        sid = self._new_id(c, "sds")
        name = name or f"SDS_{pairs[0][0]}"
        self._check_name(name, "SDS")
        if c.execute("SELECT 1 FROM sds WHERE name=?", (name,)).fetchone():
            raise AlreadyExists("An SDS with the same name already exists")
        if not any(self._reachable(ip, port) for ip, role in pairs if role != "sdc_only"):
            raise Unreachable(f"Could not connect to the SDS at {pairs[0][0]}:{port}. "
                              f"Make sure the SDS service is running")
        c.execute("INSERT INTO sds (id, name, pd_id, port) VALUES (?,?,?,?)", (sid, name, pd["id"], port))
        for pos, (ip, role) in enumerate(pairs):
            c.execute("INSERT INTO sds_ip (ip, sds_id, role, pos) VALUES (?,?,?,?)", (ip, sid, role, pos))
        for d in devices:
            if not isinstance(d, dict):
                d = {"path": d[0], "pool_id": d[1], "name": d[2] if len(d) > 2 else None}
            self._add_device(c, sid, d["path"], pool_id=d.get("pool_id"), pool_name=d.get("pool_name"),
                             name=d.get("name"), size_kb=d.get("size_kb"), force=force_device_takeover)
        return self._sds_rec(c, c.execute("SELECT * FROM sds WHERE id=?", (sid,)).fetchone())

    @_mutation("remove_sds")
    def remove_sds(self, *, id: str | None = None, name: str | None = None, ip: str | None = None) -> None:
        """Remove an SDS; its data migrates to the other SDSs of each pool (instantly in the sandbox).

        Refused (InsufficientCapacity) when the remaining devices cannot hold the data in use.
        """
        c = self._c
        r = self._find_sds(c, id=id, name=name, ip=ip)
        pools = [x[0] for x in c.execute("SELECT DISTINCT pool_id FROM device WHERE sds_id=?", (r["id"],))]
        self._check_migration(c, pools, exclude_sds=r["id"], what="SDS")
        c.execute("DELETE FROM device WHERE sds_id=?", (r["id"],))
        c.execute("DELETE FROM sds_ip WHERE sds_id=?", (r["id"],))
        c.execute("DELETE FROM sds WHERE id=?", (r["id"],))

    @_mutation("rename_sds")
    def rename_sds(self, new_name: str, *, id: str | None = None, name: str | None = None,
                   ip: str | None = None) -> None:
        c = self._c
        r = self._find_sds(c, id=id, name=name, ip=ip)
        self._check_name(new_name, "SDS")
        if r["name"] == new_name:
            return self._noop()
        if c.execute("SELECT 1 FROM sds WHERE name=?", (new_name,)).fetchone():
            raise AlreadyExists("An SDS with the same name already exists")
        c.execute("UPDATE sds SET name=? WHERE id=?", (new_name, r["id"]))

    def devices(self, *, sds_id: str | None = None, pool_id: str | None = None) -> list[Device]:
        with self._store.read() as c:
            q, p = "SELECT * FROM device WHERE 1=1", []
            if sds_id:
                q, p = q + " AND sds_id=?", p + [sds_id]
            if pool_id:
                q, p = q + " AND pool_id=?", p + [pool_id]
            return [self._dev_rec(r) for r in c.execute(q + " ORDER BY id", p)]

    def device(self, *, id: str | None = None, sds_id: str | None = None, sds_name: str | None = None,
               sds_ip: str | None = None, path: str | None = None, name: str | None = None) -> Device:
        with self._store.read() as c:
            return self._dev_rec(self._find_device(c, id=id, sds_id=sds_id, sds_name=sds_name, sds_ip=sds_ip,
                                                   path=path, name=name))

    def _add_device(self, c, sds_id, path, *, pool_id=None, pool_name=None, name=None, size_kb=None,
                    force=False) -> Device:
        sds = c.execute("SELECT * FROM sds WHERE id=?", (sds_id,)).fetchone()
        if pool_id or pool_name:
            pool = self._find_pool(c, id=pool_id, name=pool_name, pd_id=None if pool_id else sds["pd_id"])
        else:
            raise InvalidParameter("A Storage Pool must be given for the device")
        if pool["pd_id"] != sds["pd_id"]:
            raise InvalidState("The Storage Pool and the SDS belong to different Protection Domains")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidParameter(f"Invalid device path: {path!r}")
        self._check_name(name, "device")
        if c.execute("SELECT 1 FROM device WHERE sds_id=? AND path=?", (sds_id, path)).fetchone():
            raise AlreadyExists(f"The device {path} is already added to this SDS")
        if name and c.execute("SELECT 1 FROM device WHERE sds_id=? AND name=?", (sds_id, name)).fetchone():
            raise AlreadyExists("A device with the same name already exists on this SDS")
        ips = [x[0] for x in c.execute("SELECT ip FROM sds_ip WHERE sds_id=? ORDER BY pos", (sds_id,))]
        disk = None
        for ip in ips:
            disk = c.execute("SELECT * FROM host_disk WHERE ip=? AND path=?", (ip, path)).fetchone() or disk
        if size_kb is None:
            if disk is None:
                raise NotFound(f"SDS failed to open the device {path}: no such device")
            size_kb = disk["size_kb"]
        if disk is not None and disk["has_data"] and not force:
            raise InvalidState(f"The device {path} contains data (a file system or partitions). "
                               f"Use force device takeover to overwrite it")
        if size_kb < MIN_DEVICE_GB * KB_PER_GB:
            raise InvalidState(f"The device {path} is too small: the minimum device size is {MIN_DEVICE_GB} GB")
        did = self._new_id(c, "device")
        c.execute("INSERT INTO device (id, sds_id, path, name, pool_id, size_kb) VALUES (?,?,?,?,?,?)",
                  (did, sds_id, path, name, pool["id"], int(size_kb)))
        return Device(did, name, path, sds_id, pool["id"], int(size_kb))

    @_mutation("add_device")
    def add_device(self, path: str, *, sds_id: str | None = None, sds_name: str | None = None,
                   sds_ip: str | None = None, pool_id: str | None = None, pool_name: str | None = None,
                   name: str | None = None, size_kb: int | None = None, force: bool = False) -> Device:
        """Add a device to an SDS (``scli --add_sds_device``; REST ``POST /api/types/Device/instances``).

        The size comes from the SDS host's published disks (:meth:`set_host_disks`) unless ``size_kb`` is
        given. Refusals: AlreadyExists (path already added to this SDS), NotFound (no such disk on the
        host), InvalidState (the disk carries data and ``force`` is False; smaller than 90 GB).
        ``pool_name`` is looked up in the SDS's protection domain.
        """
        c = self._c
        sds = self._find_sds(c, id=sds_id, name=sds_name, ip=sds_ip)
        return self._add_device(c, sds["id"], path, pool_id=pool_id, pool_name=pool_name, name=name,
                                size_kb=size_kb, force=force)

    @_mutation("remove_device")
    def remove_device(self, *, id: str | None = None, sds_id: str | None = None, sds_name: str | None = None,
                      sds_ip: str | None = None, path: str | None = None, name: str | None = None) -> None:
        """Remove a device; its data migrates (refused with InsufficientCapacity when it cannot)."""
        c = self._c
        r = self._find_device(c, id=id, sds_id=sds_id, sds_name=sds_name, sds_ip=sds_ip, path=path, name=name)
        self._check_migration(c, [r["pool_id"]], exclude_device=r["id"], what="device")
        c.execute("DELETE FROM device WHERE id=?", (r["id"],))

    @_mutation("rename_device")
    def rename_device(self, new_name: str, *, id: str) -> None:
        c = self._c
        r = self._find_device(c, id=id)
        self._check_name(new_name, "device")
        if r["name"] == new_name:
            return self._noop()
        if c.execute("SELECT 1 FROM device WHERE sds_id=? AND name=?", (r["sds_id"], new_name)).fetchone():
            raise AlreadyExists("A device with the same name already exists on this SDS")
        c.execute("UPDATE device SET name=? WHERE id=?", (new_name, r["id"]))

    # ------------------------------------------------------------------ SDCs
    def sdcs(self) -> list[Sdc]:
        with self._store.read() as c:
            return [self._sdc_rec(r) for r in c.execute("SELECT * FROM sdc ORDER BY id")]

    def sdc(self, *, id: str | None = None, guid: str | None = None, ip: str | None = None,
            name: str | None = None) -> Sdc:
        with self._store.read() as c:
            return self._sdc_rec(self._find_sdc(c, id=id, guid=guid, ip=ip, name=name))

    @staticmethod
    def new_guid() -> str:
        """A fresh SDC GUID in the form drv_cfg prints (upper-case UUID)."""
        return str(uuid.uuid4()).upper()

    @_mutation("register_sdc")
    def register_sdc(self, guid: str, ip: str, *, name: str | None = None) -> Sdc:
        """An SDC connects to the MDM (what ``scini`` does after ``drv_cfg --add_mdm`` or at its start).

        Idempotent per GUID: a known GUID reconnects (its IP is updated: the host may have moved);
        nothing changed logs ``outcome="noop"``. In restricted SDC mode an SDC that was not approved is
        recorded (the MDM lists it) but stays ``connected=False``, ``approved=False``.
        """
        c = self._c
        self._require_cluster(c)
        if not isinstance(guid, str) or not _GUID_RE.match(guid):
            raise InvalidParameter(f"Invalid SDC GUID: {guid!r}")
        self._check_ip(ip)
        self._check_name(name, "SDC")
        guid = guid.upper()
        restricted = self._meta(c, "restricted_sdc_mode") == "1"
        r = c.execute("SELECT * FROM sdc WHERE guid=?", (guid,)).fetchone()
        if r is None:
            sid = self._new_id(c, "sdc")
            c.execute("INSERT INTO sdc (id, guid, ip, name, connected, approved) VALUES (?,?,?,?,?,?)",
                      (sid, guid, ip, name, int(not restricted), int(not restricted)))
            r = c.execute("SELECT * FROM sdc WHERE id=?", (sid,)).fetchone()
        elif r["connected"] and r["ip"] == ip and (name is None or r["name"] == name):
            self._noop()
        elif r["approved"] or not restricted:
            c.execute("UPDATE sdc SET ip=?, connected=1, name=COALESCE(?, name) WHERE id=?", (ip, name, r["id"]))
            r = c.execute("SELECT * FROM sdc WHERE id=?", (r["id"],)).fetchone()
        else:
            self._noop()   # still not approved: stays disconnected
        return self._sdc_rec(r)

    @_mutation("disconnect_sdc")
    def disconnect_sdc(self, *, guid: str | None = None, ip: str | None = None, id: str | None = None) -> None:
        """The SDC lost its connection (``scini`` stopped, host rebooted without a persisted config)."""
        c = self._c
        r = self._find_sdc(c, id=id, guid=guid, ip=ip)
        if not r["connected"]:
            return self._noop()
        c.execute("UPDATE sdc SET connected=0 WHERE id=?", (r["id"],))

    @_mutation("approve_sdc")
    def approve_sdc(self, *, guid: str | None = None, ip: str | None = None, name: str | None = None) -> Sdc:
        """Approve an SDC for restricted mode (``scli --add_sdc``); creates it when only the GUID is known."""
        c = self._c
        self._require_cluster(c)
        try:
            r = self._find_sdc(c, guid=guid, ip=None if guid else ip)
        except NotFound:
            if not guid:
                raise
            self._check_ip(ip)
            sid = self._new_id(c, "sdc")
            c.execute("INSERT INTO sdc (id, guid, ip, name, connected, approved) VALUES (?,?,?,?,0,1)",
                      (sid, guid.upper(), ip, name))
            return self._sdc_rec(c.execute("SELECT * FROM sdc WHERE id=?", (sid,)).fetchone())
        if r["approved"]:
            self._noop()
        c.execute("UPDATE sdc SET approved=1, name=COALESCE(?, name) WHERE id=?", (name, r["id"]))
        return self._sdc_rec(c.execute("SELECT * FROM sdc WHERE id=?", (r["id"],)).fetchone())

    @_mutation("remove_sdc")
    def remove_sdc(self, *, id: str | None = None, guid: str | None = None, ip: str | None = None,
                   name: str | None = None) -> None:
        """Remove an SDC (``scli --remove_sdc``). Refused (InvalidState) while volumes are mapped to it."""
        c = self._c
        r = self._find_sdc(c, id=id, guid=guid, ip=ip, name=name)
        if c.execute("SELECT 1 FROM mapping WHERE sdc_id=?", (r["id"],)).fetchone():
            raise InvalidState("The SDC has mapped volumes; unmap them first")
        c.execute("DELETE FROM sdc WHERE id=?", (r["id"],))

    @_mutation("rename_sdc")
    def rename_sdc(self, new_name: str, *, id: str | None = None, guid: str | None = None,
                   ip: str | None = None) -> None:
        c = self._c
        r = self._find_sdc(c, id=id, guid=guid, ip=ip)
        self._check_name(new_name, "SDC")
        if r["name"] == new_name:
            return self._noop()
        if c.execute("SELECT 1 FROM sdc WHERE name=?", (new_name,)).fetchone():
            raise AlreadyExists("An SDC with the same name already exists")
        c.execute("UPDATE sdc SET name=? WHERE id=?", (new_name, r["id"]))

    # ------------------------------------------------------------------ volumes
    def volumes(self, *, pool_id: str | None = None, sdc_id: str | None = None) -> list[Volume]:
        with self._store.read() as c:
            if sdc_id:
                rows = c.execute("SELECT v.* FROM volume v JOIN mapping m ON m.volume_id=v.id WHERE m.sdc_id=? "
                                 "ORDER BY v.id", (sdc_id,)).fetchall()
            elif pool_id:
                rows = c.execute("SELECT * FROM volume WHERE pool_id=? ORDER BY id", (pool_id,)).fetchall()
            else:
                rows = c.execute("SELECT * FROM volume ORDER BY id").fetchall()
            return [self._vol_rec(c, r) for r in rows]

    def volume(self, *, id: str | None = None, name: str | None = None) -> Volume:
        with self._store.read() as c:
            return self._vol_rec(c, self._find_volume(c, id=id, name=name))

    @staticmethod
    def rounded_size_gb(size_gb) -> int:
        """ScaleIO allocates in 8 GB steps: the size a request for ``size_gb`` gets."""
        g = VOLUME_GRANULARITY_GB
        return max(g, math.ceil(math.ceil(float(size_gb)) / g) * g)

    @_mutation("add_volume")
    def add_volume(self, name: str, size_gb: float, *, pool_id: str | None = None, pool_name: str | None = None,
                   pd_id: str | None = None, pd_name: str | None = None, thin: bool = True) -> Volume:
        """Create a volume; the size is rounded up to a multiple of 8 GB.

        Refusals: AlreadyExists (name taken), InsufficientCapacity (the pool cannot hold two copies).
        """
        c = self._c
        self._require_cluster(c)
        pool = self._find_pool(c, id=pool_id, name=pool_name, pd_id=pd_id, pd_name=pd_name)
        self._check_name(name, "volume")
        try:
            ok = float(size_gb) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InvalidParameter(f"Invalid volume size: {size_gb!r}")
        if c.execute("SELECT 1 FROM volume WHERE name=?", (name,)).fetchone():
            raise AlreadyExists("A volume with the same name already exists")
        size_kb = self.rounded_size_gb(size_gb) * KB_PER_GB
        if 2 * size_kb > self._pool_capacity(c, pool["id"]).unused_kb:
            raise InsufficientCapacity("Insufficient capacity in the Storage Pool for the requested volume size")
        vid = self._new_id(c, "volume")
        now = time.time()
        c.execute("INSERT INTO volume (id, name, pool_id, size_kb, thin, created) VALUES (?,?,?,?,?,?)",
                  (vid, name, pool["id"], size_kb, int(bool(thin)), now))
        return Volume(vid, name, pool["id"], size_kb, bool(thin), (), now)

    @_mutation("extend_volume")
    def extend_volume(self, size_gb: float, *, id: str | None = None, name: str | None = None) -> Volume:
        """Grow a volume (rounded up to 8 GB). Shrinking is refused; the pool must hold the growth."""
        c = self._c
        r = self._find_volume(c, id=id, name=name)
        try:
            new_kb = self.rounded_size_gb(size_gb) * KB_PER_GB
        except (TypeError, ValueError):
            raise InvalidParameter(f"Invalid volume size: {size_gb!r}") from None
        if new_kb < r["size_kb"]:
            raise InvalidState("The volume size can only be increased", error_code=133)
        if new_kb == r["size_kb"]:
            self._noop()
            return self._vol_rec(c, r)
        if 2 * (new_kb - r["size_kb"]) > self._pool_capacity(c, r["pool_id"]).unused_kb:
            raise InsufficientCapacity("Insufficient capacity in the Storage Pool for the requested volume size")
        c.execute("UPDATE volume SET size_kb=? WHERE id=?", (new_kb, r["id"]))
        return self._vol_rec(c, c.execute("SELECT * FROM volume WHERE id=?", (r["id"],)).fetchone())

    @_mutation("remove_volume")
    def remove_volume(self, *, id: str | None = None, name: str | None = None) -> None:
        """Refused (InvalidState) while the volume is mapped to any SDC."""
        c = self._c
        r = self._find_volume(c, id=id, name=name)
        if c.execute("SELECT 1 FROM mapping WHERE volume_id=?", (r["id"],)).fetchone():
            raise InvalidState("The volume is mapped to an SDC; unmap it first")
        c.execute("DELETE FROM volume WHERE id=?", (r["id"],))

    @_mutation("rename_volume")
    def rename_volume(self, new_name: str, *, id: str | None = None, name: str | None = None) -> None:
        c = self._c
        r = self._find_volume(c, id=id, name=name)
        self._check_name(new_name, "volume")
        if r["name"] == new_name:
            return self._noop()
        if c.execute("SELECT 1 FROM volume WHERE name=?", (new_name,)).fetchone():
            raise AlreadyExists("A volume with the same name already exists")
        c.execute("UPDATE volume SET name=? WHERE id=?", (new_name, r["id"]))

    @_mutation("map_volume")
    def map_volume(self, *, volume_id: str | None = None, volume_name: str | None = None,
                   sdc_id: str | None = None, sdc_guid: str | None = None, sdc_ip: str | None = None,
                   allow_multiple_mappings: bool = False) -> Volume:
        """Map a volume to an SDC. Refusals (AlreadyMapped): "The volume is already mapped to this SDC";
        mapped elsewhere without ``allow_multiple_mappings``. Unapproved SDCs are refused (InvalidState).
        """
        c = self._c
        v = self._find_volume(c, id=volume_id, name=volume_name)
        s = self._find_sdc(c, id=sdc_id, guid=sdc_guid, ip=sdc_ip)
        if not s["approved"]:
            raise InvalidState("The SDC is not approved (restricted SDC mode)")
        mapped = [x[0] for x in c.execute("SELECT sdc_id FROM mapping WHERE volume_id=?", (v["id"],))]
        if s["id"] in mapped:
            raise AlreadyMapped("The volume is already mapped to this SDC")
        if mapped and not allow_multiple_mappings:
            raise AlreadyMapped("Only a single SDC may be mapped to this volume at a time")
        c.execute("INSERT INTO mapping (volume_id, sdc_id) VALUES (?,?)", (v["id"], s["id"]))
        return self._vol_rec(c, v)

    @_mutation("unmap_volume")
    def unmap_volume(self, *, volume_id: str | None = None, volume_name: str | None = None,
                     sdc_id: str | None = None, sdc_guid: str | None = None, sdc_ip: str | None = None,
                     all_sdcs: bool = False) -> Volume:
        """Unmap a volume from one SDC (or ``all_sdcs``). NotMapped: "The volume is not mapped to SDC"."""
        c = self._c
        v = self._find_volume(c, id=volume_id, name=volume_name)
        if all_sdcs:
            if c.execute("DELETE FROM mapping WHERE volume_id=?", (v["id"],)).rowcount == 0:
                raise NotMapped("The volume is not mapped to SDC")
        else:
            s = self._find_sdc(c, id=sdc_id, guid=sdc_guid, ip=sdc_ip)
            if c.execute("DELETE FROM mapping WHERE volume_id=? AND sdc_id=?", (v["id"], s["id"])).rowcount == 0:
                raise NotMapped("The volume is not mapped to SDC")
        return self._vol_rec(c, v)

    # ------------------------------------------------------------------ faults
    def set_fault(self, name: str, *, count: int | None = None, **params) -> None:
        """Arm a fault any process can see. ``count=None`` fires until cleared, else ``count`` times.

        Faults the gateway understands: ``"gateway_5xx"`` (params ``status=503``, ``message``,
        ``path`` = substring of the request path it applies to). Other components define their own names.
        """
        with self._store.write() as c:
            c.execute("INSERT OR REPLACE INTO fault (name, params, remaining) VALUES (?,?,?)",
                      (name, json.dumps(params), count))

    def clear_fault(self, name: str | None = None) -> None:
        """Disarm one fault, or all of them."""
        with self._store.write() as c:
            if name is None:
                c.execute("DELETE FROM fault")
            else:
                c.execute("DELETE FROM fault WHERE name=?", (name,))

    def peek_fault(self, name: str) -> dict | None:
        """The params of an armed fault (without consuming it), or None."""
        with self._store.read() as c:
            r = c.execute("SELECT params FROM fault WHERE name=?", (name,)).fetchone()
        return json.loads(r[0]) if r else None

    def take_fault(self, name: str, applies: Callable[[dict], bool] | None = None) -> dict | None:
        """Consume one firing of an armed fault (if ``applies(params)``); its params, or None."""
        if self.peek_fault(name) is None:   # the common case costs a read, not the write lock
            return None
        with self._store.write() as c:
            r = c.execute("SELECT params, remaining FROM fault WHERE name=?", (name,)).fetchone()
            if r is None:
                return None
            params = json.loads(r["params"])
            if applies is not None and not applies(params):
                return None
            if r["remaining"] is not None:
                if r["remaining"] <= 1:
                    c.execute("DELETE FROM fault WHERE name=?", (name,))
                else:
                    c.execute("UPDATE fault SET remaining=remaining-1 WHERE name=?", (name,))
            return params

    # ------------------------------------------------------------------ event log and integrity
    def events(self, *, op: str | None = None, outcome: str | None = None, actor: str | None = None,
               since_seq: int = 0) -> list[Event]:
        """Logged mutations in order, optionally filtered."""
        q, p = "SELECT * FROM event WHERE seq>?", [since_seq]
        for col, val in (("op", op), ("outcome", outcome), ("actor", actor)):
            if val is not None:
                q, p = q + f" AND {col}=?", p + [val]
        with self._store.read() as c:
            return [Event(r["seq"], r["ts"], r["actor"], r["op"], json.loads(r["args"]), r["outcome"], r["error"])
                    for r in c.execute(q + " ORDER BY seq", p)]

    def count_events(self, *, op: str | None = None, outcome: str | None = None, actor: str | None = None) -> int:
        return len(self.events(op=op, outcome=outcome, actor=actor))

    def integrity_problems(self) -> list[str]:
        """Empty when the database is sound and every reference points at an existing object."""
        problems = []
        with self._store.read() as c:
            res = c.execute("PRAGMA integrity_check").fetchone()[0]
            if res != "ok":
                problems.append(f"sqlite: {res}")
            checks = {
                "pool without domain": "SELECT id FROM pool WHERE pd_id NOT IN (SELECT id FROM pd)",
                "sds without domain": "SELECT id FROM sds WHERE pd_id NOT IN (SELECT id FROM pd)",
                "sds without ip": "SELECT id FROM sds WHERE id NOT IN (SELECT sds_id FROM sds_ip)",
                "ip without sds": "SELECT ip FROM sds_ip WHERE sds_id NOT IN (SELECT id FROM sds)",
                "device without sds": "SELECT id FROM device WHERE sds_id NOT IN (SELECT id FROM sds)",
                "device without pool": "SELECT id FROM device WHERE pool_id NOT IN (SELECT id FROM pool)",
                "volume without pool": "SELECT id FROM volume WHERE pool_id NOT IN (SELECT id FROM pool)",
                "mapping without volume": "SELECT volume_id FROM mapping WHERE volume_id NOT IN (SELECT id FROM volume)",
                "mapping without sdc": "SELECT sdc_id FROM mapping WHERE sdc_id NOT IN (SELECT id FROM sdc)",
                "mdm ip without mdm": "SELECT ip FROM mdm_ip WHERE mdm_id NOT IN (SELECT id FROM mdm)",
            }
            for what, q in checks.items():
                bad = [r[0] for r in c.execute(q)]
                if bad:
                    problems.append(f"{what}: {bad}")
            for r in c.execute("SELECT id FROM pool").fetchall():
                cap = self._pool_capacity(c, r[0])
                if cap.in_use_kb > cap.usable_kb:
                    problems.append(f"pool {r[0]} over capacity: {cap}")
        return problems
