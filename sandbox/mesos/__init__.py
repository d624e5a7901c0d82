"""A wire-faithful Mesos master + agents emulator that unmodified pymesos drivers work against.

Public API::

    from dcos_scaleio.sandbox.mesos import MesosCluster, AgentSpec
    cluster = MesosCluster(state_dir, agents=[AgentSpec("a1")], heartbeat_interval=1.0,
                           allocation_interval=0.2, update_retry=(0.5, 4.0)).start()
    ...
    cluster.stop()

Run it in the foreground with ``python -m dcos_scaleio.sandbox mesos --agents N``. Module map:
httpserver/recordio (wire), master/allocator/operator_api (master), agent/executor_api/
status_updates/containerizer/fetcher/volumes/flags (agents), sim (benchmark agents),
control (fault hooks over HTTP), cluster (wiring + Python API), cli (entry point).
"""
from .cluster import MesosCluster
from .spec import AgentSpec

__all__ = ["MesosCluster", "AgentSpec"]
