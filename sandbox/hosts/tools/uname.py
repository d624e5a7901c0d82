"""Fake ``uname``: the agent's configured kernel (``/run/sandbox/kernel`` set at boot, else the boot
kernel from /etc/sandbox/host.json) and its own hostname. Flags -a -s -n -r -v -m -p -i -o and the
long forms, combined as the real tool prints them (in the fixed order s n r v m p i o)."""
from __future__ import annotations

import os

from ..families import running_kernel
from ._common import out, err

_ORDER = "snrvmpio"
_LONG = {"--kernel-name": "s", "--nodename": "n", "--kernel-release": "r", "--kernel-version": "v",
         "--machine": "m", "--processor": "p", "--hardware-platform": "i", "--operating-system": "o", "--all": "a"}


def main(argv) -> int:
    flags = set()
    for a in argv:
        if a in _LONG:
            flags.add(_LONG[a])
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1 and set(a[1:]) <= set(_ORDER + "a"):
            flags |= set(a[1:])
        elif a == "--version":
            out("uname (GNU coreutils) 8.25")
            return 0
        else:
            err(f"uname: invalid option -- '{a.lstrip('-')[:1]}'\nTry 'uname --help' for more information."
                if a.startswith("-") else f"uname: extra operand '{a}'\nTry 'uname --help' for more information.")
            return 1
    if not flags:
        flags = {"s"}
    kernel = running_kernel()
    values = {"s": "Linux", "n": os.uname().nodename, "r": kernel,
              "v": "#1 SMP Tue Mar 20 16:42:15 UTC 2018" if "generic" in kernel else "#1 SMP Thu Nov 19 16:34:01 UTC 2020",
              "m": "x86_64", "p": "x86_64", "i": "x86_64", "o": "GNU/Linux"}
    if "a" in flags:
        out(" ".join(values[k] for k in _ORDER))
        return 0
    out(" ".join(values[k] for k in _ORDER if k in flags))
    return 0
