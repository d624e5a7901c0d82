"""Frozen entry point of ``dcos-scaleio-scheduler`` (= ``python -m dcos_scaleio.framework.scheduler``)."""
from entry import run

if __name__ == "__main__":
    run("dcos-scaleio-scheduler", "dcos_scaleio.framework.scheduler")
