"""The offer allocator: on every tick, each active agent's free resources go out as ONE offer per agent
and role to one framework that may use them.

Rules (mesos-http-api.md section 7 item 9, plus DC/OS roles):
- an agent whose role is ``*`` (private) is offered to any framework, under the framework's first
  role that is not suppressed; an agent reserved to a role (e.g. ``slave_public``) only to MULTI_ROLE
  frameworks subscribed to that role;
- agents with ``gpus`` only to GPU_RESOURCES frameworks;
- a framework never gets an agent it has outstanding offers for, nor one covered by a live decline
  filter (the filter holds while the free resources are contained in what was refused);
- frameworks are served in order of their current allocation (least first), a simple DRF stand-in.
"""
import asyncio
import logging

from . import resources as res
from .model import Offer
from .protocol import idv

log = logging.getLogger(__name__)


class Allocator:
    def __init__(self, master, interval=1.0, offer_timeout=None):
        self.master = master
        self.interval = interval
        self.offer_timeout = offer_timeout
        self._task = None
        self._wake = None
        self.paused = False

    def start(self):
        self._wake = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    def stop(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def wake(self):
        """Ask for an allocation soon (new framework, freed resources, revive). Still tick-paced."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self):
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.master.clock.real(self.interval))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                if not self.paused:
                    self.allocate()
            except Exception:
                log.exception("allocation failed")
            # Pace allocations to the tick even when woken often.
            await self.master.clock.sleep(min(self.interval, 0.05))

    def _framework_share(self, fw):
        return sum(t.bag.get("cpus", 0.0) for t in fw.tasks.values() if not t.terminal)

    def allocate(self):
        m = self.master
        if m.leader is None:
            return
        frameworks = sorted((f for f in m.frameworks.values() if f.connected and f.active),
                            key=self._framework_share)
        if not frameworks:
            return
        now = m.clock.now()
        batches = {}
        # Per framework once per tick: its usable roles (the rest of _role_for is per agent).
        usable = {fw.id: [r for r in fw.roles if r not in fw.suppressed] for fw in frameworks}
        for agent in m.agents.values():
            if agent.state != "active":
                continue
            # Cheap checks first: free() is only computed for agents some framework may be offered.
            candidates = []
            for fw in frameworks:
                role = self._role_for(fw, agent, usable[fw.id])
                if role is not None and not any(o in fw.offers for o in agent.offered):
                    candidates.append((fw, role))
            if not candidates:
                continue
            free = agent.free()
            if res.is_empty(free):
                continue
            for fw, role in candidates:
                flt = fw.filters.get((agent.id, role))
                if flt is not None:
                    deadline, refused = flt
                    if deadline > now and res.contains(refused, free):
                        continue
                    if deadline <= now:
                        del fw.filters[(agent.id, role)]
                offer = Offer(m.next_offer_id(), fw.id, agent.id, role, free)
                m.offers[offer.id] = offer
                agent.offered[offer.id] = free
                fw.offers.add(offer.id)
                batches.setdefault(fw.id, []).append(self.offer_json(fw, agent, offer))
                if self.offer_timeout:
                    m.clock.call_later(self.offer_timeout, self._expire, offer.id)
                # Frameworks rotate so one of them does not starve the others.
                frameworks.append(frameworks.pop(frameworks.index(fw)))
                break
        for fid, offers in batches.items():
            m.frameworks[fid].send({"type": "OFFERS", "offers": {"offers": offers}})

    def _expire(self, oid):
        self.master.discard_offer(oid, rescind=True)
        self.wake()

    @staticmethod
    def _role_for(fw, agent, roles=None):
        """The role under which ``agent``'s resources may be offered to ``fw`` (None: not at all).
        ``roles``: the framework's unsuppressed roles, when the caller computed them already."""
        if agent.total.get("gpus") and "GPU_RESOURCES" not in fw.capabilities:
            return None
        if roles is None:
            roles = [r for r in fw.roles if r not in fw.suppressed]
        if agent.role == "*":
            # Unreserved resources may go to any role; prefer a role other than slave_public.
            for role in roles:
                if role != "slave_public":
                    return role
            return roles[0] if roles else None
        if agent.role in roles and fw.multi_role:
            return agent.role
        return None

    def offer_json(self, fw, agent, offer):
        refinement = "RESERVATION_REFINEMENT" in fw.capabilities
        alloc = offer.role if fw.multi_role else None
        body = {"id": idv(offer.id), "framework_id": idv(fw.id), "agent_id": idv(agent.id),
                "hostname": agent.hostname, "url": agent.url(),
                "resources": res.to_proto(offer.bag, agent.role, refinement=refinement, allocation_role=alloc),
                "attributes": agent.attributes,
                "executor_ids": [idv(eid) for (fid, eid) in agent.executors if fid == fw.id]}
        if alloc is not None:
            body["allocation_info"] = {"role": alloc}
        return body
