"""``dvdcli``: the Docker Volume Driver CLI (scaleio-commands.md 7.1), talking to a volume plugin
(REX-Ray) over its unix socket without any Docker daemon.

- ``dvdcli version``
- ``dvdcli mount --volumedriver=rexray --volumename=NAME [--volumeopts=size=5 ...] [--explicitCreate]``:
  creates the volume first unless ``--explicitCreate`` (implicit create), mounts it and prints the host
  path.
- ``dvdcli unmount|path|get|create|remove --volumedriver=D --volumename=NAME``; ``dvdcli list --volumedriver=D``

Errors print ``Error: <text>`` on stderr and exit 1.
"""
from __future__ import annotations

import json
import os
import sys

from dcos_scaleio.sandbox.scaleio.tools import volplugin

DEFAULT_VERSION = "0.2.1"
COMMANDS = ("version", "mount", "unmount", "path", "get", "create", "remove", "list")


class UsageError(Exception):
    pass


def parse(argv: list[str]) -> tuple[str, dict, list[str]]:
    if not argv or argv[0] not in COMMANDS:
        raise UsageError(f"usage: dvdcli {{{'|'.join(COMMANDS)}}} --volumedriver=D --volumename=V")
    command, opts, volopts = argv[0], {}, []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise UsageError(f"unexpected argument {arg!r}")
        name, value = (arg[2:].split("=", 1) + [None])[:2]
        if name in ("explicitCreate", "explicitcreate") and value is None:
            value = "true"
        elif value is None:
            if i + 1 >= len(argv):
                raise UsageError(f"flag needs an argument: {arg}")
            value = argv[i + 1]
            i += 1
        if name == "volumeopts":
            if "=" not in value:
                raise UsageError(f"--volumeopts needs key=value, got {value!r}")
            volopts.append(value)
        elif name in ("volumedriver", "volumename", "explicitCreate", "explicitcreate"):
            opts[name.lower()] = value
        else:
            raise UsageError(f"unknown flag --{name}")
        i += 1
    return command, opts, volopts


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    version = DEFAULT_VERSION
    if argv and argv[0].startswith("--sandbox-version="):
        version = argv.pop(0).split("=", 1)[1]
    try:
        command, opts, volopts = parse(argv)
        if command == "version":
            print(f"Binary: /usr/bin/dvdcli\nSemVer: {version}\nOsArch: Linux-x86_64\nBranch: v{version}")
            return 0
        driver = opts.get("volumedriver") or "rexray"
        root = os.environ.get("SCALEIO_HOST_ROOT")
        sock = volplugin.find_socket(driver, root=root)
        volplugin.call(sock, "Plugin.Activate", {})
        if command == "list":
            for vol in volplugin.call(sock, "VolumeDriver.List", {}).get("Volumes", []):
                print(vol.get("Name"))
            return 0
        name = opts.get("volumename")
        if not name:
            raise UsageError("--volumename is required")
        req = {"Name": name}
        if command == "mount":
            explicit = str(opts.get("explicitcreate", "false")).lower() in ("1", "true", "yes")
            if not explicit:
                volplugin.call(sock, "VolumeDriver.Create",
                               {"Name": name, "Opts": dict(o.split("=", 1) for o in volopts)})
            print(volplugin.call(sock, "VolumeDriver.Mount", {"Name": name, "ID": f"dvdcli-{os.getpid()}"})
                  ["Mountpoint"])
        elif command == "unmount":
            volplugin.call(sock, "VolumeDriver.Unmount", {"Name": name, "ID": f"dvdcli-{os.getpid()}"})
        elif command == "create":
            volplugin.call(sock, "VolumeDriver.Create", {"Name": name, "Opts": dict(o.split("=", 1) for o in volopts)})
        elif command == "remove":
            volplugin.call(sock, "VolumeDriver.Remove", req)
        elif command == "path":
            print(volplugin.call(sock, "VolumeDriver.Path", req).get("Mountpoint", ""))
        elif command == "get":
            print(json.dumps(volplugin.call(sock, "VolumeDriver.Get", req).get("Volume", {})))
        return 0
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except volplugin.PluginError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
