"""A tiny pymesos test framework for tests of the Mesos emulator (and of anything built on it).

- ``harness.SchedulerProcess(master, name=, framework_id=, roles=, capabilities=, failover_timeout=,
  checkpoint=, mode="auto"|"hold", decline_seconds=, principal=, secret=)``: an unmodified pymesos
  MesosSchedulerDriver in its own process; ``send(cmd, **fields)`` (launch, launch_group, decline, kill,
  reconcile, suppress, revive, message, set, stop), ``wait_ev(ev, timeout, since, **match)``,
  ``wait_states({task: state})``, ``statuses(task)``, ``mark()``, ``stop(failover)``, ``kill()``.
- ``harness.executor_info(executor_id)``: an ExecutorInfo running ``executor_main.py`` (an unmodified
  pymesos MesosExecutorDriver) fetched into the sandbox by a file:// URI.
- ``clusters.make_cluster(tmp_path_factory, specs, **options)``: a MesosCluster with fast intervals.
- ``raw_streams.SchedulerStream`` / ``OperatorStream``: hand-decoded RecordIO subscriptions.
- ``dvdcli_fixture.sh``: a recording stand-in for dvdcli.
Test folders put ``tests/`` on ``sys.path`` (see tests/sandbox/mesos/conftest.py) and import ``mesos_testfw``.
"""
