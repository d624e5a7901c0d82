"""Fake ``systemctl`` (systemd 229/219 output): start, stop, restart, try-restart, reload, is-active,
is-enabled, is-failed, enable [--now], disable [--now], daemon-reload, status, show -p, list-units,
reset-failed, mask/unmask. See hosts.systemd for the semantics.

Exit codes as systemctl: 0 ok; is-active/is-failed 0/3 (is-failed 0 when failed, 1 otherwise);
status 0 active, 3 not active, 4 no such unit; start of an unknown unit 5; a failed job 1.
"""
from __future__ import annotations

import os
import time

from .. import systemd
from ._common import out, err

def _fmt_time(ts: float) -> str:
    return time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _ago(ts: float) -> str:
    delta = max(0, int(time.time() - ts))
    if delta < 60:
        return f"{delta}s ago"
    if delta < 3600:
        return f"{delta // 60}min {delta % 60}s ago"
    return f"{delta // 3600}h {delta % 3600 // 60}min ago"


def _comm(pid) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _cmdline(pid) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def status(names) -> int:
    rc = 0
    blocks = []
    for raw in names:
        name = systemd.unit_name(raw)
        unit = systemd.load_unit(name)
        if unit is None:
            err(f"Unit {name} could not be found.")
            rc = max(rc, 4)
            continue
        st = systemd.read_state(name)
        active = systemd.active_state(name)
        try:
            enabled = systemd.enabled_state(name)
        except systemd.UnitError:
            enabled = "disabled"
        since = st.get("since")
        lines = [f"● {name} - {unit.description}",
                 f"   Loaded: loaded ({unit.path}; {enabled}; vendor preset: enabled)"]
        when = f" since {_fmt_time(since)}; {_ago(since)}" if since else ""
        if active == "active":
            sub = "running" if st.get("pid") else "exited"
            lines.append(f"   Active: active ({sub}){when}")
        elif active == "failed":
            lines.append(f"   Active: failed (Result: {st.get('result', 'exit-code')}){when}")
        elif active == "activating":
            lines.append(f"   Active: activating (start){when}")
        else:
            lines.append(f"   Active: inactive (dead){when}")
        if active == "active" and st.get("pid"):
            pid = st["pid"]
            lines.append(f" Main PID: {pid} ({_comm(pid)})")
            pids = systemd.session_pids(st.get("sid") or pid) or [pid]
            lines.append(f"   CGroup: /system.slice/{name}")
            for i, p in enumerate(sorted(pids)):
                lines.append(f"           {'└─' if i == len(pids) - 1 else '├─'}{p} {_cmdline(p)}")
        log = os.path.join(systemd.LOG_DIR, name + ".log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                tail = f.read().splitlines()[-10:]
            if tail:
                host = os.uname().nodename
                stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(since or time.time()))
                lines.append("")
                lines += [f"{stamp} {host} {name.rsplit('.', 1)[0]}[{st.get('pid', 0)}]: {t}" for t in tail]
        blocks.append("\n".join(lines))
        if active != "active":
            rc = max(rc, 3)
    if blocks:
        out("\n\n".join(blocks))
    return rc


def show(names, props, value_only: bool) -> int:
    for raw in names or ["sandbox-manager"]:
        name = systemd.unit_name(raw) if names else raw
        unit = systemd.load_unit(name) if names else None
        st = systemd.read_state(name)
        active = systemd.active_state(name)
        try:
            file_state = systemd.enabled_state(name) if unit else ""
        except systemd.UnitError:
            file_state = ""
        values = {
            "Id": name, "Names": name, "Description": unit.description if unit else name,
            "LoadState": "loaded" if unit else "not-found", "ActiveState": active,
            "SubState": {"active": "running" if st.get("pid") else "exited", "failed": "failed",
                         "activating": "start"}.get(active, "dead"),
            "MainPID": str(st.get("pid", 0) if active == "active" else 0),
            "ExecMainPID": str(st.get("pid", 0)), "Result": st.get("result", "success"),
            "UnitFileState": file_state, "FragmentPath": unit.path if unit else "",
            "ActiveEnterTimestamp": _fmt_time(st["since"]) if st.get("since") and active == "active" else "",
            "Type": unit.type if unit else "", "Requires": " ".join(unit.deps("Requires")) if unit else "",
            "After": " ".join(unit.deps("After")) if unit else "",
        }
        keys = props or list(values)
        for k in keys:
            v = values.get(k, "")
            out(v if value_only else f"{k}={v}")
    return 0


def _expand_props(args) -> tuple[list[str], bool, list[str]]:
    props, value_only, rest = [], False, []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-p", "--property"):
            i += 1
            props += args[i].split(",") if i < len(args) else []
        elif a.startswith("--property="):
            props += a.split("=", 1)[1].split(",")
        elif a.startswith("-p") and len(a) > 2:
            props += a[2:].split(",")
        elif a == "--value":
            value_only = True
        else:
            rest.append(a)
        i += 1
    return props, value_only, rest


def enable(names, now: bool, manager) -> int:
    units = []
    for raw in names:
        name = systemd.unit_name(raw)
        unit = systemd.load_unit(name)
        if unit is None:
            err(f"Failed to enable unit: Unit file {name} does not exist.")
            return 1
        units.append(unit)
    for unit in units:
        links = systemd.install_targets(unit)
        if not links:
            err("The unit files have no installation config (WantedBy, RequiredBy, Also, Alias\n"
                "settings in the [Install] section, and DefaultInstance for template units).\n"
                "This means they are not meant to be enabled using systemctl.")
            continue
        for link, target in links:
            if os.path.islink(link):
                continue
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(target, link)
            err(f"Created symlink from {link} to {target}.")  # systemd 219/229 wording (CentOS 7, Ubuntu 16.04)
    if now:
        manager.start([u.name for u in units])
    return 0


def disable(names, now: bool, manager) -> int:
    for raw in names:
        name = systemd.unit_name(raw)
        unit = systemd.load_unit(name)
        if unit is None:
            err(f"Failed to disable unit: Unit file {name} does not exist.")
            return 1
        for link, _ in systemd.install_targets(unit):
            if os.path.islink(link):
                os.unlink(link)
                err(f"Removed symlink {link}.")
    if now:
        manager.stop(names)
    return 0


def mask(names, unmask: bool) -> int:
    for raw in names:
        name = systemd.unit_name(raw)
        link = f"/etc/systemd/system/{name}"
        if unmask:
            if os.path.islink(link) and os.readlink(link) == "/dev/null":
                os.unlink(link)
                err(f"Removed symlink {link}.")
        elif not os.path.lexists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/dev/null", link)
            err(f"Created symlink from {link} to /dev/null.")
    return 0


def list_units(all_: bool) -> int:
    out(f"{'UNIT':<40} {'LOAD':<7} {'ACTIVE':<9} {'SUB':<8} DESCRIPTION")
    n = 0
    for name in systemd.all_unit_names():
        active = systemd.active_state(name)
        if not all_ and active == "inactive":
            continue
        unit = systemd.load_unit(name)
        st = systemd.read_state(name)
        sub = {"active": "running" if st.get("pid") else "exited", "failed": "failed"}.get(active, "dead")
        out(f"{name:<40} {'loaded':<7} {active:<9} {sub:<8} {unit.description if unit else ''}")
        n += 1
    out(f"\nLOAD   = Reflects whether the unit definition was properly loaded.\n"
        f"ACTIVE = The high-level unit activation state, i.e. generalization of SUB.\n"
        f"SUB    = The low-level unit activation state, values depend on unit type.\n\n"
        f"{n} loaded units listed.")
    return 0


def main(argv) -> int:
    args = [a for a in argv if a not in ("--no-pager", "--no-block", "--no-legend", "-q", "--quiet",
                                         "--system", "--full", "-l", "--no-ask-password")]
    quiet = any(a in ("-q", "--quiet") for a in argv)
    now = "--now" in args
    all_ = "--all" in args or "-a" in args
    args = [a for a in args if a not in ("--now", "--all", "-a")]
    props, value_only, args = _expand_props(args)
    if not args:
        return list_units(all_)
    cmd, names = args[0], args[1:]
    try:
        if cmd == "daemon-reload" or cmd == "daemon-reexec":
            with systemd.manager_lock():
                systemd.daemon_reload()
            return 0
        if cmd == "is-active":
            if not names:
                err("Too few arguments.")
                return 1
            states = [systemd.active_state(systemd.unit_name(n)) for n in names]
            if not quiet:
                out("\n".join(states))
            return 0 if any(s == "active" for s in states) else 3
        if cmd == "is-failed":
            states = [systemd.active_state(systemd.unit_name(n)) for n in names]
            if not quiet:
                out("\n".join(states))
            return 0 if any(s == "failed" for s in states) else 1
        if cmd == "is-enabled":
            if not names:
                err("Too few arguments.")
                return 1
            states = [systemd.enabled_state(systemd.unit_name(n)) for n in names]
            if not quiet:
                out("\n".join(states))
            return 0 if any(s in ("enabled", "static") for s in states) else 1
        if cmd == "status":
            return status(names)
        if cmd == "show":
            return show(names, props, value_only)
        if cmd in ("list-units", "list-unit-files"):
            return list_units(all_ or cmd == "list-unit-files")
        if cmd in ("mask", "unmask"):
            return mask(names, cmd == "unmask")
        if cmd == "reset-failed":
            for n in names or systemd.all_unit_names():
                n = systemd.unit_name(n)
                if systemd.active_state(n) == "failed":
                    systemd.write_state(n, {"state": "inactive"})
            return 0
        if cmd in ("start", "stop", "restart", "try-restart", "reload", "reload-or-restart", "enable",
                   "disable", "kill"):
            if not names:
                err("Too few arguments.")
                return 1
            with systemd.manager_lock():
                manager = systemd.Manager(warn=err)
                if cmd == "start":
                    manager.start(names)
                elif cmd == "stop":
                    manager.stop(names)
                elif cmd in ("restart", "reload-or-restart"):
                    manager.restart(names)
                elif cmd == "try-restart":
                    manager.restart(names, only_if_running=True)
                elif cmd == "reload":
                    manager.reload(names)
                elif cmd == "enable":
                    return enable(names, now, manager)
                elif cmd == "disable":
                    return disable(names, now, manager)
                elif cmd == "kill":
                    for n in names:
                        st = systemd.read_state(systemd.unit_name(n))
                        if st.get("sid"):
                            for pid in systemd.session_pids(st["sid"]):
                                os.kill(pid, 15)
            return 0
        if cmd == "reboot":
            from .mesos_agent_ctl import request_reboot
            return request_reboot()
        if cmd in ("poweroff", "halt"):
            err("Failed to talk to init daemon.")
            return 1
        err(f"Unknown operation '{cmd}'.")
        return 1
    except systemd.UnitError as exc:
        err(str(exc))
        return exc.code
