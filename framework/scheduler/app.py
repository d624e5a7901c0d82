"""Wiring: config -> store -> engine -> core loop -> pymesos driver, operator stream, HTTP API.

:class:`SchedulerApp` is what ``python -m dcos_scaleio.framework.scheduler`` runs. With valid
options it takes the store's single-scheduler lock (losing it later ends the process: Marathon
restarts it), restores the engine from the store, re-registers with the stored framework ID
(or registers and stores the new one), and follows the master's operator stream. With bad options
it stays up serving the API (plan ERROR naming every offending field, /v1/health 500) and never
talks to Mesos, so nothing is launched.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

from dcos_scaleio.plan import Engine, health, http_status, plan_json, plan_status

from . import messages
from .config import SchedulerConfig
from .core import Core
from .executors import AUTH_OK, ExecutorRegistry
from dcos_scaleio.framework.api import ApiContext
from dcos_scaleio.framework.api import install as install_operator_api

from .http_api import ApiServer, json_reply

__all__ = ["SchedulerApp", "install_routes"]

LOG = logging.getLogger(__name__)
_READ_CACHE_S = 1.0


class _Reads:
    """Engine read-outs for HTTP, computed on the core thread and cached per engine version."""

    def __init__(self, core: Core):
        self.core = core
        self._lock = threading.Lock()
        self._cache: dict[str, tuple] = {}

    def get(self, name: str, fn):
        with self._lock:
            hit = self._cache.get(name)
        if hit is not None and hit[0] == self.core.version and time.monotonic() - hit[1] < _READ_CACHE_S:
            return hit[2]
        version = self.core.version
        value = self.core.call(fn)
        with self._lock:
            self._cache[name] = (version, time.monotonic(), value)
        return value


def install_routes(api: ApiServer, core: Core, executors: ExecutorRegistry | None, password_fn,
                   context=None) -> None:
    """The issue-5 endpoints, then the operator API (:mod:`dcos_scaleio.framework.api`) with
    ``context`` (an ``ApiContext``), then :meth:`ApiServer.ready` (the server stops answering 503
    "starting"). ``password_fn()`` returns the admin password (str) or None."""
    reads = _Reads(core)

    def plans(req):
        return json_reply(200, ["deploy"])

    def deploy(req):
        body, code = reads.get("deploy", lambda c: (plan_json(c.engine), http_status(plan_status(c.engine))))
        return json_reply(code, body)

    def health_(req):
        h = reads.get("health", lambda c: health(c.engine))
        return json_reply(h["code"], h)

    def scheduler(req):
        def read(c):
            return {"framework_id": c.framework_id, "subscribed": c.subscribed, "counters": dict(c.counters),
                    "offers_held": len(c.offers), "agents": len(c.agent_ids),
                    "executors": {h: {"executor_id": r.executor_id, "agent_id": r.agent_id, "stale": r.stale}
                                  for h, r in (executors._by_host.items() if executors else ())}}
        return json_reply(200, core.call(read))

    def secrets(req):
        auth = req.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        eid = req.query.get("executor_id", "")
        code = executors.authorize(eid, token) if executors is not None else 401
        headers = {"Cache-Control": "no-store"}
        if code != AUTH_OK:
            why = "executor no longer current" if code == 403 else "missing or invalid executor token"
            return json_reply(code, {"message": why}, **headers)
        pw = password_fn()
        if not pw:
            return json_reply(503, {"message": "no admin password configured"}, **headers)
        return json_reply(200, {"admin_password": pw}, **headers)

    api.route("GET", "/v1/plans", plans)
    api.route("GET", "/v1/plans/deploy", deploy)
    api.route("GET", "/v1/health", health_)
    api.route("GET", "/v1/scheduler", scheduler)
    api.route("GET", "/v1/executor/secrets", secrets)
    install_operator_api(api, core, reads, context if context is not None else ApiContext())
    api.ready()


class SchedulerApp:
    def __init__(self, config: SchedulerConfig, environ=None):
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.exit_code = 0
        self._stop = threading.Event()
        self.store = None
        self.core: Core | None = None
        self.driver = None
        self.stream = None
        self.actions = None
        self.api: ApiServer | None = None

    # ------------------------------------------------------------------ lifecycle
    def fatal(self, reason: str, code: int = 1):
        LOG.critical("stopping: %s", reason)
        if not self._stop.is_set():
            self.exit_code = code
            self._stop.set()
        # Whatever hangs, the process ends (Marathon restarts it).
        t = threading.Timer(30.0, os._exit, args=(code,))
        t.daemon = True
        t.start()

    def request_stop(self, *_):
        self._stop.set()

    def run(self) -> int:
        cfg = self.config
        # Up at once (Marathon health-checks it), answering 503 until install_routes.
        self.api = ApiServer(cfg.api_host, cfg.api_port,
                             starting="the scheduler is opening its state store").start()
        LOG.info("HTTP API on %s", self.api.url)
        try:
            if cfg.ok:
                self._start_framework()
            else:
                for err in cfg.errors:
                    LOG.error("bad option: %s", err)
                engine = Engine(None, errors=cfg.errors)
                self.core = Core(engine, fatal=self.fatal)
                install_routes(self.api, self.core, None, lambda: None,
                               ApiContext(None, list(cfg.errors), None, self.environ))
                self.core.start(engine.resume(time.time()))
            self._announce()
            while not self._stop.wait(1.0):
                pass
        except BaseException as exc:   # noqa: B036 -- pymesos re-raises its IO thread's error here via SIGINT
            if not isinstance(exc, KeyboardInterrupt):
                LOG.error("stopping on %s: %s", type(exc).__name__, exc)
            self.exit_code = self.exit_code or 1
        finally:
            self.shutdown()
        return self.exit_code

    def _announce(self):
        path = self.environ.get("SCALEIO_API_URL_FILE")
        if path:
            tmp = path + ".tmp"
            with open(tmp, "w") as fh:
                fh.write(self.api.url + "\n")
            os.replace(tmp, path)

    def _start_framework(self):
        from dcos_scaleio.framework.store import open_store

        from .actions import ActionRunner
        from .driver import Callbacks, DriverHandle
        from .operator_stream import OperatorStream
        from .persist import SchedulerState
        from .reconcile import Reconciler
        cfg, o = self.config, self.config.options
        self.store = open_store(cfg.store_url, owner=f"scheduler pid {os.getpid()} on {socket.gethostname()}")
        self.store.acquire_lock(timeout=cfg.lock_timeout_s, on_lost=lambda: self.fatal("lost the state store lock", 3))
        state = SchedulerState(self.store)
        fid = state.framework_id()
        records = state.engine_records()
        now = time.time()
        try:
            engine = Engine.restore(o, records, uninstall=cfg.uninstall) if records or cfg.uninstall \
                else Engine(o)
        except (ValueError, KeyError) as exc:
            LOG.error("stored state cannot be restored: %s", exc)
            engine = Engine(None, errors=[f"stored state: {exc}"])
        executors = ExecutorRegistry(state.executor_records())
        framework = messages.framework_info(o, framework_id=fid)
        roles = messages.framework_roles(framework)
        reconciler = Reconciler(cfg.reconcile_give_up_s, cfg.reconcile_backoff_s, cfg.implicit_reconcile_s)
        self.core = core = Core(engine, state=state, executors=executors, reconciler=reconciler, options=o,
                                roles=roles, scheduler_url=self.api.url, dev_python=cfg.dev_executor_python,
                                heartbeat_timeout_s=cfg.heartbeat_timeout_s, fatal=self.fatal,
                                agent_list_wait_s=cfg.agent_list_wait_s)
        core.framework_id = fid
        simulated = self.environ.get("SCALEIO_DEV_SIMULATED_ACTIONS")
        if simulated:
            import json

            from .actions import SimulatedActionRunner
            LOG.warning("dev mode: cluster actions are simulated (no gateway is contacted)")
            self.actions = SimulatedActionRunner(core.put, json.loads(simulated), on_deregister=self._deregister)
        else:
            self.actions = ActionRunner(core.put, self._gateway_for(o), on_deregister=self._deregister)
        core.actions = self.actions
        password = o.scaleio.admin_password.reveal()
        install_routes(self.api, core, executors, lambda: password,
                       ApiContext(o, [], self._gateway_for(o), self.environ, merged=self.config.merged))
        callbacks = Callbacks(core.put)
        self.driver = core.driver = DriverHandle(callbacks, framework, o.service.mesos_master,
                                                 principal=framework.get("principal"),
                                                 secret=self.environ.get("SCALEIO_MESOS_SECRET") or None)
        core.start(engine.resume(now))
        self.stream = OperatorStream(o.service.mesos_master, core.put, silence_s=cfg.heartbeat_timeout_s,
                                     resync_s=cfg.agent_resync_s)
        self.stream.start()
        LOG.info("subscribing to %s as %s (framework ID %s)", o.service.mesos_master, framework["name"],
                 fid or "new")
        self.driver.start()

    @staticmethod
    def _gateway_for(options):
        from dcos_scaleio.framework.cluster import Gateway, config_from_options
        cache: dict = {}
        lock = threading.Lock()

        def get(endpoint: str):
            with lock:
                gw = cache.get(endpoint)
                if gw is None:
                    gw = cache[endpoint] = Gateway(config_from_options(options, endpoint, ca_dir=os.getcwd()))
                return gw
        return get

    def _deregister(self):
        """Uninstall's last step (the deregister-service action, on an action worker): tear the
        framework down (TEARDOWN ends its executors) and wipe the store BEFORE the step, and so the
        plan, reports COMPLETE. Cosmos removes the app at the first 200 COMPLETE: done afterwards, the
        kill could land in between and leave the framework registered and the state behind. Then keep
        serving the COMPLETE plan (exiting would make Marathon start a fresh framework). A failure
        raises: the action fails (retryable) and the step retries what is left."""
        # TEARDOWN needs a subscribed driver (the step may be ready before the subscription is).
        deadline = time.monotonic() + 30.0
        while self.driver is not None and not self.core.call(lambda c: c.subscribed):
            if time.monotonic() > deadline:
                raise RuntimeError("not subscribed to the Mesos master: cannot tear the framework down yet")
            time.sleep(0.1)
        LOG.info("uninstall complete: tearing down the framework and removing its state")
        if self.stream is not None:
            self.stream.stop()
            self.stream = None
        driver, self.driver = self.driver, None
        self.core.call(lambda c: c.detach())      # no more Mesos calls, reconciliation or persistence
        if driver is not None:
            driver.stop(teardown=True)
        if self.store is not None:
            self.store.destroy()
            self.store = None

    def shutdown(self):
        for part, stop in ((self.stream, lambda s: s.stop()), (self.driver, lambda d: d.stop(teardown=False)),
                           (self.core, lambda c: c.stop()), (self.actions, lambda a: a.shutdown()),
                           (self.api, lambda a: a.stop()), (self.store, lambda s: s.close())):
            if part is not None:
                try:
                    stop(part)
                except Exception:
                    LOG.exception("stopping %s failed", type(part).__name__)


def install_signals(app: SchedulerApp):
    signal.signal(signal.SIGTERM, app.request_stop)
