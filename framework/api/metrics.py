"""``GET /v1/metrics/prometheus``: the Prometheus text exposition format (version 0.0.4).

Families (all prefixed ``scaleio_``): ``plan_status{plan,status}`` (1 for the current status),
``steps{status}`` (deploy plan steps by raw status), ``step_retries`` (attempts beyond the first),
``agents{state}`` (present/absent/restarting), ``ignored_agents``, ``running_host_steps``,
``offers_wanted``, ``scheduler_events_total{kind}`` (the core loop's counters: offers, declines,
launches, status updates, ...), ``scheduler_seconds_total{kind}`` (core counters named ``*_s``, e.g.
offer handling time once the core counts it), ``framework_registered``, and ``capacity_kb{kind}`` from the
last cluster summary when one is at most a minute old (metrics never query the gateway).
"""
from __future__ import annotations

from dcos_scaleio.plan import Status, metrics, plan_status

from .common import handled, text_reply

__all__ = ["install", "render", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(labels: dict) -> str:
    if not labels:
        return ""
    esc = lambda v: str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')  # noqa: E731
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


class _Families:
    def __init__(self):
        self.lines: list[str] = []

    def add(self, name: str, kind: str, help_: str, samples):
        self.lines += [f"# HELP scaleio_{name} {help_}", f"# TYPE scaleio_{name} {kind}"]
        for labels, value in samples:
            self.lines.append(f"scaleio_{name}{_labels(labels)} {float(value):g}" if isinstance(value, float)
                              else f"scaleio_{name}{_labels(labels)} {int(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _read(c) -> dict:
    eng = c.engine
    plans = {name: plan_status(eng, name).value for name in eng.plans}
    return {"engine": metrics(eng), "counters": dict(c.counters), "plans": plans,
            "registered": bool(c.framework_id)}


def render(snapshot: dict, capacity: dict | None) -> str:
    """The exposition text for one snapshot (see :func:`_read`) and an optional capacity dict."""
    m, f = snapshot["engine"], _Families()
    f.add("plan_status", "gauge", "1 for the plan's current status",
          [({"plan": p, "status": s.value}, int(s.value == cur)) for p, cur in snapshot["plans"].items()
           for s in Status])
    f.add("steps", "gauge", "Deploy plan steps by status",
          [({"status": s.value}, m["steps_by_status"].get(s.value, 0)) for s in Status])
    f.add("step_retries", "gauge", "Step attempts beyond the first, summed over all steps", [({}, m["retries"])])
    f.add("agents", "gauge", "Agents the engine knows, by state", [({"state": k}, v) for k, v in m["nodes"].items()])
    f.add("ignored_agents", "gauge", "Agents not used (public, filtered out, ...)", [({}, m["ignored_agents"])])
    f.add("running_host_steps", "gauge", "Host steps running on agents now", [({}, m["running_host_steps"])])
    f.add("offers_wanted", "gauge", "1 when the scheduler wants offers (revived)", [({}, int(m["offers_wanted"]))])
    counters = snapshot["counters"]
    f.add("scheduler_events_total", "counter", "Scheduler core loop events and calls since start",
          [({"kind": k}, v) for k, v in sorted(counters.items()) if not k.endswith("_s")])
    seconds = [({"kind": k[:-2]}, float(v)) for k, v in sorted(counters.items()) if k.endswith("_s")]
    if seconds:      # time the core loop spent, e.g. offer_handling_s (counters named *_s)
        f.add("scheduler_seconds_total", "counter", "Seconds the scheduler core loop spent, by kind", seconds)
    f.add("framework_registered", "gauge", "1 when registered with Mesos", [({}, int(snapshot["registered"]))])
    if capacity:
        f.add("capacity_kb", "gauge", "ScaleIO capacity (KiB) from the last cluster summary",
              [({"kind": k[:-3]}, v) for k, v in capacity.items() if k.endswith("_kb")])
    return f.text()


def install(api, core, reads, view) -> None:
    def prometheus(req):
        summary = view.cached()
        return text_reply(200, render(reads.get("metrics", _read), (summary or {}).get("capacity")), CONTENT_TYPE)

    api.route("GET", "/v1/metrics/prometheus", handled(prometheus))
