"""Random operation sequences against the system: refusals change nothing, every call is logged exactly
once, and the state never breaks its invariants (references, capacity)."""
import shutil
import tempfile

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from dcos_scaleio.sandbox.scaleio.errors import ScaleIOError
from dcos_scaleio.sandbox.scaleio.records import KB_PER_GB
from dcos_scaleio.sandbox.scaleio.system import System

NAMES = st.sampled_from(["a", "b", "c"])
IPS = st.sampled_from([f"127.0.77.{i}" for i in range(1, 5)])
GUIDS = st.sampled_from([f"0000000{i}-0000-4000-8000-000000000000" for i in range(1, 4)])
DISKS = st.sampled_from(["/dev/sdb", "/dev/sdc"])


class SystemMachine(RuleBasedStateMachine):
    volumes = Bundle("volumes")   # names of volumes that were created (maybe removed since)
    sdcs = Bundle("sdcs")         # GUIDs of SDCs that registered (maybe removed since)
    sds_ips = Bundle("sds_ips")   # IPs of SDSs that were added (maybe removed since)

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="sio-model-")
        # No daemons in this test: reachability is the gateway/MDM tests' business.
        self.s = System.open(self.dir, actor="model", check_reachability=False)
        self.s.create_cluster("127.0.77.100")
        pd = self.s.add_protection_domain("a")
        sp = self.s.add_storage_pool("a", pd_id=pd.id)
        self.s.add_sds(["127.0.77.200"], pd_id=pd.id, devices=[{"path": "/dev/sdb", "pool_id": sp.id,
                                                                  "size_kb": 1000 * KB_PER_GB}])
        self.calls = 4

    def teardown(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def snapshot(self):
        s = self.s
        return (s.protection_domains(), s.storage_pools(), s.sds_list(), s.devices(), s.sdcs(), s.volumes())

    def call(self, fn, *a, **kw):
        before = self.snapshot()
        self.calls += 1
        try:
            fn(*a, **kw)
            return True
        except ScaleIOError:
            assert self.snapshot() == before, "a refused operation changed the system"
            return False

    def pool_id(self, name):
        pools = [p for p in self.s.storage_pools() if p.name == name]
        return pools[0].id if pools else "0" * 16

    def pd_id(self, name):
        pds = [p for p in self.s.protection_domains() if p.name == name]
        return pds[0].id if pds else "0" * 16

    @rule(name=NAMES)
    def add_pd(self, name):
        self.call(self.s.add_protection_domain, name)

    @rule(name=NAMES)
    def remove_pd(self, name):
        self.call(self.s.remove_protection_domain, name=name)

    @rule(pd=NAMES, name=NAMES, spare=st.integers(0, 50))
    def add_pool(self, pd, name, spare):
        self.call(self.s.add_storage_pool, name, pd_name=pd, spare_percentage=spare)

    @rule(name=NAMES)
    def remove_pool(self, name):
        self.call(self.s.remove_storage_pool, id=self.pool_id(name))

    @rule(target=sds_ips, ip=IPS, pool=NAMES, gb=st.sampled_from([90, 300, 1000]))
    def add_sds(self, ip, pool, gb):
        pools = [p for p in self.s.storage_pools() if p.name == pool]
        pd_id = pools[0].protection_domain_id if pools else self.pd_id(pool)
        ok = self.call(self.s.add_sds, [ip], pd_id=pd_id, name=f"sds-{ip.rsplit('.', 1)[1]}",
                       devices=[{"path": "/dev/sdb", "pool_id": self.pool_id(pool), "size_kb": gb * KB_PER_GB}])
        return ip if ok else multiple()

    @rule(ip=sds_ips)
    def remove_sds(self, ip):
        self.call(self.s.remove_sds, ip=ip)

    @rule(ip=sds_ips, path=DISKS, pool=NAMES, gb=st.sampled_from([10, 100, 200]))
    def add_device(self, ip, path, pool, gb):
        self.call(self.s.add_device, path, sds_ip=ip, pool_id=self.pool_id(pool), size_kb=gb * KB_PER_GB)

    @rule(ip=sds_ips, path=DISKS)
    def remove_device(self, ip, path):
        self.call(self.s.remove_device, sds_ip=ip, path=path)

    @rule(target=volumes, name=NAMES, pool=NAMES, gb=st.sampled_from([1, 8, 20, 48, 160]), thin=st.booleans())
    def add_volume(self, name, pool, gb, thin):
        return name if self.call(self.s.add_volume, name, gb, pool_id=self.pool_id(pool), thin=thin) else multiple()

    @rule(name=volumes, gb=st.sampled_from([8, 30, 100, 400]))
    def extend_volume(self, name, gb):
        self.call(self.s.extend_volume, gb, name=name)

    @rule(name=volumes)
    def remove_volume(self, name):
        self.call(self.s.remove_volume, name=name)

    @rule(target=sdcs, guid=GUIDS, ip=IPS)
    def register_sdc(self, guid, ip):
        return guid if self.call(self.s.register_sdc, guid, ip) else multiple()

    @rule(guid=sdcs)
    def remove_sdc(self, guid):
        self.call(self.s.remove_sdc, guid=guid)

    @rule(name=volumes, guid=sdcs, multi=st.booleans())
    def map_volume(self, name, guid, multi):
        self.call(self.s.map_volume, volume_name=name, sdc_guid=guid, allow_multiple_mappings=multi)

    @rule(name=volumes, guid=sdcs, all_sdcs=st.booleans())
    def unmap_volume(self, name, guid, all_sdcs):
        if all_sdcs:
            self.call(self.s.unmap_volume, volume_name=name, all_sdcs=True)
        else:
            self.call(self.s.unmap_volume, volume_name=name, sdc_guid=guid)

    @invariant()
    def sound(self):
        assert self.s.integrity_problems() == []

    @invariant()
    def every_call_logged_once(self):
        assert len(self.s.events()) == self.calls


TestSystemModel = SystemMachine.TestCase
# database=None: a failure must reproduce from its printed steps, not from a local example cache.
TestSystemModel.settings = settings(max_examples=20, stateful_step_count=40, deadline=None, database=None,
                                    suppress_health_check=[HealthCheck.too_slow])
