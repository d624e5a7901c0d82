"""The ScaleIO host tools installed into emulated agents: ``scli``, ``drv_cfg``, ``rexray``, ``dvdcli``.

Each tool is a module with ``main(argv) -> int``. Packages install them at their real paths as tiny
scripts whose shebang is the sandbox's own interpreter (visible inside every agent root because the
agent's lower layer is the machine's ``/``); see :func:`script_text`.
"""
from __future__ import annotations

import sys

#: tool name -> module that implements it
TOOLS = {
    "scli": "dcos_scaleio.sandbox.scaleio.tools.scli",
    "drv_cfg": "dcos_scaleio.sandbox.scaleio.tools.drv_cfg",
    "rexray": "dcos_scaleio.sandbox.scaleio.tools.rexray",
    "dvdcli": "dcos_scaleio.sandbox.scaleio.tools.dvdcli",
    "daemon": "dcos_scaleio.sandbox.scaleio.daemons",
}


def script_text(tool: str, *fixed_args: str) -> str:
    """Source of an executable script that runs ``tool``'s ``main`` with ``fixed_args`` + its argv.

    ``fixed_args`` lets one module serve several programs (e.g. the daemon module runs ``mdm``).
    """
    module = TOOLS[tool]
    for arg in fixed_args:
        if not arg or not all(ch.isalnum() or ch in "-_.=" for ch in arg):
            raise ValueError(f"bad fixed argument {arg!r}")
    return (
        f"#!{sys.executable}\n"
        f"# sandbox emulation of {tool}: see {module}\n"
        "import sys\n"
        f"from {module} import main\n"
        f"sys.exit(main({list(fixed_args)!r} + sys.argv[1:]))\n"
    )
