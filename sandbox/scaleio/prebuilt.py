"""A pre-built ("existing cluster") ScaleIO system with its gateway, for the existing-cluster mode.

:class:`ExistingCluster` builds, in a state dir, what an operator's already-running ScaleIO would be:
a named system with an MDM cluster (1/3/5 nodes), the admin password changed, a protection domain and
storage pool, SDSs with devices. Nothing runs those members in agent roots, so it serves them
in-process: each MDM address runs the host side's ``daemons.MdmService`` (9011 for members and SDCs --
agents' SDCs connect to it exactly as to an MDM in an agent --, 6611 on managers), each SDS address a
stand-in port 7072 (:mod:`.listeners`), and the gateway runs on the master's address::

    with ExistingCluster(tmp / "sio", ip_prefix="127.0.10") as ec:
        ec.info()   # {"gateway_url", "ca_path", "admin_password", "state_dir", "system_id", ...}

Building is idempotent: a state dir that already holds a cluster is reused as it is (restart).
Addresses: MDMs ``<prefix>.1..n``, SDSs ``<prefix>.11..``, gateway on the master (``<prefix>.1``).
"""
from __future__ import annotations

from pathlib import Path

from . import probe
from .gateway import GatewayServer
from .listeners import PortListener
from .system import System

DEFAULT_PASSWORD = "Scaleio123"
MODE_SIZES = {"1_node": (1, 0), "3_node": (2, 1), "5_node": (3, 2)}   # mode -> (managers, tie-breakers)


class ExistingCluster:
    """A ready system + gateway. ``start()``/``stop()``; also a context manager."""

    def __init__(self, state_dir, *, ip_prefix: str = "127.0.10", mode: str = "3_node",
                 password: str = DEFAULT_PASSWORD, system_name: str = "scaleio",
                 protection_domain: str = "default", storage_pool: str = "default", sds_count: int = 3,
                 disks_per_sds: int = 1, disk_gb: int = 100, gateway_port: int = 0,
                 spare_percentage: int = 34):
        if mode not in MODE_SIZES:
            raise ValueError(f"mode must be one of {sorted(MODE_SIZES)}")
        self.state_dir = Path(state_dir)
        self.ip_prefix = ip_prefix
        self.mode = mode
        self.password = password
        self.system_name = system_name
        self.pd_name, self.pool_name = protection_domain, storage_pool
        self.sds_count, self.disks_per_sds, self.disk_gb = sds_count, disks_per_sds, disk_gb
        self.gateway_port = gateway_port
        self.spare_percentage = spare_percentage
        managers, tbs = MODE_SIZES[mode]
        self.manager_ips = [f"{ip_prefix}.{i}" for i in range(1, managers + 1)]
        self.tb_ips = [f"{ip_prefix}.{i}" for i in range(managers + 1, managers + tbs + 1)]
        self.sds_ips = [f"{ip_prefix}.{11 + i}" for i in range(sds_count)]
        for ip in self.manager_ips + self.tb_ips + self.sds_ips:
            if not probe.valid_ip(ip):
                raise ValueError(f"bad ip_prefix {ip_prefix!r}")
        self.gateway: GatewayServer | None = None
        self._listeners: list[PortListener] = []
        self._mdms: list = []
        self.system: System | None = None

    @property
    def disk_paths(self) -> list[str]:
        return [f"/dev/sd{chr(ord('b') + i)}" for i in range(self.disks_per_sds)]

    def _open_ports(self) -> None:
        for ip in self.sds_ips:
            self._listeners.append(PortListener(ip, probe.SDS_PORT).start())

    def _start_mdms(self) -> None:
        from .daemons import MdmService   # the host side's MDM daemon logic (SDC links, 9011/6611)
        for ip in self.manager_ips + self.tb_ips:
            self._mdms.append(MdmService(ip, System.open(self.state_dir, actor=f"mdm@{ip}")).start())

    def _build(self, s: System) -> None:
        s.create_cluster(self.manager_ips[0], master_name="mdm1")
        s.set_password("admin", "admin", self.password)
        for n, ip in enumerate(self.manager_ips[1:], start=2):
            s.add_standby_mdm(ip, role="manager", name=f"mdm{n}")
        for n, ip in enumerate(self.tb_ips, start=1):
            s.add_standby_mdm(ip, role="tb", name=f"tb{n}")
        if self.mode != "1_node":
            s.switch_cluster_mode(self.mode, add_slaves=self.manager_ips[1:], add_tbs=self.tb_ips)
        s.rename_system(self.system_name)
        pd = s.add_protection_domain(self.pd_name)
        sp = s.add_storage_pool(self.pool_name, pd_id=pd.id, spare_percentage=self.spare_percentage)
        for n, ip in enumerate(self.sds_ips):
            s.set_host_disks(ip, [{"path": p, "size_gb": self.disk_gb} for p in self.disk_paths])
            s.add_sds([ip], pd_id=pd.id, name=f"sds{n + 1}",
                      devices=[{"path": p, "pool_id": sp.id} for p in self.disk_paths])

    def start(self) -> "ExistingCluster":
        """Open the member ports, build the system unless it exists, and start the gateway."""
        try:
            self._open_ports()
            self.system = System.open(self.state_dir, actor="prebuilt")
            if not self.system.cluster().created:
                # The members "were running" when the operator built this system; their services
                # start below, once the cluster they follow exists.
                builder = System.open(self.state_dir, actor="prebuilt", check_reachability=False)
                try:
                    self._build(builder)
                finally:
                    builder.close()
            self._start_mdms()
            self.gateway = GatewayServer(self.state_dir, listen_ip=self.manager_ips[0], port=self.gateway_port,
                                         mdm_ips=self.manager_ips).start()
        except BaseException:
            self.stop()
            raise
        return self

    def info(self) -> dict:
        """What a client needs: gateway URL + CA, credentials, system identity, member addresses."""
        cluster = self.system.cluster()
        return {"gateway_url": self.gateway.url, "gateway_ip": self.gateway.listen_ip,
                "gateway_port": self.gateway.port, "ca_path": str(self.gateway.ca_path),
                "admin_user": "admin", "admin_password": self.password, "state_dir": str(self.state_dir),
                "system_id": cluster.system_id, "system_name": cluster.system_name, "mode": cluster.mode,
                "mdm_ips": self.manager_ips, "tie_breaker_ips": self.tb_ips, "sds_ips": self.sds_ips,
                "protection_domain": self.pd_name, "storage_pool": self.pool_name}

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        for svc in self._mdms:
            svc.stop()
        self._mdms = []
        for lst in self._listeners:
            lst.stop()
        self._listeners = []
        if self.system is not None:
            self.system.close()
            self.system = None

    def __enter__(self) -> "ExistingCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
