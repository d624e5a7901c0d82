"""systemd services and TCP ports: the verification half of most steps."""
from __future__ import annotations

import time

from .hostcmd import Host, listening_ports

__all__ = ["state", "wait_active", "is_active", "ensure_running", "restart", "stop_disable", "wait_port", "wait_until",
           "unit_text", "daemon_reload"]

# A unit whose configuration was changed is marked here *before* the change and unmarked only after
# it has (re)started, so a crash between writing a config and restarting never leaves a service
# running with the old configuration (the next run sees the mark and restarts).
PENDING_DIR = "/var/lib/dcos-scaleio/restart-pending"
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def state(host: Host, unit: str) -> str:
    """``systemctl is-active``: active, inactive, activating, failed, ..."""
    return host.run(["systemctl", "is-active", unit], timeout=60).out.strip() or "unknown"


def is_active(host: Host, unit: str) -> bool:
    return state(host, unit) == "active"


def wait_active(host: Host, unit: str, timeout_s: float) -> bool:
    """True once ``unit`` is active; False at the deadline or as soon as it has failed."""
    seen = {}

    def settled():
        seen["s"] = state(host, unit)
        return seen["s"] in ("active", "failed")
    return wait_until(settled, timeout_s) and seen["s"] == "active"


def wait_until(predicate, timeout_s: float, interval_s: float = 0.2) -> bool:
    """Poll ``predicate`` until true or the deadline passes (bounded, never a bare sleep)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def daemon_reload(host: Host) -> None:
    """``systemctl daemon-reload``; raise StepError if it fails (a unit file written for nothing)."""
    from .step import StepError
    r = host.run(["systemctl", "daemon-reload"], timeout=60)
    if not r.ok:
        raise StepError(host.failure(r, "systemctl daemon-reload"))


def ensure_running(host: Host, ctx, unit: str, timeout_s: float = 30.0) -> None:
    """Enable ``unit`` and start it if it is not active; raise StepError if it does not come up."""
    from .step import StepError
    if is_active(host, unit):
        return
    host.run(["systemctl", "daemon-reload"], timeout=60)
    host.run(["systemctl", "enable", unit], timeout=60)
    r = host.run(["systemctl", "start", unit], timeout=120)
    if not wait_active(host, unit, timeout_s):
        raise StepError(host.failure(r, f"service {unit} does not stay active") if not r.ok
                        else f"service {unit} does not stay active")
    ctx.changed(f"started {unit}")


def restart(host: Host, ctx, unit: str, why: str, timeout_s: float = 30.0) -> None:
    from .step import StepError
    host.run(["systemctl", "daemon-reload"], timeout=60)
    host.run(["systemctl", "enable", unit], timeout=60)
    r = host.run(["systemctl", "restart", unit], timeout=120)
    if not wait_active(host, unit, timeout_s):
        raise StepError(host.failure(r, f"service {unit} does not come back after a restart"))
    ctx.changed(f"restarted {unit} ({why})")


def mark_restart(host: Host, unit: str) -> None:
    host.write_text(f"{PENDING_DIR}/{unit}", "restart pending\n", 0o644)


def restart_pending(host: Host, unit: str) -> bool:
    return host.exists(f"{PENDING_DIR}/{unit}")


def settle(host: Host, ctx, unit: str, why: str, timeout_s: float = 30.0) -> None:
    """Restart ``unit`` if a restart is pending and it runs, else make sure it runs; then unmark."""
    if restart_pending(host, unit) and is_active(host, unit):
        restart(host, ctx, unit, why, timeout_s)
    else:
        ensure_running(host, ctx, unit, timeout_s)
    host.remove(f"{PENDING_DIR}/{unit}")


def stop_disable(host: Host, ctx, unit: str) -> None:
    if is_active(host, unit):
        host.run(["systemctl", "stop", unit], timeout=120)
        ctx.changed(f"stopped {unit}")
    host.run(["systemctl", "disable", unit], timeout=60)


def wait_port(port: int, timeout_s: float = 30.0) -> bool:
    return wait_until(lambda: port in listening_ports(), timeout_s)


def unit_text(host: Host, unit: str) -> str | None:
    """The unit file's text as systemd would pick it (first directory wins)."""
    for directory in UNIT_DIRS:
        text = host.read_text(f"{directory}/{unit}.service")
        if text is not None:
            return text
    return None
