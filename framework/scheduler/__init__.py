"""The ScaleIO framework scheduler: the plan engine driven through pymesos.

- :mod:`.app`: :class:`SchedulerApp` (wiring, lifecycle) and ``install_routes`` (issue-5 endpoints).
- :mod:`.core`: :class:`Core`, the one thread that owns the engine (queue in, persist, act).
- :mod:`.driver`: pymesos callbacks that only enqueue; :class:`DriverHandle` (restartable driver).
- :mod:`.messages`: FrameworkInfo/ExecutorInfo/TaskInfo, offers/operator agents -> AgentInfo, TaskStatus -> events.
- :mod:`.executors`: per-host executor generations and secret tokens.
- :mod:`.reconcile`: explicit (bounded, backoff) and implicit reconciliation.
- :mod:`.operator_stream`: the master's operator event stream (agents joining/leaving).
- :mod:`.actions`: cluster actions on a worker pool (gateway, verify-agent, deregister-service).
- :mod:`.persist`: store keys (framework_id, engine/*, executors/*).
- :mod:`.http_api`: :class:`ApiServer`, the route table other issues extend.
- :mod:`.config`: configuration from the environment.

Entry point: ``python -m dcos_scaleio.framework.scheduler``. Importing this package does not
import pymesos (the entry point does, on the main thread).
"""
__all__ = ["app", "core", "driver", "messages", "executors", "reconcile", "operator_stream", "actions", "persist",
           "http_api", "config"]
