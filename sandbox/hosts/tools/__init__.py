"""The fake host tools installed into agents (each module has ``main(argv) -> exit code``).

``install_tool(root, module, paths)`` writes a tiny script at each in-agent path whose shebang is the
sandbox's interpreter (visible inside the agent through the lower layer) and which calls the module.
"""
from __future__ import annotations

import sys

SCRIPT_TEMPLATE = """#!{python}
# Sandbox stand-in for {prog}: installed by dcos_scaleio.sandbox.hosts (never on the machine itself).
import sys
from dcos_scaleio.sandbox.hosts.tools.{module} import main
sys.argv[0] = {prog!r}
sys.exit(main(sys.argv[1:]))
"""


def script_for(module: str, prog: str) -> str:
    return SCRIPT_TEMPLATE.format(python=sys.executable, module=module, prog=prog)


def install_tool(root, module: str, paths) -> None:
    """Install the tool ``module`` at every in-agent path (a running or stopped AgentRoot)."""
    for path in paths:
        root.write_text(path, script_for(module, path.rsplit("/", 1)[-1]), mode=0o755)
