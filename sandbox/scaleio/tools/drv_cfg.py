"""``/opt/emc/scaleio/sdc/bin/drv_cfg``: configure the SDC kernel driver (``scini``).

Accepted (scaleio-commands.md section 4):

- ``--add_mdm --ip <ip>[,<ip>...] [--file <drv_cfg.txt>]``: the driver connects to that system. Without
  ``--file`` the setting lives only in the driver's memory (``/run``) and is gone after a reboot; with
  ``--file`` the ``mdm`` line is also written to the file, which the driver rereads when it loads.
- ``--mod_mdm_ip --ip <known ip> --new_mdm_ip <list> [--file ...]``
- ``--query_mdms``: ``Retrieved N mdm(s)`` then ``MDM-ID <system id> SDC ID <id> INSTALLATION ID <id>
  IPs [0]-a [1]-b`` per system.
- ``--query_guid``: the SDC GUID.
- ``--rescan``: pick up volumes mapped to this SDC (devices ``/dev/scini*``).
- ``--query_vols``: ``Retrieved N volume(s)`` then ``VOL-ID <id> MDM-ID <system id>`` lines.

Every command needs the driver loaded (the ``scini`` service running); otherwise it fails like the
real tool does when ``/dev/scini`` is missing. Exit codes: 0 ok, 1 failure (message on stderr).
"""
from __future__ import annotations

import sys
import time

from dcos_scaleio.sandbox.scaleio import hostside, probe, sdcstate

CONNECT_WAIT = 3.0   # how long --add_mdm waits for the driver to report the connection
USAGE = """Usage: drv_cfg [options]
  --add_mdm --ip <MDM IPs> [--file <config file>]
  --mod_mdm_ip --ip <existing MDM IP> --new_mdm_ip <MDM IPs> [--file <config file>]
  --query_mdms
  --query_guid
  --query_vols
  --rescan
"""
COMMANDS = ("--add_mdm", "--mod_mdm_ip", "--query_mdms", "--query_guid", "--query_vols", "--rescan")
VALUE_OPTS = ("--ip", "--new_mdm_ip", "--file")


class UsageError(Exception):
    pass


class DriverError(Exception):
    pass


def parse(argv: list[str]) -> tuple[str, dict]:
    command, opts = None, {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in COMMANDS:
            if command is not None:
                raise UsageError(f"only one command allowed ({command}, {arg})")
            command = arg
        elif arg in VALUE_OPTS:
            if i + 1 >= len(argv):
                raise UsageError(f"option {arg} needs a value")
            opts[arg] = argv[i + 1]
            i += 1
        else:
            raise UsageError(f"unknown option {arg}")
        i += 1
    if command is None:
        raise UsageError("no command given")
    return command, opts


def ip_list(value: str | None, flag: str) -> list[str]:
    ips = [p.strip() for p in (value or "").split(",") if p.strip()]
    if not ips or not all(probe.valid_ip(ip) for ip in ips):
        raise UsageError(f"{flag} needs a comma-separated list of IPv4 addresses, got {value!r}")
    return ips


def file_option(opts: dict) -> str | None:
    path = opts.get("--file")
    if path is not None and (not path.startswith("/") or ".." in path.split("/")):
        raise UsageError(f"--file needs an absolute path, got {path!r}")
    return path


def require_driver(host: hostside.Host) -> None:
    if not sdcstate.is_loaded(host):
        raise DriverError("Failed to open /dev/scini: No such file or directory. "
                          "Is the scini driver loaded? (service scini status)")


def wait_connected(host: hostside.Host, ips: list[str]) -> bool:
    deadline = time.monotonic() + CONNECT_WAIT
    key = ",".join(ips)
    while time.monotonic() < deadline:
        if key in sdcstate.links(host):
            return True
        time.sleep(0.05)
    return False


def add_mdm(host, opts) -> int:
    ips = ip_list(opts.get("--ip"), "--ip")
    path = file_option(opts)
    require_driver(host)
    known = sdcstate.runtime_systems(host)
    clash = next((s for s in known if set(s) & set(ips)), None)
    if clash is not None and clash != ips:
        raise DriverError(f"Failed to add MDM: IP {sorted(set(clash) & set(ips))[0]} already belongs to "
                          f"the configured MDM list {','.join(clash)}; use --mod_mdm_ip")
    print(f"Calling kernel module to connect to MDM ({','.join(ips)})")
    if clash is None:
        sdcstate.add_runtime_system(host, ips)
    if path:
        sdcstate.add_system_to_file(host, path, ips)
    wait_connected(host, ips)  # the real driver connects asynchronously too; this only smooths it
    return 0


def mod_mdm_ip(host, opts) -> int:
    old = ip_list(opts.get("--ip"), "--ip")[0]
    new = ip_list(opts.get("--new_mdm_ip"), "--new_mdm_ip")
    path = file_option(opts)
    require_driver(host)
    with sdcstate.locked(host):
        systems = sdcstate.runtime_systems(host)
        index = next((i for i, s in enumerate(systems) if old in s), None)
        if index is None:
            raise DriverError(f"Failed to modify MDM IPs: no configured MDM has IP {old}")
        systems[index] = new
        host.write_json(sdcstate.RUNTIME_MDMS, {"systems": systems})
    if path:
        sdcstate.add_system_to_file(host, path, new)
    print(f"Calling kernel module to modify MDM IPs ({old} -> {','.join(new)})")
    wait_connected(host, new)
    return 0


def _system_and_sdc(host):
    """(system, this SDC's record or None) when the host belongs to a system; (None, None) otherwise."""
    from dcos_scaleio.sandbox.scaleio import sysview
    try:
        system = sysview.open_system(host, "drv_cfg")
    except hostside.HostError:
        return None, None
    return system, sysview.find_sdc(system, sdcstate.guid(host))


def query_mdms(host, opts) -> int:
    require_driver(host)
    systems = sdcstate.runtime_systems(host)
    links = sdcstate.links(host)
    system, sdc = _system_and_sdc(host)
    install = system.cluster().install_id if system is not None else None
    print(f"Retrieved {len(systems)} mdm(s)")
    for ips in systems:
        link = links.get(",".join(ips)) or {}
        system_id = link.get("system_id") or "0000000000000000"
        sdc_id = sdc.id if (sdc is not None and link) else "0000000000000000"
        install_id = install if (link and install) else "0000000000000000"
        addrs = " ".join(f"[{i}]-{ip}" for i, ip in enumerate(ips))
        print(f"MDM-ID {system_id} SDC ID {sdc_id} INSTALLATION ID {install_id} IPs {addrs}")
    return 0


def query_guid(host, opts) -> int:
    require_driver(host)
    print(sdcstate.guid(host))
    return 0


def rescan(host, opts) -> int:
    require_driver(host)
    refresh_volumes(host)
    return 0


def refresh_volumes(host) -> dict:
    """Match the device table to the volumes the system maps to this SDC now. Returns it."""
    system, sdc = _system_and_sdc(host)
    if system is None or sdc is None or not sdcstate.links(host):
        return sdcstate.set_volumes(host, [])
    from dcos_scaleio.sandbox.scaleio import sysview
    return sdcstate.set_volumes(host, sysview.volumes_mapped_to(system, sdc.id))


def query_vols(host, opts) -> int:
    require_driver(host)
    table = refresh_volumes(host)
    links = sdcstate.links(host)
    system_id = next((v.get("system_id") for v in links.values() if v.get("system_id")), "0")
    print(f"Retrieved {len(table)} volume(s)")
    for vid in sorted(table):
        print(f"VOL-ID {vid} MDM-ID {system_id}")
    return 0


HANDLERS = {
    "--add_mdm": add_mdm,
    "--mod_mdm_ip": mod_mdm_ip,
    "--query_mdms": query_mdms,
    "--query_guid": query_guid,
    "--rescan": rescan,
    "--query_vols": query_vols,
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, opts = parse(argv)
    except UsageError as exc:
        print(f"drv_cfg: {exc}", file=sys.stderr)
        print(USAGE, file=sys.stderr, end="")
        return 1
    try:
        host = hostside.Host()
        from dcos_scaleio.sandbox.scaleio import sysview
        sysview.slow_command_on_host(host, "drv_cfg", command.lstrip("-"))
        return HANDLERS[command](host, opts)
    except UsageError as exc:
        print(f"drv_cfg: {exc}", file=sys.stderr)
        return 1
    except (DriverError, hostside.HostError) as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
