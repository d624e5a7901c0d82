"""The fake host tools installed into agents (each module has ``main(argv) -> exit code``).

``install_tool(root, module, paths)`` writes a tiny script at each in-agent path whose shebang is the
sandbox's interpreter (visible inside the agent through the lower layer) and which calls the module.

The host tools only need the standard library, so their scripts run Python with ``-S`` (no
site-packages scan, about 4x faster start: these tools run hundreds of times per test run) and
locate the ``dcos_scaleio`` packages directly. Pass ``site=True`` for tools that need third-party
packages.
"""
from __future__ import annotations

import os
import sys

FAST_TEMPLATE = """#!{python} -S
# Sandbox stand-in for {prog}: installed by dcos_scaleio.sandbox.hosts (never on the machine itself).
import sys
sys.dont_write_bytecode = False  # cache compiled modules (in the agent's own upper dir, never the machine)
sys.path.insert(0, {core_parent!r})
import dcos_scaleio
dcos_scaleio.__path__.append({sandbox_parent!r})  # dcos_scaleio.sandbox lives beside the core package
from dcos_scaleio.sandbox.hosts.tools.{module} import main
sys.argv[0] = {prog!r}
sys.exit(main(sys.argv[1:]))
"""
SITE_TEMPLATE = """#!{python}
# Sandbox stand-in for {prog}: installed by dcos_scaleio.sandbox.hosts (never on the machine itself).
import sys
from {package}.{module} import main
sys.argv[0] = {prog!r}
sys.exit(main(sys.argv[1:]))
"""


def _layout() -> tuple[str, str]:
    """(directory holding the dcos_scaleio core package, directory holding the sandbox package)."""
    import dcos_scaleio
    import dcos_scaleio.sandbox
    core_parent = os.path.dirname(os.path.dirname(os.path.abspath(dcos_scaleio.__file__)))
    sandbox_parent = os.path.dirname(os.path.dirname(os.path.abspath(dcos_scaleio.sandbox.__file__)))
    return core_parent, sandbox_parent


def script_for(module: str, prog: str, *, package: str = "dcos_scaleio.sandbox.hosts.tools",
               site: bool = False) -> str:
    if site or package != "dcos_scaleio.sandbox.hosts.tools":
        return SITE_TEMPLATE.format(python=sys.executable, package=package, module=module, prog=prog)
    core_parent, sandbox_parent = _layout()
    return FAST_TEMPLATE.format(python=sys.executable, core_parent=core_parent, sandbox_parent=sandbox_parent,
                                module=module, prog=prog)


def install_tool(root, module: str, paths, *, package: str = "dcos_scaleio.sandbox.hosts.tools",
                 site: bool = False) -> None:
    """Install ``<package>.<module>.main`` as a script at every in-agent path (running or stopped root)."""
    for path in paths:
        # follow=False: /sbin/lsmod & co. are symlinks to one binary (kmod); replace the link, not the binary.
        root.write_text(path, script_for(module, path.rsplit("/", 1)[-1], package=package, site=site), mode=0o755,
                        follow=False)
