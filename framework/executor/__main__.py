"""``python -m dcos_scaleio.framework.executor``: run the executor (see :mod:`.main`)."""
import sys

from dcos_scaleio.framework.executor.main import main

if __name__ == "__main__":
    sys.exit(main())
