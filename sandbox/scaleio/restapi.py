"""The gateway's REST API as a pure request -> response function over the shared system.

:class:`RestApi` knows nothing about sockets: ``handle(method, path, authorization, body)`` returns
``(status, payload)``, where ``payload`` is JSON-able (or None for an empty body). The HTTP server in
:mod:`.gateway` only moves bytes. Contracts (ScaleIO 2.x/3.x gateway, as PyPowerFlex and goscaleio use it):

- ``GET /api/login`` with basic auth ``user:password`` returns the session token as a JSON string.
  Every other call authenticates with basic auth whose *password* is the token (the user name is
  ignored: PyPowerFlex sends the user name, goscaleio an empty one). A bad, logged-out or expired
  token gives 401. ``GET /api/logout`` ends the session. ``GET /api/version`` returns ``"3.0"``.
- Login needs the gateway to be configured (``mdm.ip.addresses``) with a manager MDM of the system
  that answers on its management port 6611; otherwise the login fails as the real gateway's does.
- Errors are the gateway's JSON body ``{"message", "httpStatusCode", "errorCode"}``: MDM refusals are
  500 with the MDM's status text and code, malformed requests 400, unknown URLs 404, auth 401.
- Faults, armed in the system (``System.set_fault``) so any process can inject them:
  ``gateway_5xx``: params ``status`` (default 500), ``message``, ``path`` (substring of the request
  path; default every path), ``when``: ``"before"`` (default: fires before auth, nothing happens) or
  ``"after"`` (the request takes effect, then the answer is the error: a lost response). ``gateway_token_expired``: the token presented is
  treated as expired (the session ends, 401), as the real gateway's idle/absolute token timeouts do.
  ``System.expire_sessions("gateway")`` expires every token at once.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import sys
import traceback

from . import probe, restshapes
from .errors import InvalidParameter, NotFound, ScaleIOError, Unreachable
from .records import KB_PER_GB
from .system import System

FAULT_5XX = "gateway_5xx"
FAULT_TOKEN_EXPIRED = "gateway_token_expired"
DEFAULT_TOKEN_TTL_S = 8 * 3600.0
TYPES = ("System", "ProtectionDomain", "StoragePool", "Sds", "Device", "Sdc", "Volume")


class HttpError(Exception):
    """A non-MDM error of the gateway itself (auth, routing, malformed request)."""

    def __init__(self, status: int, message: str, error_code: int = 0):
        super().__init__(message)
        self.status, self.message, self.error_code = status, message, error_code

    def body(self) -> dict:
        return {"message": self.message, "httpStatusCode": self.status, "errorCode": self.error_code}


def _unauthorized() -> HttpError:
    return HttpError(401, "Unauthorized")


def _bool(v) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise InvalidParameter(f"Invalid boolean value: {v!r}")


def _int(v, what: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid {what}: {v!r}") from None


def _need(body: dict, key: str):
    if body.get(key) in (None, ""):
        raise InvalidParameter(f"Missing required parameter: {key}")
    return body[key]


class RestApi:
    """Request handling for one gateway instance (its MDM list and session kind)."""

    def __init__(self, system: System, mdm_ips=(), *, session_kind: str = "gateway",
                 token_ttl_s: float | None = DEFAULT_TOKEN_TTL_S, check_mdm: bool = True):
        self.system = system
        self.mdm_ips = [ip for ip in mdm_ips if ip]
        self.session_kind = session_kind
        self.token_ttl_s = token_ttl_s
        self.check_mdm = check_mdm

    # ------------------------------------------------------------------ entry point
    def handle(self, method: str, path: str, authorization: str | None, body: bytes) -> tuple[int, object]:
        def fault_at(when):
            fault = self.system.take_fault(FAULT_5XX, applies=lambda p: p.get("path", "") in path
                                           and p.get("when", "before") == when)
            if fault is not None:
                raise HttpError(int(fault.get("status", 500)), fault.get("message", "Internal Server Error"))
        try:
            fault_at("before")
            result = self._route(method, path.split("?", 1)[0].rstrip("/"), authorization, body)
            fault_at("after")   # the request took effect, but its answer is lost
            return 200, result
        except HttpError as err:
            return err.status, err.body()
        except ScaleIOError as err:
            return err.http_status, err.gateway_body()
        except Exception as exc:   # a bug or a busy database: answer like the gateway's servlet would
            traceback.print_exc(file=sys.stderr)
            return 500, {"message": f"Internal server error: {type(exc).__name__}", "httpStatusCode": 500,
                         "errorCode": 0}

    # ------------------------------------------------------------------ auth
    @staticmethod
    def _basic(authorization: str | None) -> tuple[str, str]:
        if not authorization or not authorization.startswith("Basic "):
            raise _unauthorized()
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthorized() from None
        return user, password

    def _check_mdms(self) -> None:
        """The gateway reaches the MDM cluster only through a configured, answering manager MDM."""
        if not self.mdm_ips:
            raise Unreachable("The gateway is not configured with MDM IP addresses (mdm.ip.addresses)")
        cluster = self.system.cluster()
        managers = [m for m in cluster.active_members if m.role == "manager"]
        for ip in self.mdm_ips:
            for m in managers:
                if ip in m.ips or ip in m.management_ips:
                    if not self.check_mdm or probe.tcp_listening(ip, probe.MDM_MGMT_PORT, timeout=1.0):
                        return
        raise Unreachable("Could not connect to the MDM cluster at " + ",".join(self.mdm_ips))

    def _login(self, authorization) -> str:
        user, password = self._basic(authorization)
        self._check_mdms()
        try:
            self.system.login(user, password)
        except ScaleIOError as err:
            if err.http_status == 401:
                raise _unauthorized() from None
            raise
        return self.system.open_session(self.session_kind, user, ttl_s=self.token_ttl_s)

    def _authenticate(self, authorization) -> str:
        _, token = self._basic(authorization)
        if self.system.take_fault(FAULT_TOKEN_EXPIRED) is not None:
            self.system.close_session(self.session_kind, token)
            raise _unauthorized()
        try:
            return self.system.check_session(self.session_kind, token)
        except ScaleIOError:
            raise _unauthorized() from None

    # ------------------------------------------------------------------ routing
    def _route(self, method, path, authorization, body_bytes):
        parts = path.strip("/").split("/")
        if not parts or parts[0] != "api":
            raise HttpError(404, f"Not found: {path}")
        rest = parts[1:]
        if method == "GET" and rest == ["login"]:
            return self._login(authorization)
        self._authenticate(authorization)
        if method == "GET" and rest == ["logout"]:
            self.system.close_session(self.session_kind, self._basic(authorization)[1])
            return None
        if method == "GET" and rest == ["version"]:
            return restshapes.API_VERSION
        if method == "GET" and rest == ["Configuration"]:
            return {"mdmAddresses": list(self.mdm_ips), "mdmPort": probe.MDM_MGMT_PORT,
                    "securityBypassCertificateCheck": True, "snmpResendFrequency": 0,
                    "remoteSyslog": [], "cipherSuites": None}
        body = self._body(body_bytes) if method == "POST" else {}
        # /api/types/{T}/instances[/action/{A}]
        if len(rest) >= 3 and rest[0] == "types" and rest[2] == "instances":
            kind = self._kind(rest[1])
            if len(rest) == 3 and method == "GET":
                return self._list(kind)
            if len(rest) == 3 and method == "POST":
                return {"id": self._create(kind, body)}
            if len(rest) == 5 and rest[3] == "action" and method == "POST":
                return self._type_action(kind, rest[4], body)
        # /api/instances/System/queryMdmCluster
        if rest[:2] == ["instances", "System"] and rest[2:] == ["queryMdmCluster"] and method == "POST":
            cluster = self.system.cluster()
            return restshapes.mdm_cluster(cluster, self._down(cluster))
        # /api/instances/{T}::{id}[/relationships/{R} | /action/{A}]
        if len(rest) >= 2 and rest[0] == "instances" and "::" in rest[1]:
            kind, _, oid = rest[1].partition("::")
            kind = self._kind(kind)
            if len(rest) == 2 and method == "GET":
                return self._get(kind, oid)
            if len(rest) == 4 and rest[2] == "relationships" and method == "GET":
                return self._related(kind, oid, rest[3])
            if len(rest) == 4 and rest[2] == "action" and method == "POST":
                self._instance_action(kind, oid, rest[3], body)
                return {}
        raise HttpError(404 if method in ("GET", "POST") else 405, f"Unsupported request: {method} {path}")

    @staticmethod
    def _kind(name: str) -> str:
        if name not in TYPES:
            raise HttpError(404, f"Unknown type: {name}")
        return name

    @staticmethod
    def _body(raw: bytes) -> dict:
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise HttpError(400, "Malformed JSON request body") from None
        if not isinstance(body, dict):
            raise HttpError(400, "The request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ reads
    def _sdcs_by_id(self):
        return {c.id: c for c in self.system.sdcs()}

    def _shape(self, kind, rec):
        s = self.system
        if kind == "ProtectionDomain":
            return restshapes.protection_domain(rec, s.cluster().system_id)
        if kind == "StoragePool":
            return restshapes.storage_pool(rec)
        if kind == "Sds":
            return restshapes.sds(rec, s.sds_connected(rec))
        if kind == "Device":
            return restshapes.device(rec, s.storage_pool(id=rec.storage_pool_id).media_type)
        if kind == "Sdc":
            return restshapes.sdc(rec, s.cluster().system_id)
        if kind == "Volume":
            return restshapes.volume(rec, self._sdcs_by_id())
        raise AssertionError(kind)

    def _all(self, kind):
        s = self.system
        return {"ProtectionDomain": s.protection_domains, "StoragePool": s.storage_pools, "Sds": s.sds_list,
                "Device": s.devices, "Sdc": s.sdcs, "Volume": s.volumes}[kind]()

    def _one(self, kind, oid):
        s = self.system
        return {"ProtectionDomain": s.protection_domain, "StoragePool": s.storage_pool, "Sds": s.sds,
                "Device": s.device, "Sdc": s.sdc, "Volume": s.volume}[kind](id=oid)

    def _down(self, cluster) -> frozenset:
        """Ids of the MDMs whose service does not answer on 9011 (what the master sees as disconnected)."""
        if not self.check_mdm:
            return frozenset()
        return frozenset(m.id for m in cluster.members
                         if not any(probe.tcp_listening(ip, m.port, timeout=0.5) for ip in m.ips))

    def _system_or_404(self, oid):
        cluster = self.system.cluster()
        if not cluster.created or oid != cluster.system_id:
            raise NotFound("Could not find the system")
        return cluster

    def _list(self, kind):
        if kind == "System":
            cluster = self.system.cluster()
            return [restshapes.system(cluster, self._down(cluster))] if cluster.created else []
        return [self._shape(kind, r) for r in self._all(kind)]

    def _get(self, kind, oid):
        if kind == "System":
            cluster = self._system_or_404(oid)
            return restshapes.system(cluster, self._down(cluster))
        return self._shape(kind, self._one(kind, oid))

    def _related(self, kind, oid, related):
        s = self.system
        if kind == "System":
            self._system_or_404(oid)
            if related == "Statistics":
                return self._stats("System", None)
            if related in ("ProtectionDomain", "Sdc"):
                return self._list(related)
        elif kind == "ProtectionDomain":
            s.protection_domain(id=oid)
            if related == "StoragePool":
                return [self._shape("StoragePool", r) for r in s.storage_pools(protection_domain_id=oid)]
            if related == "Sds":
                return [self._shape("Sds", r) for r in s.sds_list(protection_domain_id=oid)]
            if related == "Statistics":
                return self._stats("ProtectionDomain", oid)
        elif kind == "StoragePool":
            s.storage_pool(id=oid)
            if related == "Device":
                return [self._shape("Device", r) for r in s.devices(pool_id=oid)]
            if related == "Volume":
                return [self._shape("Volume", r) for r in s.volumes(pool_id=oid)]
            if related == "SpSds":
                ids = sorted({d.sds_id for d in s.devices(pool_id=oid)})
                return [{"sdsId": i, "storagePoolId": oid} for i in ids]
            if related == "Statistics":
                return self._stats("StoragePool", oid)
        elif kind == "Sds":
            s.sds(id=oid)
            if related == "Device":
                return [self._shape("Device", r) for r in s.devices(sds_id=oid)]
            if related == "Statistics":
                return self._stats("Sds", oid)
        elif kind == "Sdc":
            s.sdc(id=oid)
            if related == "Volume":
                return [self._shape("Volume", r) for r in s.volumes(sdc_id=oid)]
        elif kind == "Volume":
            v = s.volume(id=oid)
            if related == "Sdc":
                sdcs = self._sdcs_by_id()
                return [self._shape("Sdc", sdcs[i]) for i in v.mapped_sdc_ids if i in sdcs]
            if related == "Statistics":
                return {"numOfMappedSdcs": len(v.mapped_sdc_ids), "mappedSdcIds": list(v.mapped_sdc_ids)}
        raise HttpError(404, f"Error in get relationship {related}")

    def _stats(self, kind, oid) -> dict:
        s = self.system
        if kind == "StoragePool":
            cap = s.pool_capacity(id=oid)
            vols = s.volumes(pool_id=oid)
            extra = {"numOfSds": len({d.sds_id for d in s.devices(pool_id=oid)})}
        elif kind in ("ProtectionDomain", "System"):
            cap = s.system_capacity(pd_id=oid)
            pools = {p.id for p in s.storage_pools(protection_domain_id=oid)}
            vols = [v for v in s.volumes() if v.storage_pool_id in pools]
            extra = {"numOfSds": len(s.sds_list(protection_domain_id=oid)), "numOfStoragePools": len(pools)}
            if kind == "System":
                extra.update({"numOfSdc": len(s.sdcs()), "numOfProtectionDomains": len(s.protection_domains())})
        elif kind == "Sds":
            devs = s.devices(sds_id=oid)
            total = sum(d.size_kb for d in devs)
            # The pools' data is spread over their devices in proportion to size.
            in_use = 0
            for pool_id in {d.storage_pool_id for d in devs}:
                pcap = s.pool_capacity(id=pool_id)
                mine = sum(d.size_kb for d in devs if d.storage_pool_id == pool_id)
                in_use += pcap.in_use_kb * mine // pcap.total_kb if pcap.total_kb else 0
            return {"capacityInUseInKb": in_use, "maxCapacityInKb": total, "numOfDevices": len(devs)}
        else:
            raise HttpError(404, f"No statistics for {kind}")
        thin = sum(v.size_kb for v in vols if v.thin)
        return restshapes.statistics(cap, thin_kb=thin, extra=extra)

    def _type_action(self, kind, action, body):
        s = self.system
        if action == "querySelectedStatistics":
            props = body.get("properties") or []
            if kind == "System":
                ids = [s.cluster().system_id]
            elif "ids" in body and body["ids"]:
                ids = list(body["ids"])
            else:
                ids = [r.id for r in self._all(kind)]
            out = {}
            for oid in ids:
                if kind == "Volume":
                    v = s.volume(id=oid)
                    stats = {"numOfMappedSdcs": len(v.mapped_sdc_ids), "mappedSdcIds": list(v.mapped_sdc_ids)}
                else:
                    stats = self._stats(kind, None if kind == "System" else oid)
                out[oid] = {p: stats[p] for p in props if p in stats} if props else stats
            return out if kind != "System" else next(iter(out.values()))
        if action == "queryIdByKey":
            name = _need(body, "name")
            if kind == "System":
                cluster = s.cluster()
                if cluster.system_name != name:
                    raise NotFound("Could not find the system")
                return cluster.system_id
            recs = [r for r in self._all(kind) if getattr(r, "name", None) == name]
            if not recs:
                raise NotFound(f"Could not find the {kind}")
            return recs[0].id
        raise HttpError(404, f"Unsupported action {action} on type {kind}")

    # ------------------------------------------------------------------ writes
    def _create(self, kind, body) -> str:
        s = self.system
        if kind == "ProtectionDomain":
            return s.add_protection_domain(_need(body, "name")).id
        if kind == "StoragePool":
            kw = {}
            if body.get("mediaType"):
                kw["media_type"] = body["mediaType"]
            if body.get("zeroPaddingEnabled") is not None:
                kw["zero_padding"] = _bool(body["zeroPaddingEnabled"])
            if body.get("sparePercentage") is not None:
                kw["spare_percentage"] = _int(body["sparePercentage"], "sparePercentage")
            return s.add_storage_pool(_need(body, "name"), pd_id=_need(body, "protectionDomainId"), **kw).id
        if kind == "Sds":
            ips = []
            for item in _need(body, "sdsIpList"):
                item = item.get("SdsIp", item) if isinstance(item, dict) else None
                if not isinstance(item, dict) or "ip" not in item:
                    raise InvalidParameter("Invalid sdsIpList entry")
                ips.append((item["ip"], item.get("role", "all")))
            devices = [{"path": _need(d, "devicePath"), "pool_id": _need(d, "storagePoolId"),
                        "name": d.get("deviceName")} for d in body.get("deviceInfoList") or []]
            kw = {"port": _int(body["sdsPort"], "sdsPort")} if body.get("sdsPort") else {}
            return s.add_sds(ips, pd_id=_need(body, "protectionDomainId"), name=body.get("name"),
                             devices=devices, force_device_takeover=_bool(body.get("forceDeviceTakeover", False)),
                             **kw).id
        if kind == "Device":
            return s.add_device(_need(body, "deviceCurrentPathname"), sds_id=_need(body, "sdsId"),
                                pool_id=_need(body, "storagePoolId"), name=body.get("name"),
                                force=_bool(body.get("forceDeviceTakeover", False))).id
        if kind == "Volume":
            if body.get("volumeSizeInKb") is not None:
                size_gb = math.ceil(_int(body["volumeSizeInKb"], "volumeSizeInKb") / KB_PER_GB)
            else:
                size_gb = _int(_need(body, "volumeSizeInGb"), "volumeSizeInGb")
            vtype = body.get("volumeType") or "ThinProvisioned"
            if vtype not in ("ThinProvisioned", "ThickProvisioned"):
                raise InvalidParameter(f"Invalid volumeType: {vtype!r}")
            name = body.get("name") or f"vol-{secrets.token_hex(4)}"
            return s.add_volume(name, size_gb, pool_id=_need(body, "storagePoolId"),
                                thin=vtype == "ThinProvisioned").id
        raise HttpError(405, f"Objects of type {kind} cannot be created through the REST API")

    def _instance_action(self, kind, oid, action, body) -> None:
        s = self.system
        new_name = body.get("newName") or body.get("name") or body.get("sdcName")
        removers = {"ProtectionDomain": s.remove_protection_domain, "StoragePool": s.remove_storage_pool,
                    "Sds": s.remove_sds, "Device": s.remove_device, "Volume": s.remove_volume,
                    "Sdc": s.remove_sdc}
        renamers = {"ProtectionDomain": ("setProtectionDomainName", s.rename_protection_domain),
                    "StoragePool": ("setStoragePoolName", s.rename_storage_pool),
                    "Sds": ("setSdsName", s.rename_sds), "Device": ("setDeviceName", s.rename_device),
                    "Volume": ("setVolumeName", s.rename_volume), "Sdc": ("setSdcName", s.rename_sdc)}
        if kind in removers and action == "remove" + kind:
            return removers[kind](id=oid)
        if kind in renamers and action == renamers[kind][0]:
            if not new_name:
                raise InvalidParameter("Missing required parameter: newName")
            return renamers[kind][1](new_name, id=oid)
        if kind == "System" and action in ("setSystemName", "renameSystem"):
            self._system_or_404(oid)
            if not new_name:
                raise InvalidParameter("Missing required parameter: newName")
            return s.rename_system(new_name)
        if kind == "Volume" and action == "addMappedSdc":
            if not body.get("sdcId") and not body.get("guid"):
                raise InvalidParameter("Either sdcId or guid must be given")
            s.map_volume(volume_id=oid, sdc_id=body.get("sdcId"), sdc_guid=body.get("guid"),
                         allow_multiple_mappings=_bool(body.get("allowMultipleMappings", False)))
            return None
        if kind == "Volume" and action == "removeMappedSdc":
            if body.get("allSdcs") is not None and body.get("allSdcs") != "" and _bool(body["allSdcs"]):
                s.unmap_volume(volume_id=oid, all_sdcs=True)
            elif body.get("sdcId") or body.get("guid"):
                s.unmap_volume(volume_id=oid, sdc_id=body.get("sdcId"), sdc_guid=body.get("guid"))
            else:
                raise InvalidParameter("Either sdcId, guid or allSdcs must be given")
            return None
        if kind == "Volume" and action == "setVolumeSize":
            s.extend_volume(_int(_need(body, "sizeInGB"), "sizeInGB"), id=oid)
            return None
        if kind == "StoragePool" and action == "setZeroPaddingPolicy":
            return s.set_zero_padding(_bool(_need(body, "zeroPadEnabled")), id=oid)
        if kind == "StoragePool" and action == "setSparePercentage":
            return s.set_spare_percentage(_int(_need(body, "sparePercentage"), "sparePercentage"), id=oid)
        raise HttpError(404, f"Unsupported action {action} on {kind}")
