"""Building emulated clusters for tests: short intervals so a test folder runs fast."""
from dcos_scaleio.sandbox.mesos import AgentSpec, MesosCluster

FAST = dict(heartbeat_interval=1.0, allocation_interval=0.1, update_retry=(0.5, 2.0))


def make_cluster(tmp_path_factory, specs, **kw):
    """An unstarted MesosCluster in a fresh temporary state dir with the FAST intervals (overridable)."""
    state_dir = tmp_path_factory.mktemp("mesos")
    options = dict(FAST)
    options.update(kw)
    return MesosCluster(str(state_dir), specs, **options)


__all__ = ["AgentSpec", "MesosCluster", "make_cluster", "FAST"]
