"""The scheduler's configuration, read once at start from the environment (as Marathon passes it).

- Options: the JSON file named by ``SCALEIO_OPTIONS_FILE`` (sandbox/dev), else the ``OPT_*``
  variables (:func:`dcos_scaleio.options.env.from_env`). Validated with
  :func:`dcos_scaleio.options.validate`; bad options do not stop the scheduler (the plan shows them).
- Admin password: ``scaleio.admin_password`` or, when ``scaleio.admin_password_secret`` is set
  (DC/OS secret mapping), the ``SCALEIO_ADMIN_PASSWORD`` variable.
- State store: ``service.state_store`` (``sqlite`` path relative to the working directory -- the
  Mesos sandbox -- unless absolute; ``zookeeper`` hosts with the SDK root ``/dcos-service-<name>``).
- HTTP API: port ``PORT_API`` or ``PORT0`` (0 = any free port), bind address ``LIBPROCESS_IP`` or
  ``HOST`` or 127.0.0.1 (also the address executors are told to call back).
- Dev executor: ``SCALEIO_DEV_EXECUTOR_PYTHON`` (only when ``artifacts.executor.url`` is empty).
- Bench only: ``SCALEIO_DEV_SIMULATED_ACTIONS`` = JSON {action: seconds, "*": default}: cluster actions
  succeed after that long without any gateway (the emulator's simulated-executor mode has no ScaleIO).
- Timings (tests make them short): ``SCALEIO_RECONCILE_GIVE_UP_S`` (120), ``SCALEIO_RECONCILE_BACKOFF_S``
  (comma list, "1,2,4,8,15"), ``SCALEIO_IMPLICIT_RECONCILE_S`` (900), ``SCALEIO_HEARTBEAT_TIMEOUT_S`` (75),
  ``SCALEIO_LOCK_TIMEOUT_S`` (60), ``SCALEIO_AGENT_LIST_WAIT_S`` (15: offers wait that long at most for
  the operator stream's agent list), ``SCALEIO_AGENT_RESYNC_S`` (60: agent list re-read); ``SCALEIO_UNINSTALL`` / ``SDK_UNINSTALL`` = run the uninstall plan.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["SchedulerConfig", "load_config", "store_url"]


@dataclass
class SchedulerConfig:
    options: object                     # Options, or None when invalid
    errors: tuple = ()                  # FieldError / str, one per offending field
    warnings: tuple = ()
    merged: dict = field(default_factory=dict, repr=False)
    store_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 0
    dev_executor_python: str = ""
    reconcile_give_up_s: float = 120.0
    reconcile_backoff_s: tuple = (1.0, 2.0, 4.0, 8.0, 15.0)
    implicit_reconcile_s: float = 900.0
    heartbeat_timeout_s: float = 75.0
    lock_timeout_s: float = 60.0
    agent_list_wait_s: float = 15.0
    agent_resync_s: float = 60.0
    uninstall: bool = False

    @property
    def ok(self) -> bool:
        return self.options is not None and not self.errors

    @property
    def service_name(self) -> str:
        svc = (self.merged.get("service") or {}) if isinstance(self.merged, dict) else {}
        name = svc.get("name") if isinstance(svc, dict) else None
        return name.strip("/") if isinstance(name, str) and name.strip("/") else "scaleio"


def store_url(options, cwd: str | None = None) -> str:
    st = options.service.state_store
    if st.type == "sqlite":
        path = st.sqlite_path if os.path.isabs(st.sqlite_path) else os.path.join(cwd or os.getcwd(), st.sqlite_path)
        return "sqlite://" + os.path.abspath(path)
    return f"zk://{st.zookeeper}{options.service.zk_root}"


def _float(environ, name, default):
    try:
        return float(environ.get(name, default))
    except ValueError:
        return default


def _user_options(environ: Mapping[str, str]):
    path = environ.get("SCALEIO_OPTIONS_FILE")
    if path:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    from dcos_scaleio.options.env import from_env
    return from_env(environ)


def load_config(environ: Mapping[str, str] | None = None) -> SchedulerConfig:
    """Read and validate everything; never raises for bad options (they become ``errors``)."""
    from dcos_scaleio.options import Secret, validate
    from dcos_scaleio.options.validate import FieldError
    environ = os.environ if environ is None else environ
    try:
        user = _user_options(environ)
    except (OSError, ValueError) as exc:
        user, load_error = None, FieldError("(options)", f"cannot read SCALEIO_OPTIONS_FILE: {type(exc).__name__}")
    else:
        load_error = None
    if load_error is None:
        result = validate(user)
        errors, warnings, merged, options = result.errors, result.warnings, result.merged, result.options
    else:
        errors, warnings, merged, options = (load_error,), (), {}, None
    if options is not None and options.scaleio.admin_password_secret:
        value = environ.get("SCALEIO_ADMIN_PASSWORD", "")
        if value:
            options = dataclasses.replace(options, scaleio=dataclasses.replace(options.scaleio,
                                                                             admin_password=Secret(value)))
        else:
            errors = tuple(errors) + (FieldError("scaleio.admin_password_secret",
                                                 "the secret is not mapped: SCALEIO_ADMIN_PASSWORD is empty"),)
            options = None
    if options is not None and options.artifacts.executor.url:
        from .messages import artifact_basename
        try:
            artifact_basename(options.artifacts.executor.url)    # it reaches the executor's command line
        except ValueError as exc:
            errors, options = tuple(errors) + (FieldError("artifacts.executor.url", str(exc)),), None
    port = environ.get("PORT_API") or environ.get("PORT0") or "0"
    backoff = tuple(float(x) for x in environ.get("SCALEIO_RECONCILE_BACKOFF_S", "1,2,4,8,15").split(",") if x.strip())
    return SchedulerConfig(
        options=options, errors=tuple(errors), warnings=tuple(warnings), merged=merged,
        store_url=store_url(options) if options is not None else None,
        api_host=environ.get("LIBPROCESS_IP") or environ.get("HOST") or "127.0.0.1",
        api_port=int(port) if port.isdigit() else 0,
        dev_executor_python=environ.get("SCALEIO_DEV_EXECUTOR_PYTHON", ""),
        reconcile_give_up_s=_float(environ, "SCALEIO_RECONCILE_GIVE_UP_S", 120.0),
        reconcile_backoff_s=backoff or (1.0,),
        implicit_reconcile_s=_float(environ, "SCALEIO_IMPLICIT_RECONCILE_S", 900.0),
        heartbeat_timeout_s=_float(environ, "SCALEIO_HEARTBEAT_TIMEOUT_S", 75.0),
        lock_timeout_s=_float(environ, "SCALEIO_LOCK_TIMEOUT_S", 60.0),
        agent_list_wait_s=_float(environ, "SCALEIO_AGENT_LIST_WAIT_S", 15.0),
        agent_resync_s=_float(environ, "SCALEIO_AGENT_RESYNC_S", 60.0),
        uninstall=(environ.get("SCALEIO_UNINSTALL") or environ.get("SDK_UNINSTALL") or "").lower() in ("1", "true", "yes"))
