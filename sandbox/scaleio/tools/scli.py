"""``scli``: the ScaleIO 2.x/3.x MDM command line, acting on the shared simulated system.

Installed by the MDM package only (``/opt/emc/scaleio/mdm/bin/cli``, linked as ``/usr/bin/scli``).
Syntax as the real tool: one command flag (``--add_sds``) plus ``--option value`` / ``--switch`` options
in any order. Reference: scaleio-commands.md section 3.

Behaviour that matters to callers:

- It talks to the MDM on this host (or ``--mdm_ip``): that MDM's service must be running
  (something listening on 9011/6611) and not cut off by the ``mdm_unreachable`` fault, else
  ``Error: Failed to connect to MDM <ip>:6611`` and exit 1.
- Most commands need ``--login`` first. The session is kept per host and Unix user
  (``$HOME/.scli/session``, 0600), as the real tool keeps it; an expired or unknown session gives
  ``Error: MDM failed command.  Status: Invalid session. Please login and try again.``
- Destructive commands (``--unmap_volume_from_sdc``, ``--remove_volume``, ``--modify_spare_policy``) ask
  for confirmation unless ``--i_am_sure`` is given; without a terminal they are aborted (exit 1).
- Refusals print ``Error: MDM failed command.  Status: <text>`` on stderr. Exit codes: 0 success;
  7 command failed (not found, exists, bad credentials, invalid state); 8 ``--query_storage_pool``
  of a missing pool; 1 ``--query_cluster`` without a cluster, connection failures and usage errors.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from dcos_scaleio.sandbox.scaleio import hostside, sysview
from dcos_scaleio.sandbox.scaleio.errors import NoCluster, NotFound, ScaleIOError
from dcos_scaleio.sandbox.scaleio.tools import scli_cluster as cl
from dcos_scaleio.sandbox.scaleio.tools import scli_objects as ob
from dcos_scaleio.sandbox.scaleio.tools.scli_core import (OPTIONS, SWITCHES, VERSION, ConnectError, Ctx,
                                                          UsageError, require_attached, require_session,
                                                          target_mdm)


# ------------------------------------------------------------------------------------------------
# argument parsing
# ------------------------------------------------------------------------------------------------
def parse(argv: list[str]) -> tuple[str, dict]:
    command, opts = None, {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise UsageError(f"Invalid parameter: {arg}")
        name = arg[2:]
        if name in COMMANDS:
            if command is not None:
                raise UsageError(f"Only one command may be given ({'--' + command}, {arg})")
            command = name
        elif name in SWITCHES:
            opts[name] = True
        elif name in OPTIONS:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise UsageError(f"Missing value for parameter {arg}")
            opts[name] = argv[i + 1]
            i += 1
        else:
            raise UsageError(f"Unknown parameter {arg}")
        i += 1
    if command is None:
        raise UsageError("No command given")
    return command, opts


@dataclass(frozen=True)
class Command:
    run: Callable
    login: bool = True          # needs a valid session
    attached: bool = True       # needs the target MDM to be a cluster manager


COMMANDS = {
    "create_mdm_cluster": Command(cl.cmd_create_mdm_cluster, login=False, attached=False),
    "login": Command(cl.cmd_login, login=False, attached=False),
    "logout": Command(cl.cmd_logout, login=False, attached=False),
    "set_password": Command(cl.cmd_set_password),
    "add_standby_mdm": Command(cl.cmd_add_standby_mdm),
    "remove_standby_mdm": Command(cl.cmd_remove_standby_mdm),
    "switch_cluster_mode": Command(cl.cmd_switch_cluster_mode),
    "rename_system": Command(cl.cmd_rename_system),
    "query_cluster": Command(cl.cmd_query_cluster, login=False, attached=False),
    "query_all": Command(cl.cmd_query_all),
    "add_protection_domain": Command(ob.cmd_add_protection_domain),
    "query_protection_domain": Command(ob.cmd_query_protection_domain),
    "remove_protection_domain": Command(ob.cmd_remove_protection_domain),
    "add_storage_pool": Command(ob.cmd_add_storage_pool),
    "query_storage_pool": Command(ob.cmd_query_storage_pool),
    "remove_storage_pool": Command(ob.cmd_remove_storage_pool),
    "modify_zero_padding_policy": Command(ob.cmd_modify_zero_padding_policy),
    "modify_spare_policy": Command(ob.cmd_modify_spare_policy),
    "add_sds": Command(ob.cmd_add_sds),
    "add_sds_device": Command(ob.cmd_add_sds_device),
    "remove_sds_device": Command(ob.cmd_remove_sds_device),
    "query_all_sds": Command(ob.cmd_query_all_sds),
    "query_sds": Command(ob.cmd_query_sds),
    "remove_sds": Command(ob.cmd_remove_sds),
    "query_all_sdc": Command(ob.cmd_query_all_sdc),
    "add_sdc": Command(ob.cmd_add_sdc),
    "remove_sdc": Command(ob.cmd_remove_sdc),
    "rename_sdc": Command(ob.cmd_rename_sdc),
    "set_restricted_sdc_mode": Command(ob.cmd_set_restricted_sdc_mode),
    "query_properties": Command(ob.cmd_query_properties),
    "add_volume": Command(ob.cmd_add_volume),
    "map_volume_to_sdc": Command(ob.cmd_map_volume_to_sdc),
    "unmap_volume_from_sdc": Command(ob.cmd_unmap_volume_from_sdc),
    "remove_volume": Command(ob.cmd_remove_volume),
    "query_volume": Command(ob.cmd_query_volume),
    "query_all_volumes": Command(ob.cmd_query_all_volumes),
}


def exit_code(command: str, err: ScaleIOError) -> int:
    if command == "query_cluster" and isinstance(err, NoCluster):
        return 1
    if command == "query_storage_pool" and isinstance(err, NotFound):
        return 8
    return err.scli_exit


def run(argv: list[str], host: hostside.Host) -> tuple[int, list[str], list[str]]:
    """Run one scli invocation. Returns (exit code, stdout lines, stderr lines)."""
    if argv in (["--version"], ["--help"]):
        if argv == ["--version"]:
            return 0, [f"EMC ScaleIO Version: {VERSION}"], []
        return 0, ["Usage: scli --<command> [--<parameter> <value> ...]", "Commands:"] + \
            [f"  --{name}" for name in sorted(COMMANDS)], []
    try:
        command, opts = parse(argv)
    except UsageError as exc:
        return 1, [], [f"Error: {exc}", "Run scli --help for the list of commands and parameters"]
    spec = COMMANDS[command]
    try:
        system = sysview.open_system(host, "scli")
    except hostside.HostError as exc:
        return 1, [], [f"Error: {exc}"]
    ctx = Ctx(host, system, opts, command)
    try:
        sysview.apply_slow_command(system, "scli", command)
        mdm_ip = target_mdm(ctx)
        if spec.attached:
            require_attached(ctx, mdm_ip)
        if spec.login:
            require_session(ctx)
        return 0, spec.run(ctx, mdm_ip), []
    except UsageError as exc:
        return 1, [], [f"Error: {exc}"]
    except ConnectError as exc:
        return 1, [], [str(exc)]
    except ScaleIOError as err:
        return exit_code(command, err), [], [err.scli_line]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rc, out, err = run(argv, hostside.Host())
    for line in out:
        print(line)
    sys.stdout.flush()
    for line in err:
        print(line, file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
