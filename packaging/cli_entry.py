"""Frozen entry point of ``dcos-scaleio`` (the DC/OS CLI plugin; = ``python -m dcos_scaleio.cli.main``).

Calls ``main()`` directly (no runpy): the DC/OS CLI spawns the plugin for every command, so
start-up time counts. Exit code = main's return value.
"""
import sys

from dcos_scaleio.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
