"""Maintainer scripts of the sandbox's ScaleIO, REX-Ray and dvdcli packages.

Each package script is a two-line Python program (see :func:`script_source`) that calls
:func:`main` with the component, the script (preinst/postinst/prerm/postrm), the package version
and OS family. It runs inside the agent with the environment of the installing command, so the real
variables reach it (scaleio-commands.md 2.3):

- ``MDM_ROLE_IS_MANAGER=0|1`` (mdm, required): written as ``actor_role_is_manager`` to
  ``/opt/emc/scaleio/mdm/cfg/conf.txt``;
- ``MDM_IP=a,b`` (sdc; also gateway): the ``mdm`` line of ``drv_cfg.txt`` / ``mdm.ip.addresses``;
- ``TOKEN`` (lia, required): ``lia_token`` in ``/opt/emc/scaleio/lia/cfg/conf.txt`` (hashed, 0600);
- ``GATEWAY_ADMIN_PASSWORD`` (gateway, required): the gateway admin password (hashed, 0600);
- ``I_AM_SURE=1`` (removal of every ScaleIO component, required).

Files created here (not package payload) stay behind on removal, as with the real packages:
``conf.txt`` files, ``drv_cfg.txt``, the gateway's properties files.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from dcos_scaleio.sandbox.scaleio import hostside, probe, sdcstate

MDM_CONF = "/opt/emc/scaleio/mdm/cfg/conf.txt"
SDS_CONF = "/opt/emc/scaleio/sds/cfg/conf.txt"
LIA_CONF = "/opt/emc/scaleio/lia/cfg/conf.txt"
GATEWAY_DIR = "/opt/emc/scaleio/gateway"
GATEWAY_USER_PROPS = GATEWAY_DIR + "/webapps/ROOT/WEB-INF/classes/gatewayUser.properties"
CATALINA_PROPS = GATEWAY_DIR + "/conf/catalina.properties"
SCALEIO_COMPONENTS = ("mdm", "sds", "sdc", "lia", "gateway")
SERVICE = {"mdm": "mdm", "sds": "sds", "sdc": "scini", "lia": "lia", "gateway": "scaleio-gateway",
           "rexray": "rexray"}


class ScriptError(Exception):
    pass


def script_source(component: str, script: str, version: str, os_family: str) -> str:
    for value in (component, script, version, os_family):
        if not all(ch.isalnum() or ch in ".-_" for ch in value):
            raise ValueError(f"bad script parameter {value!r}")
    return (f"import sys\nfrom dcos_scaleio.sandbox.scaleio.pkgscripts import main\n"
            f"sys.exit(main({component!r}, {script!r}, {version!r}, {os_family!r}, sys.argv[1:]))\n")


def drv_cfg_path_for(version: str) -> str:
    """drv_cfg.txt lives in /bin/emc/scaleio up to 2.x and in /etc/emc/scaleio from 3.x on."""
    major = int(version.split(".", 1)[0].split("-", 1)[0])
    return "/bin/emc/scaleio/drv_cfg.txt" if major < 3 else "/etc/emc/scaleio/drv_cfg.txt"


def systemctl(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=60)
    if proc.stdout:
        print(proc.stdout, end="")
    if proc.stderr:
        print(proc.stderr, end="", file=sys.stderr)
    if check and proc.returncode != 0:
        raise ScriptError(f"systemctl {' '.join(args)} failed ({proc.returncode})")
    return proc


def start_service(unit: str) -> bool:
    systemctl("daemon-reload")
    return systemctl("enable", "--now", unit).returncode == 0


def stop_service(unit: str) -> None:
    systemctl("disable", "--now", unit)


def secret_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def set_key(host: hostside.Host, path: str, key: str, value: str, mode: int = 0o644) -> None:
    """Set ``key=value`` in a properties/conf file, keeping its other lines."""
    lines = (host.read_text(path) or "").splitlines()
    out, done = [], False
    for line in lines:
        if line.split("=", 1)[0].strip() == key:
            if not done:
                out.append(f"{key}={value}")
                done = True
        else:
            out.append(line)
    if not done:
        out.append(f"{key}={value}")
    host.write_text(path, "\n".join(out) + "\n", mode)


def env_ips(name: str) -> list[str]:
    raw = os.environ.get(name, "")
    ips = [p.strip() for p in raw.split(",") if p.strip()]
    bad = [ip for ip in ips if not probe.valid_ip(ip)]
    if bad:
        raise ScriptError(f"{name} must be a comma-separated list of IP addresses (bad: {', '.join(bad)})")
    return ips


def require_sure(component: str) -> None:
    if os.environ.get("I_AM_SURE") != "1":
        raise ScriptError(f"Removing the ScaleIO {component.upper()} package requires confirmation: "
                          f"run it again with I_AM_SURE=1 in the environment")


# ------------------------------------------------------------------------------------------------
def mdm(script: str, host, version, os_family) -> None:
    if script == "preinst":
        role = os.environ.get("MDM_ROLE_IS_MANAGER")
        if role not in ("0", "1"):
            raise ScriptError("MDM_ROLE_IS_MANAGER must be set to 1 (manager) or 0 (tie-breaker) "
                              "to install the MDM package")
    elif script == "postinst":
        set_key(host, MDM_CONF, "actor_role_is_manager", os.environ.get("MDM_ROLE_IS_MANAGER", "1"))
        start_service("mdm")
    elif script == "prerm":
        require_sure("mdm")
        stop_service("mdm")


def sds(script: str, host, version, os_family) -> None:
    if script == "postinst":
        if host.read_text(SDS_CONF) is None:
            host.write_text(SDS_CONF, "# SDS configuration\nsds_port=7072\n")
        start_service("sds")
    elif script == "prerm":
        require_sure("sds")
        stop_service("sds")


def sdc(script: str, host, version, os_family) -> None:
    if script == "preinst":
        env_ips("MDM_IP")  # refuse a malformed list before anything is unpacked
    elif script == "postinst":
        path = drv_cfg_path_for(version)
        guid, systems = sdcstate.parse_drv_cfg(host.read_text(path) or "")
        ips = env_ips("MDM_IP")
        if ips:
            systems = [s for s in systems if not set(s) & set(ips)] + [ips]
        host.write_text(path, sdcstate.render_drv_cfg(guid or sdcstate.new_guid(), systems))
        print("Starting scini")
        if not start_service("scini"):
            print("scini: the SDC driver did not load; check the kernel (uname -r) against the "
                  "package's modules or run driver_sync", file=sys.stderr)
        else:
            print("Success configuring module")
    elif script == "prerm":
        require_sure("sdc")
        stop_service("scini")


def lia(script: str, host, version, os_family) -> None:
    if script == "preinst":
        if not os.environ.get("TOKEN"):
            raise ScriptError("TOKEN (the LIA password) must be set to install the LIA package")
    elif script == "postinst":
        set_key(host, LIA_CONF, "lia_token", secret_hash(os.environ["TOKEN"]), 0o600)
        start_service("lia")
    elif script == "prerm":
        require_sure("lia")
        stop_service("lia")


def gateway(script: str, host, version, os_family) -> None:
    if script == "preinst":
        if not os.environ.get("GATEWAY_ADMIN_PASSWORD"):
            raise ScriptError("GATEWAY_ADMIN_PASSWORD must be set to install the gateway package")
        env_ips("MDM_IP")
    elif script == "postinst":
        if host.read_text(CATALINA_PROPS) is None:
            host.write_text(CATALINA_PROPS, "# Tomcat ports of the ScaleIO gateway\nhttp.port=80\nssl.port=443\n")
        props = GATEWAY_USER_PROPS
        if host.read_text(props) is None:
            host.write_text(props, "mdm.ip.addresses=\nsecurity.bypass_certificate_check=false\n", 0o600)
        set_key(host, props, "gateway-admin.password", secret_hash(os.environ["GATEWAY_ADMIN_PASSWORD"]), 0o600)
        ips = env_ips("MDM_IP")
        if ips:
            set_key(host, props, "mdm.ip.addresses", ";".join(ips), 0o600)
        if start_service("scaleio-gateway"):
            print("The EMC ScaleIO Gateway is running")
    elif script == "prerm":
        require_sure("gateway")
        stop_service("scaleio-gateway")


def rexray(script: str, host, version, os_family) -> None:
    if script == "postinst":
        systemctl("daemon-reload")
        print("rexray has been installed to /usr/bin/rexray")
        print(f"REX-Ray\n-------\nBinary: /usr/bin/rexray\nSemVer: {version}\nOsArch: Linux-x86_64")
    elif script == "prerm":
        stop_service("rexray")


def dvdcli(script: str, host, version, os_family) -> None:
    if script == "postinst":
        print("dvdcli has been installed to /usr/bin/dvdcli")


HANDLERS = {"mdm": mdm, "sds": sds, "sdc": sdc, "lia": lia, "gateway": gateway, "rexray": rexray,
            "dvdcli": dvdcli}


def main(component: str, script: str, version: str, os_family: str, argv=()) -> int:
    # On an upgrade the old package's removal scripts must neither ask for I_AM_SURE nor stop the
    # service; the new package's postinst restarts it.
    upgrading = os.environ.get("SANDBOX_PKG_ACTION") == "upgrade"
    if upgrading and script in ("prerm", "postrm"):
        return 0
    try:
        if upgrading and script == "postinst" and component in SERVICE:
            systemctl("daemon-reload")
            systemctl("restart", SERVICE[component])
        HANDLERS[component](script, hostside.Host(), version, os_family)
    except ScriptError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0
