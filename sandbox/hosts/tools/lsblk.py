"""Fake ``lsblk`` (util-linux 2.27-2.32 style) over the agent's disk table (hosts.disks).

Accepted: -b/--bytes, -d/--nodeps, -n/--noheadings, -o/--output COLS, -J/--json, -P/--pairs,
-p/--paths, -r/--raw, -a/--all, -l/--list, and device arguments. Columns: NAME KNAME PATH MAJ:MIN RM
SIZE RO TYPE FSTYPE MOUNTPOINT LABEL UUID MODEL ROTA. Unknown device: "lsblk: <dev>: not a block
device", exit 32 (nothing listed) as util-linux does; unknown column: exit 1.
"""
from __future__ import annotations

import json

from .. import disks
from ._common import out, err

DEFAULT_COLUMNS = ["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINT"]
KNOWN = {"NAME", "KNAME", "PATH", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "FSTYPE", "MOUNTPOINT", "LABEL",
         "UUID", "MODEL", "ROTA"}
_RIGHT = {"SIZE", "RM", "RO", "ROTA"}


def human(size: int) -> str:
    """lsblk's human size: 100G, 1.5T, 512M (one decimal when needed)."""
    for unit, factor in (("E", 1 << 60), ("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= factor:
            value = size / factor
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{size}B"


def _value(disk: dict, col: str, index: int, as_bytes: bool, full_paths: bool):
    name = f"/dev/{disk['name']}" if full_paths else disk["name"]
    return {
        "NAME": name, "KNAME": disk["name"] if not full_paths else name, "PATH": f"/dev/{disk['name']}",
        "MAJ:MIN": f"8:{16 * index}", "RM": str(disk.get("rm", 0)), "RO": str(disk.get("ro", 0)),
        "SIZE": str(disk["size"]) if as_bytes else human(disk["size"]), "TYPE": disk.get("type", "disk"),
        "FSTYPE": disk.get("fstype"), "MOUNTPOINT": disk.get("mountpoint"), "LABEL": disk.get("label"),
        "UUID": disk.get("uuid"), "MODEL": disk.get("model"), "ROTA": str(disk.get("rota", 1)),
    }[col]


def main(argv) -> int:
    opts = {"bytes": False, "noheadings": False, "json": False, "pairs": False, "paths": False, "raw": False}
    columns = None
    devices = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "--output"):
            i += 1
            columns = args[i].split(",") if i < len(args) else []
        elif a.startswith("--output="):
            columns = a.split("=", 1)[1].split(",")
        elif a.startswith("-o") and len(a) > 2:
            columns = a[2:].split(",")
        elif a.startswith("--"):
            long = {"--bytes": "bytes", "--noheadings": "noheadings", "--json": "json", "--pairs": "pairs",
                    "--paths": "paths", "--raw": "raw"}
            if a in long:
                opts[long[a]] = True
            elif a not in ("--nodeps", "--all", "--list", "--ascii"):
                err(f"lsblk: unrecognized option '{a}'\nTry 'lsblk --help' for more information.")
                return 1
        elif a.startswith("-") and len(a) > 1:
            short = {"b": "bytes", "n": "noheadings", "J": "json", "P": "pairs", "p": "paths", "r": "raw"}
            for ch in a[1:]:
                if ch in short:
                    opts[short[ch]] = True
                elif ch not in "dalif":
                    err(f"lsblk: invalid option -- '{ch}'\nTry 'lsblk --help' for more information.")
                    return 1
        else:
            devices.append(a)
        i += 1
    columns = [c.upper() for c in (columns or DEFAULT_COLUMNS)]
    for c in columns:
        if c not in KNOWN:
            err(f"lsblk: unknown column: {c}")
            return 1
    table = disks.load()
    indexed = list(enumerate(table))
    rc = 0
    if devices:
        chosen = []
        for dev in devices:
            hit = [(i, d) for i, d in indexed if f"/dev/{d['name']}" == dev or d["name"] == dev]
            if not hit:
                err(f"lsblk: {dev}: not a block device")
                rc = 32
            chosen += hit
        indexed = chosen
        if not indexed:
            return 32
        rc = 64 if rc else 0  # some devices listed, some failed
    rows = [[_value(d, c, i, opts["bytes"], opts["paths"]) for c in columns] for i, d in indexed]
    if opts["json"]:
        def js(col, v):
            if col in ("SIZE", "RM", "RO", "ROTA") and v is not None:
                return int(v) if opts["bytes"] or col != "SIZE" else v
            return v
        out(_util_linux_json([{c.lower(): js(c, v) for c, v in zip(columns, row)} for row in rows]))
        return rc
    if opts["pairs"]:
        for row in rows:
            out(" ".join(f'{c}="{v or ""}"' for c, v in zip(columns, row)))
        return rc
    if opts["raw"]:
        if not opts["noheadings"]:
            out(" ".join(columns))
        for row in rows:
            out(" ".join(v or "" for v in row))
        return rc
    cells = [[v or "" for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(columns)]
    lines = []
    if not opts["noheadings"]:
        lines.append(_line(columns, columns, widths))
    lines += [_line(r, columns, widths) for r in cells]
    if lines:
        out("\n".join(lines))
    return rc


def _line(values, columns, widths) -> str:
    parts = [v.rjust(w) if c in _RIGHT else v.ljust(w) for v, c, w in zip(values, columns, widths)]
    return " ".join(parts)  # util-linux pads the last column too


def _util_linux_json(devices) -> str:
    """JSON laid out as util-linux prints it (3-space indent, "},{" between devices)."""
    objs = []
    for dev in devices:
        fields = ",\n".join(f"         {json.dumps(k)}: {json.dumps(v)}" for k, v in dev.items())
        objs.append("{\n" + fields + "\n      }")
    return '{\n   "blockdevices": [\n      ' + ",".join(objs) + "\n   ]\n}"
