"""A real, standalone ZooKeeper server for tests: moved to :mod:`dcos_scaleio.sandbox.zookeeper`
(``sandbox up --store zookeeper`` runs it too); this module keeps the old import path and API."""
from dcos_scaleio.sandbox.zookeeper import (  # noqa: F401  (re-exported API)
    MAIN_CLASS, SLF4J_SIMPLE_JAR, ZOOKEEPER_JAR, ZooKeeperServer, four_letter_word, free_port,
)
