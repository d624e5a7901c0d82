"""The DC/OS front of a sandbox: the IAM behind one Admin Router, plus a static service table.

    front = DcosFront(state_dir / "dcos", mesos_master="127.0.0.1:5050").start()
    front.services.set("scaleio", lambda: scheduler_url)     # /service/scaleio/... -> the scheduler
    front.url, front.ca_path, front.jwks_url
    front.token("bootstrapuser")                             # a fresh ACS token (as login gives)
    front.mint(uid, ttl_s=..., exp=...)                      # the IAM's mint, for tests
    front.users                                              # {"bootstrapuser": pw, "viewer": pw}
    front.serve_marathon(marathon)                           # /marathon, /service/marathon, and
                                                             # /service/<DCOS_SERVICE_NAME> for its apps
    front.stop()

The TLS material (the sandbox CA and the router's certificate, made by ``sandbox/scaleio/tls.py``)
lives in ``<directory>/tls``; ``ca_path`` is the bundle clients verify ``dcos_url`` with. The
router's access log is ``<directory>/adminrouter.log``.
"""
from __future__ import annotations

import os
import pathlib

from .adminrouter import AdminRouter
from .iam import BOOTSTRAP_USER, JWKS_PATH, Iam
from .resolvers import StaticResolver, marathon_app_resolver


class DcosFront:
    """IAM + Admin Router + a :class:`StaticResolver` (``services``), started and stopped together."""

    def __init__(self, directory, *, mesos_master: str | None = None, port: int = 0,
                 iam: Iam | None = None):
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        self.iam = iam or Iam()
        self.services = StaticResolver()
        self.router = AdminRouter(self.iam, self.directory / "tls", port=port, mesos_master=mesos_master,
                                  resolvers=[self.services], access_log=self.directory / "adminrouter.log")

    def start(self) -> "DcosFront":
        self.router.start()
        return self

    def stop(self) -> None:
        self.router.stop()

    def __enter__(self) -> "DcosFront":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ facts
    @property
    def url(self) -> str:
        return self.router.url

    @property
    def ca_path(self) -> str:
        return self.router.ca_path

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    @property
    def users(self) -> dict[str, str]:
        return dict(self.iam.users)

    def mint(self, uid: str, ttl_s: int | None = None, exp: int | None = None) -> str:
        return self.iam.mint(uid, ttl_s=ttl_s, exp=exp)

    def token(self, uid: str = BOOTSTRAP_USER) -> str:
        """A token for a known user, as a login would issue it."""
        if uid not in self.iam.users:
            raise KeyError(f"unknown user {uid!r}")
        return self.iam.mint(uid)

    def register_prefix(self, prefix: str, upstream) -> None:
        self.router.register_prefix(prefix, upstream)

    def add_resolver(self, resolver) -> None:
        self.router.add_resolver(resolver)

    def serve_marathon(self, marathon) -> None:
        """Route ``/marathon/...`` and ``/service/marathon/...`` to ``marathon`` (a started
        :class:`~.marathon.Marathon`), and ``/service/<name>`` to its apps labelled
        ``DCOS_SERVICE_NAME=<name>`` (after the static table, as DC/OS resolves Marathon apps first
        and our static entries stand for what `sandbox up` started by hand)."""
        for prefix in ("/marathon", "/service/marathon"):
            self.router.register_prefix(prefix, marathon.url)
        self.router.add_resolver(marathon_app_resolver(marathon.apps_json))
