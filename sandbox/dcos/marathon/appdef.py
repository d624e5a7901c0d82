"""Marathon AppDefinitions: validation, defaults and label selectors, as Marathon 1.x applies them.

:func:`normalize` turns a posted app JSON into the stored definition (defaults filled in, ``id``
absolute) or raises :class:`Invalid` with Marathon's 422 ``details`` (``[{"path", "errors"}]``).
What this sandbox cannot run is refused the same way (``instances`` > 1, containers, secrets),
rather than accepted and silently ignored.
"""
from __future__ import annotations

import copy
import re

SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
PORT_NAME = re.compile(r"^[a-z0-9-]+$")
SINGLE_INSTANCE_LABEL = "MARATHON_SINGLE_INSTANCE_APP"
HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS", "TCP", "MESOS_TCP", "COMMAND")

DEFAULTS = {
    "instances": 1, "cpus": 1.0, "mem": 128.0, "disk": 0.0, "gpus": 0, "env": {}, "labels": {},
    "fetch": [], "healthChecks": [], "constraints": [], "backoffSeconds": 1, "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 300, "taskKillGracePeriodSeconds": None, "requirePorts": False,
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "killSelection": "YOUNGEST_FIRST", "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
}
HEALTH_DEFAULTS = {"gracePeriodSeconds": 300, "intervalSeconds": 60, "timeoutSeconds": 20,
                   "maxConsecutiveFailures": 3, "delaySeconds": 15}


class Invalid(Exception):
    """A definition Marathon would refuse: ``details`` as in its 422 answer."""

    def __init__(self, details: list[dict]):
        super().__init__("; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in details))
        self.details = details


def normalize_id(app_id: str) -> str:
    """``"a/b"`` -> ``"/a/b"``; raises :class:`Invalid` when a segment breaks Marathon's pathType."""
    if not isinstance(app_id, str) or not app_id.strip("/"):
        raise Invalid([{"path": "/id", "errors": ["error.path.missing"]}])
    segments = app_id.strip("/").split("/")
    for seg in segments:
        if not SEGMENT.match(seg):
            raise Invalid([{"path": "/id", "errors": [
                "must fully match regular expression '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*"
                "([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'"]}])
    return "/" + "/".join(segments)


def _number(errors, path, value, *, minimum=0, integer=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= minimum
    if ok and integer and int(value) != value:
        ok = False
    if not ok:
        errors.append({"path": path, "errors": [f"must be a {'whole ' if integer else ''}number >= {minimum}"]})


def normalize(body, app_id: str | None = None) -> dict:
    """A stored definition from a posted one (``app_id`` from the URL wins over ``body["id"]``)."""
    if not isinstance(body, dict):
        raise Invalid([{"path": "/", "errors": ["error.expected.jsobject"]}])
    app = copy.deepcopy(DEFAULTS)
    app.update(copy.deepcopy({k: v for k, v in body.items() if k not in ("version", "versionInfo")}))
    app["id"] = normalize_id(app_id if app_id is not None else body.get("id"))
    errors: list[dict] = []

    cmd, args = app.get("cmd"), app.get("args")
    if cmd is not None and args is not None:
        errors.append({"path": "/", "errors": ["AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."]})
    elif cmd is None and args is None:
        errors.append({"path": "/", "errors": ["AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."]})
    elif cmd is not None and (not isinstance(cmd, str) or not cmd.strip()):
        errors.append({"path": "/cmd", "errors": ["must be a non-empty string"]})
    elif args is not None and (not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args)):
        errors.append({"path": "/args", "errors": ["must be a non-empty array of strings"]})
    if app.get("container") not in (None, {}):
        errors.append({"path": "/container", "errors": ["containers are not supported by the sandbox's Marathon"]})

    _number(errors, "/instances", app["instances"], integer=True)
    if isinstance(app["instances"], int) and app["instances"] > 1:
        errors.append({"path": "/instances", "errors": ["the sandbox's Marathon runs at most one instance per app"]})
    for field in ("cpus", "mem", "disk", "backoffSeconds", "maxLaunchDelaySeconds"):
        _number(errors, f"/{field}", app[field])
    _number(errors, "/backoffFactor", app["backoffFactor"], minimum=1)

    env = app["env"]
    if not isinstance(env, dict):
        errors.append({"path": "/env", "errors": ["must be an object"]})
    else:
        for key, value in env.items():
            if not isinstance(value, str):
                errors.append({"path": f"/env({key})", "errors": [
                    "only string values are supported (secrets are a DC/OS Enterprise feature)"]})
    labels = app["labels"]
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        errors.append({"path": "/labels", "errors": ["must be an object of strings"]})
    if app.get("secrets"):
        errors.append({"path": "/secrets", "errors": ["secrets are a DC/OS Enterprise feature"]})

    _normalize_ports(app, errors)
    _normalize_fetch(app, errors)
    _normalize_health(app, errors)

    strategy = app["upgradeStrategy"]
    if not isinstance(strategy, dict):
        errors.append({"path": "/upgradeStrategy", "errors": ["must be an object"]})
    elif isinstance(labels, dict) and labels.get(SINGLE_INSTANCE_LABEL, "").lower() == "true":
        if strategy.get("minimumHealthCapacity") != 0 or strategy.get("maximumOverCapacity") != 0:
            errors.append({"path": "/upgradeStrategy", "errors": [
                "Single instance app may only have a upgrade strategy with minimumHealthCapacity 0 and maximumOverCapacity 0"]})
    if errors:
        raise Invalid(errors)
    return app


def _objects(app: dict, field: str, errors: list, invalid: str, valid=lambda item: True):
    """Yield ``(path, item)`` for each element of the array ``app[field]`` that is an object
    accepted by ``valid``, ``path`` as Marathon names it (``/field(i)``). Any other element is
    the error ``invalid`` at its path; a ``field`` that is not an array is an error and yields nothing."""
    items = app[field]
    if not isinstance(items, list):
        errors.append({"path": f"/{field}", "errors": ["must be an array"]})
        return
    for i, item in enumerate(items):
        path = f"/{field}({i})"
        if isinstance(item, dict) and valid(item):
            yield path, item
        else:
            errors.append({"path": path, "errors": [invalid]})


def _normalize_ports(app: dict, errors: list) -> None:
    if "portDefinitions" in app and "ports" in app:
        errors.append({"path": "/", "errors": ["You cannot specify both ports and port definitions"]})
        return
    if "portDefinitions" not in app:
        ports = app.pop("ports", [0])
        if not isinstance(ports, list):
            errors.append({"path": "/ports", "errors": ["must be an array of ports"]})
            return
        app["portDefinitions"] = [{"port": p, "protocol": "tcp"} for p in ports]
    app.pop("ports", None)
    names = set()
    for path, pd in _objects(app, "portDefinitions", errors, "port must be an integer 0..65535",
                             lambda pd: isinstance(pd.get("port", 0), int) and 0 <= pd.get("port", 0) <= 65535):
        pd.setdefault("port", 0)
        pd.setdefault("protocol", "tcp")
        name = pd.get("name")
        if name is not None:
            if not isinstance(name, str) or not PORT_NAME.match(name):
                errors.append({"path": f"{path}/name", "errors": ["must match ^[a-z0-9-]+$"]})
            elif name in names:
                errors.append({"path": f"{path}/name", "errors": ["port names must be unique"]})
            names.add(name)


def _normalize_fetch(app: dict, errors: list) -> None:
    uris = app.pop("uris", None)
    if uris:   # the deprecated form: every URI fetched with the defaults
        app["fetch"] = list(app.get("fetch") or []) + [{"uri": u} for u in uris]
    for path, item in _objects(app, "fetch", errors, "uri is required",
                               lambda item: isinstance(item.get("uri"), str) and bool(item["uri"])):
        item.setdefault("extract", True)
        item.setdefault("executable", False)
        item.setdefault("cache", False)
        dest = item.get("destPath")
        if dest is not None and (not isinstance(dest, str) or "/" in dest or dest in ("", ".", "..")):
            errors.append({"path": f"{path}/destPath", "errors": ["the sandbox supports a plain file name only"]})


def _normalize_health(app: dict, errors: list) -> None:
    for path, hc in _objects(app, "healthChecks", errors, "must be an object"):
        hc.setdefault("protocol", "HTTP")
        for key, value in HEALTH_DEFAULTS.items():
            hc.setdefault(key, value)
        if hc["protocol"] not in HEALTH_PROTOCOLS:
            errors.append({"path": f"{path}/protocol", "errors": [f"must be one of {', '.join(HEALTH_PROTOCOLS)}"]})
        for key in HEALTH_DEFAULTS:
            _number(errors, f"{path}/{key}", hc[key])
        if hc["protocol"] == "COMMAND":
            command = (hc.get("command") or {}).get("value")
            if not isinstance(command, str) or not command:
                errors.append({"path": f"{path}/command", "errors": ["command.value is required"]})
            continue
        if "HTTP" in hc["protocol"]:
            hc.setdefault("path", "/")
        if "port" not in hc:
            hc.setdefault("portIndex", 0)
            ok = isinstance(hc["portIndex"], int) and 0 <= hc["portIndex"] < len(app.get("portDefinitions") or [])
            if not ok:
                errors.append({"path": f"{path}/portIndex", "errors": ["must name one of the app's ports"]})


# ---------------------------------------------------------------------- label selectors
_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def matches_selector(labels: dict, selector: str) -> bool:
    """Marathon's ``?label=`` selector: ``k``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
    comma-separated (all must hold)."""
    for term in _split_selector(selector):
        m = _SET.match(term)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            present = m.group(1) in labels and labels[m.group(1)] in values
            if present != (m.group(2) == "in"):
                return False
        elif "!=" in term:
            key, value = (x.strip() for x in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "==" in term:
            key, value = (x.strip() for x in term.split("==", 1))
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True
