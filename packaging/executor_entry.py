"""Frozen entry point of ``dcos-scaleio-executor`` (= ``python -m dcos_scaleio.framework.executor``)."""
from entry import run

if __name__ == "__main__":
    run("dcos-scaleio-executor", "dcos_scaleio.framework.executor")
