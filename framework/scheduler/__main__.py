"""``python -m dcos_scaleio.framework.scheduler``: the ScaleIO framework scheduler (see :mod:`.app`).

Configuration comes from the environment (:mod:`.config`). Exit codes: 0 stopped (SIGTERM, or
uninstall finished), 1 fatal error (Mesos error, store failure), 3 lost the store lock.
"""
import logging
import sys

import pymesos  # noqa: F401  -- import on the main thread: it installs its SIGINT handler here

from .app import SchedulerApp, install_signals
from .config import load_config


def main() -> int:
    config = load_config()
    level = "INFO"
    if config.options is not None:
        level = config.options.service.log_level
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pymesos").propagate = False   # pymesos has its own handler (no duplicate lines)
    for warning in config.warnings:
        logging.getLogger("dcos_scaleio.framework.scheduler").warning("%s", warning)
    app = SchedulerApp(config)
    install_signals(app)
    return app.run()


if __name__ == "__main__":
    sys.exit(main())
