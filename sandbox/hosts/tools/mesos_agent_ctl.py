"""ExecStart/ExecStop/restart helper of the Mesos agent unit (``mesos-slave`` / ``dcos-mesos-slave``).

``mesos-agent-ctl start|stop|restart`` POSTs ``{control_url}/agents/{name}/{action}`` of the Mesos
emulator named in /etc/sandbox/agent.json. With ``control_url`` null (no emulator attached) it just
succeeds, so the unit reports active. A non-2xx answer or an unreachable emulator fails the unit.
"""
from __future__ import annotations

import socket
import urllib.parse

from ..families import AGENT_JSON, load_json
from ._common import err

ACTIONS = ("start", "stop", "restart")


def main(argv) -> int:
    if len(argv) != 1 or argv[0] not in ACTIONS:
        err(f"usage: mesos-agent-ctl {{{'|'.join(ACTIONS)}}}")
        return 2
    return control(argv[0], "mesos-agent-ctl")


def request_reboot() -> int:
    """``systemctl reboot``: ask the emulator to reboot this agent's host and return at once (the
    caller dies in the reboot, like on a real host). No emulator attached: fail like a host whose init
    cannot be reached."""
    agent = load_json(AGENT_JSON, {}) or {}
    if not agent.get("control_url") or not agent.get("name"):
        err("Failed to talk to init daemon.")
        return 1
    return control("reboot", "systemctl", wait=False)


def control(action: str, prog: str, wait: bool = True) -> int:
    """POST ``{control_url}/agents/{name}/{action}``; ``wait=False`` sends it without awaiting the answer."""
    agent = load_json(AGENT_JSON, {}) or {}
    url = agent.get("control_url")
    if not url:
        return 0
    name = agent.get("name")
    if not name:
        err(f"{prog}: {AGENT_JSON} names no agent")
        return 1
    target = f"{url.rstrip('/')}/agents/{urllib.parse.quote(name, safe='')}/{action}"
    try:
        status, body = post(target, wait=wait)
    except (OSError, ValueError) as exc:
        err(f"{prog}: cannot reach the Mesos emulator at {url}: {exc}")
        return 1
    if not 200 <= status < 300:
        err(f"{prog}: {action} of agent {name} refused: HTTP {status} {body[:500].decode(errors='replace')}")
        return 1
    return 0


def post(url: str, timeout: float = 60.0, wait: bool = True) -> tuple[int, bytes]:
    """A bodiless HTTP/1.1 POST over plain TCP (the control API is http on loopback). A few lines of
    socket code instead of urllib: this runs on every agent start/stop and urllib drags in ssl/email.
    ``wait=False``: send the request and return ``(202, b"")`` without reading the answer."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"unsupported control url {url!r}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: 0\r\n"
               f"Connection: close\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(request)
        if not wait:
            return 202, b""
        raw = b""
        # Read the head, then Content-Length bytes (or to EOF): never rely on the server closing.
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        while length is None or len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        raise ValueError("malformed HTTP response")
    return int(status_line[1]), body[:length] if length is not None else body
