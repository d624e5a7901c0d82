"""The pure plan engine: plans, phases, steps, statuses, strategies and the engine that drives them.

No sockets, threads, clocks, randomness or logging here. See docs/plan-engine.md and
:mod:`dcos_scaleio.plan.engine` for the theory of operation.
"""
from .agents import (DeviceSpec, MdmChoice, choose_mdms, configured_devices, filter_discovered, mdm_slots,
                     select)
from .decisions import (LONG_REFUSE_S, SHORT_REFUSE_S, UNKNOWN_REFUSE_S, CancelAction, DeclineOffer, Decision, KillTask, LaunchHostStep,
                        RestartAgent, Revive, RunClusterAction, ScheduleWakeup, Suppress)
from .engine import DEPLOY, RECORD_VERSION, Engine, RequestRejected, UnknownElement
from .events import (COMMAND_VERBS, TASK_STATES, AgentAdded, AgentInfo, AgentRemoved, AgentsListed,
                     ClusterActionResult, DeviceRequested, Event, OfferSeen, OperatorCommand, TaskStatusUpdate,
                     Tick)
from .model import CLUSTER, HOST, Node, Phase, Plan, Step
from .preview import preview
from .render import (HEALTH_CODES, health, http_status, metrics, node_json, nodes_json, plan_json, plan_status,
                     step_json, step_message)
from .status import ACTIVE, RUNNING, Status, Strategy, aggregate, display_status
from .transitions import TABLE, IllegalTransition, render_table, transition

__all__ = [
    "Engine", "DEPLOY", "RECORD_VERSION", "RequestRejected", "UnknownElement",
    "AgentInfo", "AgentAdded", "AgentsListed", "AgentRemoved", "OfferSeen", "TaskStatusUpdate",
    "ClusterActionResult", "OperatorCommand", "DeviceRequested", "Tick", "Event", "COMMAND_VERBS", "TASK_STATES",
    "LaunchHostStep", "RunClusterAction", "CancelAction", "DeclineOffer", "Suppress", "Revive", "KillTask", "ScheduleWakeup",
    "RestartAgent", "Decision", "LONG_REFUSE_S", "SHORT_REFUSE_S", "UNKNOWN_REFUSE_S",
    "Status", "Strategy", "RUNNING", "ACTIVE", "aggregate", "display_status",
    "TABLE", "IllegalTransition", "transition", "render_table",
    "Plan", "Phase", "Step", "Node", "HOST", "CLUSTER",
    "preview", "plan_json", "step_json", "plan_status", "http_status", "health", "metrics", "HEALTH_CODES", "node_json", "nodes_json", "step_message",
    "select", "choose_mdms", "mdm_slots", "MdmChoice", "DeviceSpec", "configured_devices", "filter_discovered",
]
