"""Group commit of the core loop: status updates that queue up while the core is busy are persisted
by ONE store transaction, and none is acknowledged before that transaction is durable.

The real scheduler (SchedulerApp, in this process so that the test can hold its core loop with an
HTTP-style ``call`` and see how many updates its pymesos thread queued) runs against the emulator's
simulated agents with a real SQLite store. Four data agents run their deps task at once; while the
core is held, the four TASK_FINISHED updates queue up. Then the test holds SQLite's write lock
itself and lets the core go: as long as the batch's commit cannot complete, the master keeps all
four tasks (a terminal task is forgotten when its update is ACKed). After the lock is released, the
four steps are COMPLETE in the store, the tasks are ACKed, and the store's WAL holds exactly one new
commit (one commit per update before group commit: four). A reader transaction held open meanwhile
keeps SQLite from checkpointing or restarting the WAL, so its frames can be counted.
"""
import json
import os
import pathlib
import sqlite3
import struct
import threading
import time
from concurrent.futures import Future

import pytest

# pymesos sets a SIGINT handler when imported, which only the main thread may do (the app imports it late).
from dcos_scaleio.framework.scheduler import driver as _driver  # noqa: F401
from dcos_scaleio.framework.scheduler.app import SchedulerApp
from dcos_scaleio.framework.scheduler.config import load_config
from dcos_scaleio.framework.scheduler.persist import SchedulerState
from dcos_scaleio.framework.store import open_store

from sched_support import AgentSpec, base_options, framework_tasks, make_cluster, wait_for

pytestmark = [pytest.mark.sandbox]
AGENTS = 4
TASK_S = 6.0      # long enough to hold the core loop before any deps task finishes


def wal_end_and_commits(wal_path, start=None):
    """(end of the WAL's valid frames, commit frames between ``start`` and that end). Frames belong
    to the current WAL generation when their salts match the header's; a commit frame is one whose
    "database size after commit" field is not zero (https://sqlite.org/fileformat.html#the_wal_file)."""
    data = pathlib.Path(wal_path).read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    salt = data[16:24]
    off, commits, frame = 32, 0, 24 + page_size
    while off + frame <= len(data) and data[off + 8:off + 16] == salt:
        if start is not None and off >= start and struct.unpack(">I", data[off + 4:off + 8])[0]:
            commits += 1
        off += frame
    return off, commits


@pytest.fixture
def scheduler_app(tmp_path):
    """Start ``SchedulerApp`` with ``scheduler_app(options)``; stopped (driver, core, store) at the end."""
    started = []

    def start(options):
        opts_file = tmp_path / "options.json"
        opts_file.write_text(json.dumps(options))
        env = dict(os.environ, SCALEIO_OPTIONS_FILE=str(opts_file), SCALEIO_HEARTBEAT_TIMEOUT_S="6",
                   SCALEIO_LOCK_TIMEOUT_S="10", SCALEIO_RECONCILE_GIVE_UP_S="4", SCALEIO_RECONCILE_BACKOFF_S="0.5,1")
        app = SchedulerApp(load_config(env), environ=env)
        thread = threading.Thread(target=app.run, name="test-scheduler-app", daemon=True)
        thread.start()
        started.append((app, thread))
        return app

    yield start
    for app, thread in started:
        app.request_stop()
        thread.join(30)
        assert not thread.is_alive(), "the scheduler app did not stop"


def test_queued_status_updates_are_committed_once_and_acked_after(tmp_path_factory, tmp_path, scheduler_app):
    c = make_cluster(tmp_path_factory, [AgentSpec(f"g{i}", hostname=f"gc-{i}") for i in range(AGENTS)],
                     simulated=True, sim_task_duration=TASK_S)
    c.start()
    lock = pin = reader = None
    release = threading.Event()
    try:
        db = tmp_path / "state.sqlite"
        app = scheduler_app(base_options(c.master_address, db))
        core = wait_for(lambda: app.core if app.core is not None and app.driver is not None else None,
                        what="the scheduler's core")
        dedupe = app.driver.callbacks.dedupe
        reader = open_store(f"sqlite://{db}")
        stored = SchedulerState(reader)

        def step_states(keys):
            records = stored.engine_records()
            return {k: records[k]["state"] for k in keys}

        # Every deps task RUNNING, that update persisted and ACKed (nothing queued or unACKed).
        def all_running():
            ids = {t["id"] for t in framework_tasks(c) if t["state"] == "TASK_RUNNING"}
            steps = {k for k, r in stored.engine_records().items() if k.startswith("step/") and r.get("task_id") in ids}
            return (ids, steps) if len(ids) == len(steps) == AGENTS and dedupe.pending() == 0 else None
        task_ids, steps = wait_for(all_running, timeout=30, what="four running deps tasks")

        # Hold the core loop; the four TASK_FINISHED updates queue up behind it.
        held = threading.Event()
        core.put(("call", lambda _core: (held.set(), release.wait(60)), Future()))
        assert held.wait(10)
        wait_for(lambda: all(t["state"] == "TASK_FINISHED" for t in framework_tasks(c) if t["id"] in task_ids)
                 and len(framework_tasks(c)) == AGENTS and dedupe.pending() == AGENTS,
                 timeout=TASK_S + 20, what="the four TASK_FINISHED updates queued at the scheduler")
        assert "COMPLETE" not in step_states(steps).values()

        # Take SQLite's write lock, pin the WAL with a reader, then let the core go: its batch commit waits.
        pin = sqlite3.connect(str(db), isolation_level=None)
        pin.execute("BEGIN")
        pin.execute("SELECT count(*) FROM kv").fetchone()
        lock = sqlite3.connect(str(db), timeout=10, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        mark, _ = wal_end_and_commits(str(db) + "-wal")
        release.set()
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:     # no ACK while the commit cannot complete
            finished = [t for t in framework_tasks(c) if t["id"] in task_ids]
            assert len(finished) == AGENTS, "a status update was ACKed before its transition was persisted"
            assert dedupe.pending() == AGENTS
            time.sleep(0.1)
        lock.execute("ROLLBACK")

        # Committed once, then ACKed: the master forgets the finished tasks.
        wait_for(lambda: not any(t["id"] in task_ids for t in framework_tasks(c)) and dedupe.pending() == 0,
                 timeout=20, what="the ACKs of the four updates")
        states = step_states(steps)
        assert set(states.values()) == {"COMPLETE"}, states
        _, commits = wal_end_and_commits(str(db) + "-wal", mark)
        assert commits == 1, f"{commits} store commits for one batch of {AGENTS} status updates"
        assert core.counters["statuses"] >= 2 * AGENTS and core.counters["commits"] < core.counters["statuses"]
    finally:
        release.set()
        if reader is not None:
            reader.close()
        for conn in (lock, pin):
            if conn is not None:
                conn.close()
        c.stop()
