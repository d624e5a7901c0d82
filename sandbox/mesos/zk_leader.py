"""Master detection through ZooKeeper, as Mesos masters publish it (mesos-http-api.md section 2).

Every master endpoint is a contender: an ephemeral sequential znode ``<path>/json.info_<seq>`` holding
its MasterInfo as JSON. The lowest sequence number is the leader, which is what pymesos's
``zk://host:port/path`` detector (and DC/OS tooling) follows. A leader change re-creates the znodes of
every endpoint ahead of the new leader (a master that loses leadership restarts and contends again).

Blocking (kazoo): call from a worker thread.
"""
import json
import logging

from kazoo.client import KazooClient

log = logging.getLogger(__name__)


class ZkPublisher:
    def __init__(self, url):
        """``url`` is ``host:port[,host:port...]/path`` (a ``zk://`` prefix is accepted)."""
        if url.startswith("zk://"):
            url = url[len("zk://"):]
        hosts, _, path = url.partition("/")
        self.hosts = hosts
        self.path = "/" + path.strip("/") if path.strip("/") else "/mesos"
        self.client = None
        self.nodes = {}                 # endpoint index -> znode path

    @property
    def url(self):
        return f"zk://{self.hosts}{self.path}"

    def start(self):
        self.client = KazooClient(hosts=self.hosts, timeout=10)
        self.client.start(timeout=15)
        self.client.ensure_path(self.path)

    def contend(self, index, master_info):
        """Add endpoint ``index`` as a contender (behind every current one)."""
        node = self.client.create(f"{self.path}/json.info_", json.dumps(master_info).encode(), ephemeral=True,
                                  sequence=True)
        self.nodes[index] = node

    def elect(self, index, infos):
        """Make endpoint ``index`` the leader: every contender ahead of it withdraws and contends again.
        ``infos`` maps endpoint index -> current MasterInfo."""
        def seq(node):
            return int(node.rsplit("_", 1)[1])
        ahead = sorted((i for i in self.nodes if seq(self.nodes[i]) < seq(self.nodes[index])),
                       key=lambda i: seq(self.nodes[i]))
        for i in ahead:
            self.client.delete(self.nodes.pop(i))
        # The new leader's MasterInfo changed (new master ID): publish it before the others come back.
        self.client.set(self.nodes[index], json.dumps(infos[index]).encode())
        for i in ahead:
            self.contend(i, infos[i])

    def stop(self):
        if self.client is not None:
            try:
                for node in self.nodes.values():
                    self.client.delete(node)
            except Exception:
                log.warning("could not withdraw master znodes", exc_info=True)
            self.client.stop()
            self.client.close()
            self.client = None
