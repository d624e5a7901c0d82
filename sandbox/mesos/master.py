"""The emulated Mesos master: scheduler API, framework lifecycle, task bookkeeping, reconciliation.

All of it runs on the emulator's asyncio loop. Agents are in-process objects; the master talks to
them through :class:`AgentRecord.agent` methods (``launch``, ``kill_task``, ``acknowledge``,
``shutdown_executor``, ``framework_message``, ``shutdown_framework``) and they call back
``status_update``, ``executor_exited``, ``executor_message``. Anything scheduler-facing is on the
wire, exactly as mesos-http-api.md sections 1, 2 and 5 describe.
"""
import asyncio
import base64
import hmac
import logging

from . import resources as res
from .allocator import Allocator
from .call_validation import PAYLOAD, validate_call
from .httpserver import HttpServer, Response, Stream, json_response
from .launches import LaunchMixin
from .master_state import StateMixin
from .model import AgentRecord, Framework, Task, ip_uint32, new_uuid
from .protocol import (CallError, TERMINAL_STATES, check_accept, check_transport, idv, invalid, now, require_id,
                       require_message, DEFAULT_VERSION)
from .reconciliation import ReconcileMixin

log = logging.getLogger(__name__)

DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 31536000.0


class MasterEndpoint:
    """One master process address. Exactly one endpoint of a cluster leads at a time."""

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.server = None
        self.master_id = new_uuid()

    @property
    def address(self):
        return f"{self.host}:{self.port}"


class Master(LaunchMixin, ReconcileMixin, StateMixin):
    def __init__(self, clock, *, heartbeat_interval=15.0, allocation_interval=1.0, version=DEFAULT_VERSION,
                 agent_ping_timeout=75.0, offer_timeout=None, credentials=None):
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.version = version
        self.agent_ping_timeout = agent_ping_timeout   # disconnected -> unreachable for checkpointing frameworks
        self.credentials = dict(credentials or {})     # principal -> secret; non-empty enables HTTP auth
        self.endpoints = []
        self.leader = None              # index into endpoints, or None: "No leader elected"
        self.recovering = False         # answer 503 "Master has not finished recovery"
        self.frameworks = {}            # id -> Framework
        self.completed = {}             # id -> FrameworkInfo of removed frameworks
        self.agents = {}                # id -> AgentRecord (registered: active, disconnected or unreachable)
        self.gone_agents = {}           # id -> AgentRecord marked gone / removed
        self.offers = {}                # id -> Offer
        self._fw_seq = 0
        self._offer_seq = 0
        self._agent_seq = 0
        self.allocator = Allocator(self, allocation_interval, offer_timeout)
        self.operator = None            # set by the cluster (operator_api.OperatorApi)
        self._unreachable_timers = {}

    # ------------------------------------------------------------------ identity
    @property
    def leader_endpoint(self):
        return None if self.leader is None else self.endpoints[self.leader]

    @property
    def master_id(self):
        return self.leader_endpoint.master_id if self.leader is not None else self.endpoints[0].master_id

    def master_info(self, ep=None):
        ep = ep or self.leader_endpoint
        return {"id": ep.master_id, "ip": ip_uint32(ep.host), "port": ep.port, "pid": f"master@{ep.host}:{ep.port}",
                "hostname": ep.host, "version": self.version,
                "address": {"hostname": ep.host, "ip": ep.host, "port": ep.port},
                "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}]}

    def next_agent_id(self):
        self._agent_seq += 1
        return f"{self.master_id}-S{self._agent_seq - 1}"

    def next_offer_id(self):
        self._offer_seq += 1
        return f"{self.master_id}-O{self._offer_seq - 1}"

    # ------------------------------------------------------------------ HTTP entry points
    def leader_check(self, ep, path):
        """Step 1 of every master endpoint: 307 to the leader, or 503 without one."""
        if self.leader is None:
            return Response(503, "No leader elected")
        leader = self.leader_endpoint
        if ep is not leader:
            return Response(307, b"", headers={"Location": f"//{leader.host}:{leader.port}{path}"})
        return None

    def authenticate(self, request):
        """HTTP Basic framework authentication (only when credentials are configured): the principal,
        or a 401 Response. None when authentication is off."""
        if not self.credentials:
            return None
        header = request.header("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            principal, _, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            principal, secret = None, None
        if scheme.lower() != "basic" or principal not in self.credentials or \
                not hmac.compare_digest(self.credentials[principal], secret):
            return Response(401, "Unauthorized", headers={"WWW-Authenticate": 'Basic realm="mesos"'})
        return principal

    async def scheduler_api(self, ep, request):
        principal = self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        answer = self.leader_check(ep, request.path)
        if answer is not None:
            return answer
        if self.recovering:
            return Response(503, "Master has not finished recovery")
        try:
            call = check_transport(request)
            ctype, fid = validate_call(call)
            if ctype == "SUBSCRIBE":
                wanted = call["subscribe"]["framework_info"].get("principal")
                if principal is not None and wanted != principal:
                    raise CallError(400, f"Authenticated principal '{principal}' does not match principal "
                                         f"'{wanted}' set in `FrameworkInfo`")
                check_accept(request)
                if request.header("mesos-stream-id") is not None:
                    raise CallError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
                return self._subscribe(call)
            fw = self.frameworks.get(fid)
            if fw is None:
                raise CallError(400, "Framework cannot be found")
            if principal is not None and fw.info.get("principal") != principal:
                raise CallError(400, f"Authenticated principal '{principal}' does not match principal "
                                     f"'{fw.info.get('principal')}' set in `FrameworkInfo`")
            if not fw.connected:
                raise CallError(403, "Framework is not subscribed")
            sid = request.header("mesos-stream-id")
            if sid is None:
                raise CallError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
            if sid != fw.stream_id:
                raise CallError(400, f"The stream ID '{sid}' included in this request didn't match the stream ID "
                                     f"currently associated with framework ID {fid}")
            if request.connection is not None and request.connection not in fw.call_connections:
                fw.call_connections = {c for c in fw.call_connections if not c.is_closing()}
                fw.call_connections.add(request.connection)
            result = self._dispatch(fw, ctype, call)
            return result if result is not None else Response(202, b"")
        except CallError as exc:
            return exc.response()

    # ------------------------------------------------------------------ SUBSCRIBE and disconnection
    def _subscribe(self, call):
        info = dict(call["subscribe"]["framework_info"])
        fid = call.get("framework_id", {}).get("value")
        sid = new_uuid()
        stream = Stream(headers={"Mesos-Stream-Id": sid})
        if fid in self.completed:
            stream.send({"type": "ERROR", "error": {"message": "Framework has been removed"}})
            stream.close()
            return stream
        if "roles" in info and "MULTI_ROLE" not in {c.get("type") for c in info.get("capabilities", [])}:
            stream.send({"type": "ERROR", "error": {"message": "'FrameworkInfo.roles' is set but the MULTI_ROLE "
                                                               "capability is not"}})
            stream.close()
            return stream
        if "roles" in info and "role" in info:
            stream.send({"type": "ERROR", "error": {"message": "'FrameworkInfo.role' and 'FrameworkInfo.roles' "
                                                               "cannot both be set"}})
            stream.close()
            return stream
        fw = self.frameworks.get(fid) if fid else None
        if fw is None:
            if fid is None:
                fid = f"{self.master_id}-{self._fw_seq:04d}"
                self._fw_seq += 1
            fw = Framework(fid, info)
            self.frameworks[fid] = fw
        else:
            old_user, old_cp = fw.info.get("user"), fw.info.get("checkpoint")
            fw.info = dict(info, id=idv(fid), user=old_user)
            if old_cp is not None:
                fw.info["checkpoint"] = old_cp
            else:
                fw.info.pop("checkpoint", None)
            if fw.connected:
                old = fw.stream
                fw.stream = None        # so its close callback does not disconnect the new one
                old.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
                old.close()
            self._drop_offers(fw)
        if fw.failover_timer is not None:
            fw.failover_timer.cancel()
            fw.failover_timer = None
        fw.suppressed = set(call["subscribe"].get("suppressed_roles", []))
        fw.stream, fw.stream_id = stream, sid
        fw.frozen = False
        fw.active = True
        stream.on_close = lambda s, fw=fw: self._stream_closed(fw, s)
        stream.send({"type": "SUBSCRIBED", "subscribed": {
            "framework_id": idv(fid), "heartbeat_interval_seconds": float(self.heartbeat_interval),
            "master_info": self.master_info()}})
        stream.send({"type": "HEARTBEAT"})
        if fw.heartbeat is not None:
            fw.heartbeat.cancel()
        fw.heartbeat = asyncio.ensure_future(self._heartbeats(fw, stream))
        log.info("framework %s (%s) subscribed on stream %s", fid, info.get("name"), sid)
        self.allocator.wake()
        return stream

    async def _heartbeats(self, fw, stream):
        while not stream.closed:
            await self.clock.sleep(self.heartbeat_interval)
            if fw.stream is stream:
                fw.send({"type": "HEARTBEAT"})

    def _stream_closed(self, fw, stream, *, start_timer=True):
        if fw.stream is not stream:
            return
        fw.stream = None
        fw.stream_id = None
        if fw.heartbeat is not None:
            fw.heartbeat.cancel()
            fw.heartbeat = None
        self._drop_offers(fw)
        if fw.id not in self.frameworks or not start_timer:
            return
        timeout = float(fw.info.get("failover_timeout", 0.0) or 0.0)
        log.info("framework %s disconnected; failover timeout %.1fs", fw.id, timeout)
        if timeout <= 0:
            self.remove_framework(fw)
        else:
            fw.failover_timer = self.clock.call_later(min(timeout, 1e9), self._failover_expired, fw)

    def _failover_expired(self, fw):
        fw.failover_timer = None
        if not fw.connected and self.frameworks.get(fw.id) is fw:
            log.info("framework %s failover timeout expired", fw.id)
            self.remove_framework(fw)

    def disconnect_framework(self, fid, *, start_timer=True):
        """The network drops the framework's connections: its subscription and its call connections
        (a call in flight then fails with a socket error instead of a 403)."""
        fw = self.frameworks.get(fid)
        if fw is None or not fw.connected:
            return False
        for conn in list(fw.call_connections):
            HttpServer.abort(conn)
        fw.call_connections.clear()
        stream = fw.stream
        if not start_timer:
            self._stream_closed(fw, stream, start_timer=False)
        stream.close(graceful=False)
        return True

    def freeze_framework(self, fid):
        """Fault hook: the subscription goes silently half-open. The connection stays up but nothing
        (events, heartbeats) reaches the scheduler any more; only a new SUBSCRIBE ends it."""
        fw = self.frameworks.get(fid)
        if fw is None or not fw.connected:
            return False
        fw.frozen = True
        return True

    def remove_framework(self, fw):
        """TEARDOWN / failover timeout / operator teardown: kill everything, no updates, mark completed."""
        if self.frameworks.get(fw.id) is not fw:
            return
        del self.frameworks[fw.id]
        self.completed[fw.id] = fw.info
        if fw.failover_timer is not None:
            fw.failover_timer.cancel()
            fw.failover_timer = None
        self._drop_offers(fw)
        for agent in list(self.agents.values()) + list(self.gone_agents.values()):
            touched = any(k[0] == fw.id for k in list(agent.tasks) + list(agent.executors))
            for key in [k for k in agent.tasks if k[0] == fw.id]:
                del agent.tasks[key]
            for key in [k for k in agent.executors if k[0] == fw.id]:
                del agent.executors[key]
            if touched and agent.state != "gone":
                agent.agent.shutdown_framework(fw.id)
        fw.tasks.clear()
        if fw.stream is not None:
            stream, fw.stream = fw.stream, None
            stream.close(graceful=False)
        if fw.heartbeat is not None:
            fw.heartbeat.cancel()
        log.info("framework %s removed", fw.id)
        self.allocator.wake()

    # ------------------------------------------------------------------ offers
    def _drop_offers(self, fw):
        for oid in list(fw.offers):
            self.discard_offer(oid)

    def discard_offer(self, oid, *, rescind=False):
        offer = self.offers.pop(oid, None)
        if offer is None:
            return None
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.discard(oid)
            if rescind:
                fw.send({"type": "RESCIND", "rescind": {"offer_id": idv(oid)}})
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offered.pop(oid, None)
        return offer

    def rescind_agent_offers(self, agent):
        for oid in list(agent.offered):
            self.discard_offer(oid, rescind=True)

    def add_filter(self, fw, agent_id, role, bag, refuse_seconds):
        if refuse_seconds is None or refuse_seconds < 0:
            refuse_seconds = DEFAULT_REFUSE_SECONDS
        refuse_seconds = min(float(refuse_seconds), MAX_REFUSE_SECONDS)
        if refuse_seconds <= 0 or res.is_empty(bag):
            return
        fw.filters[(agent_id, role)] = (self.clock.deadline(refuse_seconds), bag)

    # ------------------------------------------------------------------ calls
    def _dispatch(self, fw, ctype, call):
        body = call.get(PAYLOAD.get(ctype, ""), {}) or {}
        if ctype == "TEARDOWN":
            self.remove_framework(fw)
        elif ctype == "ACCEPT":
            self._accept(fw, body)
        elif ctype == "DECLINE":
            self._decline(fw, body)
        elif ctype == "REVIVE":
            roles = body.get("roles") or fw.roles
            fw.suppressed -= set(roles)
            fw.filters = {k: v for k, v in fw.filters.items() if k[1] not in roles}
            self.allocator.wake()
        elif ctype == "SUPPRESS":
            fw.suppressed |= set(body.get("roles") or fw.roles)
        elif ctype == "KILL":
            self._kill(fw, body)
        elif ctype == "SHUTDOWN":
            agent = self.agents.get(body["agent_id"]["value"])
            if agent is not None and agent.state == "active":
                agent.agent.shutdown_executor(fw.id, body["executor_id"]["value"])
        elif ctype == "ACKNOWLEDGE":
            self._acknowledge(fw, body)
        elif ctype == "RECONCILE":
            self._reconcile(fw, body.get("tasks", []))
        elif ctype == "MESSAGE":
            agent = self.agents.get(body["agent_id"]["value"])
            if agent is not None and agent.state == "active":
                agent.agent.framework_message(fw.id, body["executor_id"]["value"], body["data"])
        elif ctype == "UPDATE_FRAMEWORK":
            info = require_message(body, "framework_info")
            if require_id(info, "id", required=False) != fw.id:
                raise invalid("'framework_info.id' differs from the framework ID of the call")
            fw.info = dict(info, id=idv(fw.id), user=fw.info.get("user"))
            fw.suppressed = set(body.get("suppressed_roles", []))
            self.allocator.wake()
            return Response(200, b"")
        # REQUEST, inverse offers, operation calls: accepted and ignored, as the default allocator does.
        return None

    def _status(self, fw, task_id, state, reason, message, agent_id=None, executor_id=None, **extra):
        status = {"task_id": idv(task_id), "state": state, "source": "SOURCE_MASTER", "reason": reason,
                  "message": message, "timestamp": now()}
        if agent_id:
            status["agent_id"] = idv(agent_id)
        if executor_id:
            status["executor_id"] = idv(executor_id)
        status.update(extra)
        return status

    def _send_update(self, fw, status):
        fw.send({"type": "UPDATE", "update": {"status": status}})

    def _kill(self, fw, body):
        tid = body["task_id"]["value"]
        task = fw.tasks.get(tid)
        if task is None:
            self._reconcile(fw, [{"task_id": idv(tid), **({"agent_id": body["agent_id"]} if "agent_id" in body
                                                            else {})}])
            return
        if "agent_id" in body and body["agent_id"]["value"] != task.agent_id:
            return
        agent = self.agents.get(task.agent_id)
        if agent is not None and agent.state == "active":
            agent.agent.kill_task(fw.id, tid, body.get("kill_policy"))

    def _acknowledge(self, fw, body):
        tid = body["task_id"]["value"]
        aid = body["agent_id"]["value"]
        uuid_b64 = body["uuid"]
        agent = self.agents.get(aid)
        task = fw.tasks.get(tid)
        if agent is not None and agent.state == "active":
            agent.agent.acknowledge(fw.id, tid, uuid_b64)
        if task is not None and task.status_update_uuid == uuid_b64 and task.status_update_state in TERMINAL_STATES:
            self._forget_task(fw, task)

    def _forget_task(self, fw, task):
        fw.tasks.pop(task.id, None)
        for rec in (self.agents.get(task.agent_id), self.gone_agents.get(task.agent_id)):
            if rec is not None:
                rec.tasks.pop((fw.id, task.id), None)

    # ------------------------------------------------------------------ agent -> master
    def register_agent(self, agent, agent_id=None):
        """An agent (re)registers. ``agent_id`` None means a fresh agent: it gets a new ID, and any
        registered agent at the same address is removed (its tasks are lost), as a real master does."""
        if agent_id is None:
            for old in list(self.agents.values()):
                if old.ip == agent.ip and old.port == agent.port:
                    self.remove_agent(old.id, reason="REASON_AGENT_RESTARTED", gone=True,
                                      message=f"Agent {old.hostname} registered with a new ID")
            agent_id = self.next_agent_id()
            rec = AgentRecord(agent_id, agent)
            self.agents[agent_id] = rec
            log.info("agent %s (%s) registered", agent_id, agent.hostname)
            if self.operator is not None:
                self.operator.agent_added(rec)
        else:
            rec = self.agents.get(agent_id)
            if rec is None:
                rec = AgentRecord(agent_id, agent)
                self.agents[agent_id] = rec
                if self.operator is not None:
                    self.operator.agent_added(rec)
            rec.agent = agent
            rec.state = "active"
            rec.unreachable_time = None
            timer = self._unreachable_timers.pop(agent_id, None)
            if timer is not None:
                timer.cancel()
            rec.total = res.norm(agent.total_resources)
            rec.attributes = agent.attributes_proto()
            rec.version = agent.version
            self._adopt_agent_state(rec)
            log.info("agent %s (%s) reregistered", agent_id, agent.hostname)
        self.allocator.wake()
        return agent_id

    def _adopt_agent_state(self, rec):
        """After reregistration the agent's view of its tasks and executors wins (tasks lost meanwhile
        for non-partition-aware frameworks come back as they are on the agent)."""
        tasks, executors = rec.agent.report_state()
        rec.executors = {k: v for k, v in executors.items() if k[0] in self.frameworks}
        known = {}
        for (fid, tid), (info, eid, state, status) in tasks.items():
            fw = self.frameworks.get(fid)
            if fw is None:
                continue
            task = fw.tasks.get(tid)
            if task is None:
                task = Task(info, fid, rec.id, eid, res.from_proto(info.get("resources", [])), "*")
                fw.tasks[tid] = task
            task.state = state
            if status is not None:
                task.status = status
            known[(fid, tid)] = task
        for key, task in list(rec.tasks.items()):
            if key not in known and not task.terminal:
                fw = self.frameworks.get(key[0])
                task.state = "TASK_GONE" if fw and fw.partition_aware else "TASK_LOST"
                if fw is not None:
                    self._send_update(fw, self._status(fw, task.id, task.state, "REASON_RECONCILIATION",
                                                       "Task is unknown to the agent", agent_id=rec.id))
                    self._forget_task(fw, task)
        rec.tasks.update(known)

    def status_update(self, agent_id, fid, status):
        """A reliable update forwarded by an agent (it retries until ACKed)."""
        rec = self.agents.get(agent_id)
        if rec is None or rec.state != "active":
            return
        fw = self.frameworks.get(fid)
        if fw is None:
            return
        tid = status["task_id"]["value"]
        task = fw.tasks.get(tid)
        if task is None:
            # Unknown to the master (e.g. forgotten while the agent was away): forwarded anyway, as
            # Mesos does, so the scheduler can ACK it and the agent stops retrying.
            self._send_update(fw, status)
            return
        prev = task.state
        task.state = status["state"]
        task.status = status
        task.status_update_state = status["state"]
        task.status_update_uuid = status.get("uuid")
        task.statuses.append({"state": status["state"], "timestamp": status.get("timestamp", now())})
        self._send_update(fw, status)
        if self.operator is not None and prev != task.state:
            self.operator.task_updated(task, status)
        if task.terminal:
            self.allocator.wake()

    def executor_exited(self, agent_id, fid, eid, wait_status):
        rec = self.agents.get(agent_id)
        if rec is None:
            return
        rec.executors.pop((fid, eid), None)
        fw = self.frameworks.get(fid)
        if fw is not None:
            fw.send({"type": "FAILURE", "failure": {"agent_id": idv(agent_id), "executor_id": idv(eid),
                                                    "status": int(wait_status)}})
        self.allocator.wake()

    def executor_message(self, agent_id, fid, eid, data):
        fw = self.frameworks.get(fid)
        if fw is not None:
            fw.send({"type": "MESSAGE", "message": {"agent_id": idv(agent_id), "executor_id": idv(eid),
                                                    "data": data}})

    # ------------------------------------------------------------------ agent loss
    def agent_disconnected(self, agent_id):
        """The agent's connection broke (process died or restarts). Non-checkpointing frameworks lose their
        tasks at once; the others hear nothing unless the agent stays away for ``agent_ping_timeout``."""
        rec = self.agents.get(agent_id)
        if rec is None or rec.state != "active":
            return
        rec.state = "disconnected"
        self.rescind_agent_offers(rec)
        for (fid, tid), task in list(rec.tasks.items()):
            fw = self.frameworks.get(fid)
            if fw is not None and not fw.checkpoint and not task.terminal:
                task.state = "TASK_LOST"
                self._send_update(fw, self._status(fw, tid, "TASK_LOST", "REASON_AGENT_DISCONNECTED",
                                                   f"Agent {rec.hostname} disconnected", agent_id=agent_id,
                                                   executor_id=task.executor_id))
                self._forget_task(fw, task)
        timer = self._unreachable_timers.pop(agent_id, None)
        if timer is not None:
            timer.cancel()
        self._unreachable_timers[agent_id] = self.clock.call_later(self.agent_ping_timeout,
                                                                   self.mark_unreachable, agent_id)

    def mark_unreachable(self, agent_id):
        """Health checks timed out (or a partition hook): TASK_UNREACHABLE / TASK_LOST, FAILURE, RESCIND."""
        self._unreachable_timers.pop(agent_id, None)
        rec = self.agents.get(agent_id)
        if rec is None or rec.state == "unreachable":
            return
        rec.state = "unreachable"
        rec.unreachable_time = now()
        self.rescind_agent_offers(rec)
        self._agent_lost(rec, "REASON_AGENT_REMOVED", f"Agent {rec.hostname} is unreachable", unreachable=True,
                         forget=False)

    def _agent_lost(self, rec, reason, message, *, unreachable, forget):
        notified = set()
        for (fid, tid), task in list(rec.tasks.items()):
            fw = self.frameworks.get(fid)
            if fw is None or task.terminal:
                continue
            if unreachable:
                state = "TASK_UNREACHABLE" if fw.partition_aware else "TASK_LOST"
            else:
                state = "TASK_GONE_BY_OPERATOR" if fw.partition_aware else "TASK_LOST"
            extra = {"unreachable_time": {"nanoseconds": int(rec.unreachable_time * 1e9)}} if unreachable else {}
            self._send_update(fw, self._status(fw, tid, state, reason, message, agent_id=rec.id,
                                               executor_id=task.executor_id, **extra))
            if forget or state != "TASK_UNREACHABLE":
                task.state = state
            if forget:
                self._forget_task(fw, task)
        for fw in self.frameworks.values():
            if fw.id not in notified:
                fw.send({"type": "FAILURE", "failure": {"agent_id": idv(rec.id)}})
                notified.add(fw.id)

    def remove_agent(self, agent_id, *, reason="REASON_AGENT_REMOVED", gone=True, message=None):
        """Remove an agent for good (operator "gone"/decommission, or replaced by a new ID)."""
        rec = self.agents.pop(agent_id, None)
        if rec is None:
            return False
        timer = self._unreachable_timers.pop(agent_id, None)
        if timer is not None:
            timer.cancel()
        self.rescind_agent_offers(rec)
        rec.state = "gone"
        self.gone_agents[agent_id] = rec
        self._agent_lost(rec, reason, message or f"Agent {rec.hostname} removed", unreachable=False, forget=True)
        rec.executors.clear()
        if self.operator is not None:
            self.operator.agent_removed(rec)
        self.allocator.wake()
        return True

    # ------------------------------------------------------------------ leadership
    def change_leader(self, to=None):
        """Elect another master endpoint. Every scheduler stream is cut (bare close); frameworks must
        resubscribe at the new leader (old one answers 307). The new master has no failover timers."""
        if to is None:
            to = (self.leader + 1) % len(self.endpoints) if self.leader is not None else 0
        for fw in list(self.frameworks.values()):
            if fw.connected:
                self.disconnect_framework(fw.id, start_timer=False)
        if self.operator is not None:
            self.operator.close_all()
        for oid in list(self.offers):
            self.discard_offer(oid)
        self.leader = to
        self.endpoints[to].master_id = new_uuid()
        log.info("master leader is now %s", self.endpoints[to].address)
        self.allocator.wake()

    # ------------------------------------------------------------------ state for /master/state
    async def teardown_endpoint(self, ep, request):
        answer = self.leader_check(ep, request.path)
        if answer is not None:
            return answer
        if request.method != "POST":
            return Response(405, b"", headers={"Allow": "POST"})
        from urllib.parse import parse_qs
        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        fid = form.get("frameworkId")
        if not fid:
            return Response(400, "Missing 'frameworkId' query parameter in the request body")
        fw = self.frameworks.get(fid)
        if fw is None:
            return Response(400, "No framework found with specified ID")
        self.remove_framework(fw)
        return Response(200, b"")

    def redirect_endpoint(self):
        leader = self.leader_endpoint
        if leader is None:
            return Response(503, "No leader elected")
        return Response(307, b"", headers={"Location": f"//{leader.host}:{leader.port}"})

    def version_json(self):
        return {"version": self.version, "build_date": "2020-11-24 00:00:00", "build_time": 1606176000.0,
                "build_user": "sandbox", "git_sha": "0" * 40, "git_tag": self.version}

    async def handle(self, ep, request):
        """Route one HTTP request arriving at master endpoint ``ep``."""
        path = request.path.rstrip("/") or "/"
        if path == "/api/v1/scheduler":
            return await self.scheduler_api(ep, request)
        if path in ("/api/v1", "/api/v1/operator"):
            answer = self.leader_check(ep, request.path)
            if answer is not None:
                return answer
            return await self.operator.handle(request)
        if path == "/version":
            return json_response(self.version_json())
        if path in ("/master/redirect", "/redirect"):
            return self.redirect_endpoint()
        if path in ("/master/state", "/state", "/master/state.json", "/state.json"):
            answer = self.leader_check(ep, request.path)
            if answer is not None:
                return answer
            return json_response(self.state(ep))
        if path in ("/master/slaves", "/slaves", "/master/frameworks", "/frameworks", "/master/tasks", "/tasks"):
            answer = self.leader_check(ep, request.path)
            if answer is not None:
                return answer
            return json_response(self.state_part(path.rsplit("/", 1)[1], ep))
        if path in ("/master/teardown", "/teardown"):
            return await self.teardown_endpoint(ep, request)
        if path in ("/health", "/master/health"):
            return Response(200, b"")
        return Response(404, b"")
