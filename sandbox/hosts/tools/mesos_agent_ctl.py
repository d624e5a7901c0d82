"""ExecStart/ExecStop/restart helper of the Mesos agent unit (``mesos-slave`` / ``dcos-mesos-slave``).

``mesos-agent-ctl start|stop|restart`` POSTs ``{control_url}/agents/{name}/{action}`` of the Mesos
emulator named in /etc/sandbox/agent.json. With ``control_url`` null (no emulator attached) it just
succeeds, so the unit reports active. A non-2xx answer or an unreachable emulator fails the unit.
"""
from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from ..families import AGENT_JSON, load_json
from ._common import err

ACTIONS = ("start", "stop", "restart")


def main(argv) -> int:
    if len(argv) != 1 or argv[0] not in ACTIONS:
        err(f"usage: mesos-agent-ctl {{{'|'.join(ACTIONS)}}}")
        return 2
    action = argv[0]
    agent = load_json(AGENT_JSON, {}) or {}
    url = agent.get("control_url")
    if not url:
        return 0
    name = agent.get("name")
    if not name:
        err(f"mesos-agent-ctl: {AGENT_JSON} names no agent")
        return 1
    target = f"{url.rstrip('/')}/agents/{urllib.parse.quote(name, safe='')}/{action}"
    req = urllib.request.Request(target, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        err(f"mesos-agent-ctl: {action} of agent {name} refused: HTTP {exc.code} {exc.read()[:500].decode(errors='replace')}")
        return 1
    except (urllib.error.URLError, OSError) as exc:
        err(f"mesos-agent-ctl: cannot reach the Mesos emulator at {url}: {exc}")
        return 1
    return 0
