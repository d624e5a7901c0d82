"""Cluster steps: what the scheduler does against the ScaleIO gateway with PyPowerFlex.

- :mod:`.gateway`: :class:`Gateway` / :class:`GatewayConfig`, the thin PyPowerFlex adapter (TLS,
  re-login, error mapping, secret hygiene).
- :mod:`.actions`: idempotent actions (query -> act -> verify), one per plan-engine cluster action.
- :mod:`.summary`: :func:`cluster_summary`, the read-only view for ``GET /v1/cluster``.
- :mod:`.dispatch`: :func:`run_action`, engine action name + params -> :class:`ActionOutcome`.
- :mod:`.errors`: :class:`RetryableError` / :class:`PermanentError` and their subclasses.
"""
from .actions import (add_device, check_no_volumes, ensure_protection_domain, ensure_storage_pool, gateway_reachable,
                      register_sds, remove_device, remove_protection_domain, remove_sds, remove_storage_pool)
from .dispatch import ACTIONS, ActionOutcome, run_action
from .errors import (ActionRefused, ClusterError, GatewayAuthError, GatewayConfigError, GatewayRefused,
                     GatewayTLSError, GatewayUnavailable, InvalidParameters, OperationPending, PermanentError,
                     RetryableError, SessionExpired)
from .gateway import Gateway, GatewayConfig, config_from_options, parse_endpoint
from .specs import ActionResult, DeviceSpec, OwnedObject, ProtectionDomainSpec, SdsSpec, StoragePoolSpec, VolumeScope
from .summary import cluster_summary

__all__ = [
    "Gateway", "GatewayConfig", "config_from_options", "parse_endpoint",
    "ActionResult", "ProtectionDomainSpec", "StoragePoolSpec", "SdsSpec", "DeviceSpec", "OwnedObject", "VolumeScope",
    "gateway_reachable", "ensure_protection_domain", "ensure_storage_pool", "register_sds", "add_device",
    "remove_device", "remove_sds", "remove_storage_pool", "remove_protection_domain", "check_no_volumes",
    "cluster_summary", "ACTIONS", "ActionOutcome", "run_action",
    "ClusterError", "RetryableError", "PermanentError", "GatewayUnavailable", "SessionExpired", "OperationPending",
    "GatewayAuthError", "GatewayTLSError", "GatewayConfigError", "GatewayRefused", "ActionRefused",
    "InvalidParameters",
]
