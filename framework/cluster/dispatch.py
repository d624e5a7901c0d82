"""Run a cluster action by the plan engine's name with its params; never raises a ClusterError.

The scheduler turns a ``RunClusterAction`` decision into::

    outcome = run_action(gateway, decision.action, decision.params)
    engine.handle(ClusterActionResult(now, decision.action_id, outcome.ok, outcome.message,
                                      outcome.result, outcome.retryable))

``run_action`` blocks on the gateway (up to its timeout per request): run it off pymesos' IO thread.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import actions
from .errors import ClusterError, InvalidParameters
from .gateway import Gateway
from .specs import ActionResult, DeviceSpec, OwnedObject, ProtectionDomainSpec, SdsSpec, StoragePoolSpec, VolumeScope

__all__ = ["ActionOutcome", "ACTIONS", "run_action"]

LOG = logging.getLogger(__name__)

# Engine action name -> callable(gateway, params). Names match dcos_scaleio.plan (RunClusterAction.action)
# for deploy; the removal/check names are for the uninstall plan.
ACTIONS: dict[str, Callable[[Gateway, Mapping], ActionResult]] = {
    "gateway-reachable": lambda gw, p: actions.gateway_reachable(gw),
    "protection-domain": lambda gw, p: actions.ensure_protection_domain(gw, ProtectionDomainSpec.from_params(p)),
    "storage-pool": lambda gw, p: actions.ensure_storage_pool(gw, StoragePoolSpec.from_params(p)),
    "sds-register": lambda gw, p: actions.register_sds(gw, SdsSpec.from_params(p)),
    "device": lambda gw, p: actions.add_device(gw, DeviceSpec.from_params(p)),
    "device-remove": lambda gw, p: actions.remove_device(gw, OwnedObject.from_params(p, "device_id")),
    "sds-remove": lambda gw, p: actions.remove_sds(gw, OwnedObject.from_params(p, "sds_id")),
    "storage-pool-remove": lambda gw, p: actions.remove_storage_pool(gw, OwnedObject.from_params(p, "storage_pool_id")),
    "protection-domain-remove": lambda gw, p: actions.remove_protection_domain(
        gw, OwnedObject.from_params(p, "protection_domain_id")),
    "volumes-check": lambda gw, p: actions.check_no_volumes(gw, VolumeScope.from_params(p)),
}


@dataclass(frozen=True)
class ActionOutcome:
    """``ok`` with ``result`` (the ActionResult's JSON), or not ok with ``message`` and ``retryable``."""

    ok: bool
    message: str
    result: dict = field(default_factory=dict)
    retryable: bool = False

    def to_json(self) -> dict:
        return {"ok": self.ok, "message": self.message, "result": dict(self.result), "retryable": self.retryable}


def run_action(gw: Gateway, action: str, params: Mapping) -> ActionOutcome:
    fn = ACTIONS.get(action)
    try:
        if fn is None:
            raise InvalidParameters(f"unknown cluster action {action!r}")
        res = fn(gw, params)
    except ClusterError as err:
        level = logging.WARNING if err.retryable else logging.ERROR
        LOG.log(level, "cluster action %s failed (%s): %s", action, "retryable" if err.retryable else "permanent", err)
        return ActionOutcome(False, str(err), {"error": err.to_json()}, err.retryable)
    LOG.info("cluster action %s: %s", action, res.message)
    return ActionOutcome(True, res.message, res.to_json(), False)
