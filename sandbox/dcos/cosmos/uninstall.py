"""Uninstalling an app, the two ways Cosmos does it.

- Marathon style (no ``DCOS_COMMONS_UNINSTALL`` label): DELETE the app (force), then, when the app has
  ``DCOS_PACKAGE_FRAMEWORK_NAME`` and a Mesos master is known, tear down the framework(s) of that name
  (``/master/frameworks`` -> ``POST /master/teardown frameworkId=...``). Nothing else is cleaned.
- SDK style (``DCOS_COMMONS_UNINSTALL`` set): PUT the app (force) with env ``SDK_UNINSTALL=true``, so
  the scheduler restarts into its uninstall plan; then, in the background, wait for that Marathon
  deployment, poll ``<service>/<DCOS_COMMONS_API_VERSION>/plans/deploy`` until it answers 200
  (COMPLETE), and DELETE the app. The app disappearing, or a 401, ends the wait. :class:`SdkUninstalls`
  tracks each one (``state``: ``deploying`` | ``waiting-for-plan`` | ``removing`` | ``done`` |
  ``failed`` | ``gone``), and a second request for the same app does not start another.
"""
from __future__ import annotations

import logging
import threading
import time

import requests

from .errors import CosmosError
from .marathon import MarathonClient, normalize_app_id

__all__ = ["is_sdk_app", "marathon_uninstall", "SdkUninstalls"]

LOG = logging.getLogger(__name__)


def is_sdk_app(app: dict) -> bool:
    return bool((app.get("labels") or {}).get("DCOS_COMMONS_UNINSTALL"))


def _teardown_frameworks(mesos_url: str, name: str) -> list[str]:
    r = requests.get(f"{mesos_url}/master/frameworks", timeout=10)
    r.raise_for_status()
    ids = [f["id"] for f in r.json().get("frameworks", []) if f.get("name") == name]
    if len(ids) > 1:
        raise CosmosError(400, "MultipleFrameworkIds",
                          f"Multiple frameworks with name [{name}] found: {ids}", {"frameworkName": name, "ids": ids})
    for fid in ids:
        requests.post(f"{mesos_url}/master/teardown", data={"frameworkId": fid}, timeout=10).raise_for_status()
    return ids


def marathon_uninstall(marathon: MarathonClient, app: dict, mesos_url: str | None) -> None:
    marathon.delete(app["id"])
    name = (app.get("labels") or {}).get("DCOS_PACKAGE_FRAMEWORK_NAME")
    if name and mesos_url:
        try:
            _teardown_frameworks(mesos_url.rstrip("/"), name)
        except requests.RequestException as exc:
            LOG.warning("tearing down framework %s failed: %s", name, exc)


class _GiveUp(Exception):
    pass


class SdkUninstalls:
    """The SDK uninstall protocol for each app, run in background threads.

    ``service_url(app) -> base URL | None`` says where the app's scheduler answers; ``poll_s`` is the
    interval between checks (Cosmos: 10 s) and ``timeout_s`` the most it waits for the plan.
    """

    def __init__(self, marathon: MarathonClient, service_url, poll_s: float = 1.0, timeout_s: float = 900.0):
        self.marathon = marathon
        self.service_url = service_url
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.states: dict[str, dict] = {}
        self._threads: list[threading.Thread] = []

    def state(self, app_id: str) -> dict | None:
        with self._lock:
            st = self.states.get(normalize_app_id(app_id))
            return dict(st) if st else None

    def _set(self, app_id: str, **fields) -> None:
        with self._lock:
            self.states.setdefault(app_id, {}).update(fields)

    def start(self, app: dict) -> None:
        """PUT the app into uninstall mode now (errors reach the caller); the rest runs in the background."""
        app_id = normalize_app_id(app["id"])
        with self._lock:
            current = self.states.get(app_id)
            if current and current.get("state") not in ("done", "failed", "gone"):
                return
            self.states[app_id] = {"state": "deploying", "since": time.time()}
        try:
            frameworks = self._framework_ids(app)
            env = dict(app.get("env") or {})
            env["SDK_UNINSTALL"] = "true"
            deployment = self.marathon.update(dict(app, env=env), force=True)
        except BaseException as exc:
            self._set(app_id, state="failed", error=str(exc))
            raise
        t = threading.Thread(target=self._follow, args=(app_id, deployment, frameworks),
                             name=f"sdk-uninstall{app_id.replace('/', '-')}", daemon=True)
        self._threads.append(t)
        t.start()

    def _framework_ids(self, app: dict):
        base = self.service_url(app)
        if not base:
            return []
        version = (app.get("labels") or {}).get("DCOS_COMMONS_API_VERSION") or "v1"
        try:
            r = requests.get(f"{base}/{version}/state/frameworkId", timeout=5)
            return r.json() if r.status_code == 200 else []
        except (requests.RequestException, ValueError):
            return []

    def _follow(self, app_id: str, deployment: str, frameworks) -> None:
        deadline = time.monotonic() + self.timeout_s
        try:
            while deployment and deployment in self.marathon.deployment_ids():
                self._wait(deadline)
            self._set(app_id, state="waiting-for-plan")
            while True:
                app = self.marathon.app(app_id)
                if app is None:
                    self._set(app_id, state="gone")
                    return
                code = self._plan_code(app)
                if code == 200:
                    break
                if code == 401:
                    self._set(app_id, state="failed", error="the service answered 401")
                    return
                self._wait(deadline)
            self._set(app_id, state="removing")
            self.marathon.delete(app_id)
            self._set(app_id, state="done")
            LOG.info("SDK uninstall of %s complete (frameworks %s)", app_id, frameworks)
        except _GiveUp as exc:
            self._set(app_id, state="failed", error=str(exc))
        except Exception as exc:   # a background task: record, never raise
            LOG.exception("SDK uninstall of %s failed", app_id)
            self._set(app_id, state="failed", error=f"{type(exc).__name__}: {exc}")

    def _wait(self, deadline: float) -> None:
        """Sleep one poll interval; raise :class:`_GiveUp` when stopped or past the deadline."""
        if self._stop.wait(self.poll_s):
            raise _GiveUp("Cosmos is stopping")
        if time.monotonic() > deadline:
            raise _GiveUp(f"the uninstall plan did not complete within {self.timeout_s:.0f} s")

    def _plan_code(self, app: dict) -> int | None:
        base = self.service_url(app)
        if not base:
            return None
        version = (app.get("labels") or {}).get("DCOS_COMMONS_API_VERSION") or "v1"
        try:
            r = requests.get(f"{base}/{version}/plans/deploy", timeout=5)
        except requests.RequestException:
            return None
        if r.status_code == 200:
            try:
                return 200 if r.json().get("status") == "COMPLETE" else r.status_code
            except ValueError:
                return None
        return r.status_code

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
