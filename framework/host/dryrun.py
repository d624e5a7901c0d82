"""What a host step would do on a host where nothing of ScaleIO is installed yet, without doing it.

:func:`step_commands` lists, for a step's action, parameters (as the plan engine sends them to
the executor) and OS family, the argv of every command the step runs there (queries included,
in order) and the files it writes. A command whose ``when`` starts with "if " runs only when the
host is not already so (e.g. a service the package's install script started needs no start). It reads no host and runs nothing: the API's ``/v1/preview``
shows it. On a host where part of the work is done the executor runs a subset (every step
checks first and only changes what differs). Secrets are shown as ``******``.

Built from the same constants the steps use (package names, prerequisites, paths, units).
"""
from __future__ import annotations

from .artifacts import CACHE_DIR, file_name_of
from .hostcmd import REDACTED
from .packages import package_name
from .services import PENDING_DIR
from . import agentorder
from .agentflags import AGENT_UNIT
from .steps import deps, dvdi, gateway, mdm, rexray, sdc

__all__ = ["step_commands", "step_files", "ACTIONS"]


def _cmd(argv, when="") -> dict:
    return {"argv": [str(a) for a in argv], "when": when}


def _query(family, names) -> dict:
    if family == "rhel":
        return _cmd(["rpm", "-q", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\n", *names], "query installed packages")
    return _cmd(["dpkg-query", "-W", "-f", "${Package}\\t${Status}\\t${Version}\\n", *names],
                "query installed packages")


def _install_repo(family, names) -> list:
    if not names:
        return []
    if family == "rhel":
        return [_cmd(["yum", "-y", "install", *names], "install distribution packages")]
    return [_cmd(["apt-get", "-y", "install", *names], "install distribution packages (apt-get update first "
                                                        "if the package lists are missing)")]


def _install_file(params, family, component) -> list:
    """ensure(): query, install the fetched artifact (downloaded to the cache, sha256 checked), query."""
    name = package_name(component, family)
    art = (params.get("packages") or {}).get(component)
    if not art:
        return [_query(family, [name]), _cmd([], f"fails: no {component} package configured for {family}")]
    path = f"{CACHE_DIR}/{file_name_of(art['url'])}"
    argv = ["rpm", "-Uvh", path] if family == "rhel" else ["dpkg", "-i", path]
    return [_query(family, [name]),
            _cmd(argv, f"install {name} from {art['url']} (sha256 {art['sha256'][:12]}...)"),
            _query(family, [name])]


def _start(unit) -> list:
    # A package's install script may have started the service already: then only the check runs.
    cond = f"if {unit} is not active yet"
    return [_cmd(["systemctl", "is-active", unit], f"is {unit} active?"),
            _cmd(["systemctl", "daemon-reload"], cond), _cmd(["systemctl", "enable", unit], cond),
            _cmd(["systemctl", "start", unit], cond)]


def _deps(p, f):
    wanted = deps.BASE[f] + (deps.MDM[f] + deps.GATEWAY[f] if p.get("mdm") else [])
    out = [_cmd(["uname", "-r"], "kernel"), _query(f, wanted), *_install_repo(f, wanted), _query(f, wanted)]
    if p.get("discover_disks"):
        out += [_cmd(["lsblk", "-J", "-b", "-o", "NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT"], "discover disks"),
                _cmd(["blkid", "-o", "device"], "devices with a signature")]
    return out


def _mdm(p, f):
    pre = deps.MDM[f]
    flag = "1" if p.get("manager", p.get("role") != "tiebreaker") else "0"
    out = [_query(f, pre), _query(f, [package_name("mdm", f)]), _cmd(["systemctl", "is-active", "mdm"]),
           *_install_repo(f, pre), *_install_file(p, f, "mdm")]
    out[-2]["when"] += f" with MDM_ROLE_IS_MANAGER={flag}"
    return out + _start("mdm") + [_cmd(["systemctl", "is-active", "mdm"], "verify")]


def _gateway(p, f):
    pre = [n for group in gateway.PREREQUISITES for n in group[f]]
    out = [_query(f, pre), _query(f, [package_name(c, f) for c in ("lia", "gateway")]),
           _cmd(["systemctl", "is-active", "lia"], "is lia active?"),
           _cmd(["systemctl", "is-active", gateway.UNIT], f"is {gateway.UNIT} active?"),
           *_install_repo(f, pre), *_install_file(p, f, "lia"), *_install_file(p, f, "gateway")]
    out += _start("lia") + _start(gateway.UNIT)
    return out + [_cmd(["systemctl", "is-active", u], "verify (then an HTTPS login as admin)")
                  for u in ("lia", gateway.UNIT)]


def _sds(p, f):
    return [*_install_file(p, f, "sds"), *_start("sds"), _cmd(["systemctl", "is-active", "sds"], "verify")]


def _sdc(p, f):
    ips = ",".join(p.get("mdm_ips") or [])
    conf = sdc.DRV_CFG_TXT[2 if str(p.get("scaleio_version", "")).startswith("2") else 3]
    return [*_install_file(p, f, "sdc"), *_start("scini"),
            _cmd([sdc.DRV_CFG, "--query_mdms"], "MDMs the SDC knows"),
            _cmd([sdc.DRV_CFG, "--add_mdm", "--ip", ips, "--file", conf], "if the SDC does not know its MDMs yet"),
            _cmd(["systemctl", "is-active", "scini"], "verify"), _cmd(["lsmod"], "verify: scini loaded"),
            _cmd([sdc.DRV_CFG, "--query_mdms"], "verify: until connected to the MDMs (up to 20 s)"),
            _cmd([sdc.DRV_CFG, "--query_guid"], "verify: the SDC's GUID")]


def _cluster_create(p, f):
    def scli(*args, when=""):
        return _cmd(["scli", *args], when)
    out = [scli("--query_cluster", when="is an MDM cluster formed?"),
           scli("--create_mdm_cluster", "--master_mdm_ip", p.get("primary_ip", ""), "--master_mdm_management_ip",
                p.get("primary_ip", ""), "--master_mdm_name", "<primary MDM name>", "--accept_license",
                "--approve_certificate"),
           scli("--login", "--username", "admin", "--password", REDACTED,
                when="then, if refused, with the default password and --set_password")]
    for role, members in (("manager", p.get("standby_managers") or []), ("tb", p.get("tiebreakers") or [])):
        for m in members:
            extra = ["--new_mdm_management_ip", m["ip"]] if role == "manager" else []
            out.append(scli("--add_standby_mdm", "--new_mdm_ip", m["ip"], "--mdm_role", role, *extra,
                            "--new_mdm_name", m["name"], "--approve_certificate"))
    names = lambda ms: ",".join(m["name"] for m in ms)  # noqa: E731
    mode = p.get("cluster_mode", "")
    switch = ["--switch_cluster_mode", "--cluster_mode", mode]
    if p.get("standby_managers"):
        switch += ["--add_slave_mdm_name", names(p["standby_managers"])]
    if p.get("tiebreakers"):
        switch += ["--add_tb_name", names(p["tiebreakers"])]
    if mode and mode != "1_node":
        out.append(scli(*switch))
    out += [scli("--rename_system", "--new_name", p.get("system_name", "")), scli("--logout")]
    return out


def _rexray(p, f):
    dcos = p.get("flavour") == "dcos"
    unit, binary = (rexray.DCOS_UNIT, rexray.DCOS_BIN) if dcos else ("rexray", "/usr/bin/rexray")
    out = [] if dcos else [*_install_file(p, f, "rexray"),
                           _cmd(["systemctl", "daemon-reload"], f"if {rexray.DROP_IN} was written")]
    return out + [_cmd(["systemctl", "is-active", "scini"], "REX-Ray starts after the SDC driver"), *_start(unit),
                  _cmd(["systemctl", "is-active", unit], "verify"),
                  _cmd([binary, "volume", "ls"], "verify: until it lists volumes (up to 20 s)")]


def _agent_unit(p) -> str | None:
    return p.get("agent_unit") or AGENT_UNIT.get(p.get("flavour") or "mesos")


def _dvdi(p, f):
    out = [] if p.get("flavour") == "dcos" else _install_file(p, f, "dvdcli")
    unit = _agent_unit(p)
    if unit in agentorder.DROP_INS:
        out += [_cmd(["systemctl", "show", "-p", "LoadState", "-p", "After", f"{unit}.service"],
                     "is the agent ordered after REX-Ray"),
                _cmd(["systemctl", "daemon-reload"], f"if {agentorder.DROP_INS[unit]} was written")]
    if unit and p.get("self_restart"):
        out.append(_cmd(["systemctl", "restart", unit], "restart the agent to load the isolator flags"))
    return out


ACTIONS = {"deps": _deps, "mdm": _mdm, "gateway": _gateway, "sds": _sds, "sdc": _sdc,
           "cluster-create": _cluster_create, "rexray": _rexray, "dvdi": _dvdi}


def step_commands(action: str, params: dict, os_family: str) -> list[dict] | None:
    """``[{"argv": [...], "when": "..."}]`` the step runs on a fresh host; None for an action this
    module does not describe (the uninstall steps) or an unknown OS family."""
    fn = ACTIONS.get(action)
    if fn is None or os_family not in ("rhel", "ubuntu"):
        return None
    return [c for c in fn(params or {}, os_family) if c["argv"] or c["when"]]


def step_files(action: str, params: dict) -> list[dict]:
    """``[{"path", "mode"}]`` the step writes on a fresh host (contents are not shown: some hold secrets)."""
    p = params or {}
    files = {
        "mdm": [(mdm.MDM_CONF, 0o644)],
        "gateway": [(gateway.USER_PROPS, None), (gateway.CATALINA_PROPS, None),
                    (f"{PENDING_DIR}/{gateway.UNIT}", 0o644)],
        "rexray": ([(rexray.DCOS_CONFIG, 0o600)] if p.get("flavour") == "dcos"
                   else [(rexray.DROP_IN, 0o644), (rexray.CONFIG, 0o600)]),
        "dvdi": ([(dvdi.module_path(p.get("mesos_version", "")), None), (dvdi.MODULE_JSON, 0o644)]
                 if p.get("isolator") == "dvdi" else []) + [(dvdi.STATE_FILE, None)]
                + ([(agentorder.DROP_INS[_agent_unit(p)], 0o644)] if _agent_unit(p) in agentorder.DROP_INS else []),
    }.get(action, [])
    return [{"path": path, "mode": f"{mode:04o}" if mode is not None else None} for path, mode in files]

