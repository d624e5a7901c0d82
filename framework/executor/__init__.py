"""The per-agent ScaleIO executor: a pymesos ``MesosExecutorDriver`` that runs host steps.

Entry point: ``python -m dcos_scaleio.framework.executor`` (also the PyInstaller artifact's entry),
i.e. :func:`dcos_scaleio.framework.executor.main.main`. Importing this package has no side effects
(pymesos, which installs a SIGINT handler when imported, is only imported by :mod:`.main` and
:mod:`.driver`).

Modules (one job each):

- :mod:`.tasks` decodes ``TaskInfo.data`` into a :class:`~.tasks.StepTask` (contract:
  /work/notes/scheduler-executor-contract.md) and builds executor-side ERROR results;
- :mod:`.secrets` fetches secrets from the scheduler's ``/v1/executor/secrets`` endpoint;
- :mod:`.updates` is the retry queue of unacknowledged status updates and their sender thread;
- :mod:`.worker` runs step tasks one at a time, with kill (cancellation) and shutdown;
- :mod:`.driver` is the pymesos glue: callbacks that only enqueue, and a driver subclass that
  reports ACKNOWLEDGED events and re-offers unACKed updates on SUBSCRIBE;
- :mod:`.main` wires them together, logging to stderr (the Mesos sandbox's ``stderr`` file).
"""
