"""Fake ``service NAME start|stop|restart|status|reload``: as on Ubuntu 16.04 / CentOS 7, where
``service`` hands systemd units to systemctl (``service --status-all`` lists units)."""
from __future__ import annotations

from . import systemctl
from ._common import err

ACTIONS = ("start", "stop", "restart", "try-restart", "reload", "force-reload", "status")


def main(argv) -> int:
    if argv[:1] == ["--status-all"]:
        return systemctl.main(["list-units", "--all"])
    if len(argv) < 2 or argv[1] not in ACTIONS:
        err("Usage: service < option > | --status-all | [ service_name [ command | --full-restart ] ]")
        return 1
    name, action = argv[0], argv[1]
    if action == "force-reload":
        action = "reload-or-restart"
    return systemctl.main([action, name])
