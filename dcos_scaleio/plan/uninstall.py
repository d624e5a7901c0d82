"""The uninstall plan: in uninstall mode the engine's ``deploy`` plan is this plan (as in the SDK,
so Cosmos can follow it), built from the nodes the deploy recorded.

Levels (``uninstall.level``):

- ``framework``: only ``deregister:[service]`` (the scheduler removes its executors, its
  ZooKeeper node and its registration); ScaleIO, REX-Ray and the isolator keep working.
- ``software``: first ``volumes:[check]`` (fails, not retryable, while any volume exists or is
  mapped); then per agent, in reverse install order: ``uninstall-dvdi`` (restores the agent's recorded
  flags; may ask for an agent restart) -> ``uninstall-rexray`` -> ``uninstall-sdc``, and for an SDS
  ``sds-remove`` (cluster: remove it from the system once its data has migrated) ->
  ``uninstall-sds``; then, in provision mode only, LIA/gateway and the MDMs (standbys and
  tie-breakers before the primary); finally ``deregister:[service]``.
- ``data`` (needs ``uninstall.confirm``): like software, but ``volumes:[destroy]`` replaces the
  check, SDS devices are wiped, and in provision mode the storage pools and protection domain are
  removed before the MDM cluster. In existing mode nothing the framework did not create is ever
  removed: no volumes, pools, protection domain or MDM are touched there.
"""
from __future__ import annotations

from .model import CLUSTER, HOST, Phase
from .status import Strategy

__all__ = ["build_skeleton", "add_node_steps", "assign", "owned_params", "nothing_to_remove"]

_ORDER = {"uninstall-dvdi": 0, "uninstall-rexray": 1, "uninstall-sdc": 2, "sds-remove": 3, "uninstall-sds": 4,
          "uninstall-gateway": 5, "uninstall-mdm": 6}


def _software(eng) -> bool:
    return eng.options.uninstall.level in ("software", "data")


def _destroys(eng) -> bool:
    return eng.options.uninstall.destroys_data and eng.options.scaleio.provisioning


def build_skeleton(eng) -> None:
    """Create the cluster-wide phases; per-node steps come with :func:`add_node_steps`."""
    o, plan = eng.options, eng.plan
    eng.mdm_phase = eng.cluster_phase = None
    eng.uninstall_barriers = {}
    if _software(eng):
        pre = plan.add(Phase("preflight", plan, Strategy.SERIAL))
        if _destroys(eng):
            first = eng._new_step(pre, "preflight/volumes", "volumes:[destroy]", CLUSTER, "volumes-destroy")
        else:
            first = eng._new_step(pre, "preflight/volumes", "volumes:[check]", CLUSTER, "volumes-check")
        eng.uninstall_barriers["preflight"] = first
        if _destroys(eng):
            ph = eng.cluster_phase = plan.add(Phase("cluster", plan, Strategy.SERIAL))
            pool = eng._new_step(ph, f"cluster/storage-pool:{o.scaleio.storage_pool}-remove",
                                 f"storage-pool:[{o.scaleio.protection_domain}/{o.scaleio.storage_pool}]",
                                 CLUSTER, "storage-pool-remove",
                                 params={"protection_domain": o.scaleio.protection_domain,
                                         "name": o.scaleio.storage_pool}, requires=[first])
            eng.uninstall_barriers["pools"] = pool
            eng.uninstall_barriers["pd"] = eng._new_step(
                ph, "cluster/protection-domain-remove", f"protection-domain:[{o.scaleio.protection_domain}]",
                CLUSTER, "protection-domain-remove", params={"name": o.scaleio.protection_domain}, requires=[pool])
        if o.scaleio.provisioning:
            from .agents import mdm_slots
            ph = eng.mdm_phase = plan.add(Phase("mdm", plan, Strategy.DEPENDENCY))
            slots = mdm_slots(o.scaleio.provision.mdm_count)
            others = []
            for slot, role in slots:
                gw = eng._new_step(ph, f"mdm/{slot}:uninstall-gateway", f"{slot}:[uninstall-gateway]", HOST,
                                   "uninstall-gateway", params={"slot": slot, "role": role})
                req = [gw] + ([eng.uninstall_barriers["pd"]] if "pd" in eng.uninstall_barriers else [])
                if slot == "primary":
                    primary = (slot, role, req)
                    continue
                others.append(eng._new_step(ph, f"mdm/{slot}:uninstall-mdm", f"{slot}:[uninstall-mdm]", HOST,
                                            "uninstall-mdm", params={"slot": slot, "role": role}, requires=req))
            slot, role, req = primary
            eng._new_step(ph, "mdm/primary:uninstall-mdm", "primary:[uninstall-mdm]", HOST, "uninstall-mdm",
                          params={"slot": slot, "role": role}, requires=req + others)
    ph = plan.add(Phase("deregister", plan, Strategy.SERIAL))
    last = [s for p in plan.phases[:-1] for s in p.steps]
    eng.uninstall_barriers["deregister"] = eng._new_step(ph, "deregister/service", "deregister:[service]",
                                                         CLUSTER, "deregister-service", requires=last)


def add_node_steps(eng, node) -> None:
    """The node's removal steps, wired into the cluster-wide barriers."""
    if not _software(eng):
        return
    h, ph = node.hostname, node.phase
    bars = eng.uninstall_barriers
    dereg = bars["deregister"]

    def step(action, kind, requires, params=None):
        s = eng._new_step(ph, f"{h}/{action}", f"{h}:[{action}]", kind, action, h, params, requires)
        s.order = _ORDER[action]
        node.steps[action] = s
        eng._add_edge(dereg, s)
        return s

    dvdi = step("uninstall-dvdi", HOST, [bars["preflight"]])
    rexray = step("uninstall-rexray", HOST, [dvdi])
    sdc = step("uninstall-sdc", HOST, [rexray])
    before_mdm = [rexray, sdc]
    if node.sds:
        wipe = sorted(node.devices) if _destroys(eng) else []
        sds = step("sds-remove", CLUSTER, [bars["preflight"]])
        before_mdm += [sds, step("uninstall-sds", HOST, [sds], {"wipe_devices": wipe})]
        if "pools" in bars:
            eng._add_edge(bars["pools"], sds)
    if eng.mdm_phase is not None:
        for mdm_step in eng.mdm_phase.steps:
            for s in before_mdm:
                eng._add_edge(mdm_step, s)


def assign(eng, slots: dict) -> None:
    """Place the recorded MDM slots on their nodes (uninstall mode)."""
    eng.mdm_slots = slots
    for slot, host in slots.items():
        node = eng.nodes[host]
        node.mdm_slot = slot
        if eng.mdm_phase is None:
            continue
        for key in (f"mdm/{slot}:uninstall-gateway", f"mdm/{slot}:uninstall-mdm"):
            s = eng.steps[key]
            s.host = host
            s.order = _ORDER[s.action]
            node.steps[key] = s


def _owner_key(eng, step) -> tuple[str, str] | None:
    """The deploy step whose recorded details name the object ``step`` removes, and the ID key."""
    if step.action == "sds-remove":
        return f"{step.host}/sds-register", "sds_id"
    if step.action == "storage-pool-remove":
        return f"cluster/storage-pool:{step.params['name']}", "storage_pool_id"
    if step.action == "protection-domain-remove":
        return "cluster/protection-domain", "protection_domain_id"
    return None


def owned_params(eng, step) -> dict:
    """Parameters naming the recorded object a removal action may remove (and whether we made it)."""
    if step.action in ("volumes-check", "volumes-destroy"):
        ids = sorted({d["storage_pool_id"] for k, d in eng.owned.items()
                      if k.startswith("cluster/storage-pool:") and d.get("storage_pool_id")})
        return {"storage_pool_ids": ids} if ids else {}
    owner = _owner_key(eng, step)
    if owner is None:
        return {}
    details = eng.owned.get(owner[0]) or {}
    if not details.get(owner[1]):
        return {}
    return {owner[1]: details[owner[1]], "created": bool(details.get("created"))}


def nothing_to_remove(eng):
    """Steps with nothing recorded to remove, with the reason (they are skipped, not run)."""
    if eng.mdm_phase is not None and not eng.mdm_slots:
        for step in eng.mdm_phase.steps:
            yield step, "no MDM agents were recorded: nothing to remove"
    for step in eng.steps.values():
        owner = _owner_key(eng, step)
        if owner is not None and not (eng.owned.get(owner[0]) or {}).get(owner[1]):
            yield step, f"no {owner[1]} was recorded by {owner[0]}: nothing this framework created to remove"
