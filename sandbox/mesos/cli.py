"""``python -m dcos_scaleio.sandbox mesos --agents N [--port P] [--state-dir D] ...``

Runs an emulated Mesos cluster in the foreground. Once ready it prints ONE JSON line::

    {"master": "127.0.0.1:5050", "master_url": "127.0.0.1:5050" or "zk://.../mesos", "masters": [...], "control_url": "http://127.0.0.1:PORT/control",
     "state_dir": "...", "agents": [{"name", "id", "hostname", "ip", "port", "role", "version",
     "attributes", "flavour", "state", "failure", "root", "work_dir"}, ...]}

SIGTERM or Ctrl-C stops it and every process it started, and unmounts everything.
"""
import argparse
import json
import logging
import signal
import sys
import tempfile
import threading

from .cluster import MesosCluster
from .spec import AgentSpec


def build_specs(args):
    if args.agent_specs:
        with open(args.agent_specs) as f:
            data = json.load(f)
        if not isinstance(data, list):
            raise SystemExit("--agent-specs must hold a JSON list of agent specs")
        return [AgentSpec.from_dict(item) for item in data]
    specs = []
    for i in range(args.agents):
        specs.append(AgentSpec(f"agent-{i + 1}", flavour=args.flavour, version=args.agent_version,
                               attributes={"rack": f"r{i % 3 + 1}"}))
    for i in range(args.public_agents):
        specs.append(AgentSpec(f"public-{i + 1}", role="slave_public", flavour=args.flavour,
                               version=args.agent_version, attributes={"public_ip": "true"}))
    return specs


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m dcos_scaleio.sandbox mesos", description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=3, help="private agents (role *)")
    p.add_argument("--public-agents", type=int, default=0, help="public agents (resources reserved to slave_public)")
    p.add_argument("--port", type=int, default=5050, help="leading master port (0: any free port)")
    p.add_argument("--masters", type=int, default=1, help="master endpoints (>= 2 for leader changes)")
    p.add_argument("--zk", default=None, help="publish master znodes for zk:// detection, e.g. 127.0.0.1:2181/mesos")
    p.add_argument("--state-dir", default=None, help="where agent roots and work dirs live (default: a temp dir)")
    p.add_argument("--flavour", choices=("mesos", "dcos"), default="mesos")
    p.add_argument("--agent-version", default="1.11.0")
    p.add_argument("--heartbeat-interval", type=float, default=15.0)
    p.add_argument("--allocation-interval", type=float, default=1.0)
    p.add_argument("--agent-specs", metavar="FILE",
                   help="JSON list of AgentSpec fields (name, role, attributes, resources, version, flavour, "
                        "isolation, flags, ...); replaces --agents/--public-agents/--flavour/--agent-version")
    p.add_argument("--update-retry", default="10,600", metavar="MIN,MAX",
                   help="agent status update resend interval and cap, seconds")
    p.add_argument("--time-scale", type=float, default=1.0, help="emulated seconds per wall-clock second")
    p.add_argument("--simulated", action="store_true",
                   help="benchmark mode: tasks complete by themselves, no executor processes, no agent roots")
    p.add_argument("--sim-task-duration", type=float, default=5.0)
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="mesos-sandbox-")
    retry_min, _, retry_max = args.update_retry.partition(",")
    cluster = MesosCluster(state_dir, build_specs(args), masters=args.masters, port=args.port,
                           update_retry=(float(retry_min), float(retry_max or retry_min)),
                           time_scale=args.time_scale,
                           heartbeat_interval=args.heartbeat_interval, allocation_interval=args.allocation_interval,
                           simulated=args.simulated, sim_task_duration=args.sim_task_duration, zk=args.zk)
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        cluster.start()
        print(json.dumps(cluster.snapshot()), flush=True)
        while not done.wait(1.0):
            pass
    finally:
        cluster.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
