#!/usr/bin/env python3
"""A tiny custom executor on an UNMODIFIED ``pymesos.MesosExecutorDriver``, launched by the emulated
agent inside its isolated root.

Behaviour per task comes from ``TaskInfo.data`` (base64 JSON): ``{"run": "forever"}`` (default; stays
TASK_RUNNING until killed), ``{"run": "finish"}`` (TASK_FINISHED at once), ``{"crash_after": s}`` (the
executor process exits with status 3 after s seconds), ``{"write": "/path", "text": ".."}`` (writes a
file inside the agent before going RUNNING). Framework messages are echoed back as ``echo:<data>``;
the message ``crash`` makes the executor exit with status 3.

pymesos raises when an update is sent while disconnected and never resends, so updates go through a
small retry queue. ``executor.json`` in the sandbox records the MESOS_* environment and cwd.
"""
import json
import os
import sys
import threading
import time

from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data


class Outbox:
    """Retry updates until the driver accepts them (pymesos raises while disconnected)."""

    def __init__(self):
        self.queue = []
        self.cond = threading.Condition()
        self.driver = None

    def put(self, status):
        with self.cond:
            self.queue.append(status)
            self.cond.notify()

    def run(self):
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait()
                status = self.queue[0]
            try:
                self.driver.sendStatusUpdate(status)
                with self.cond:
                    self.queue.pop(0)
            except Exception:
                time.sleep(0.3)


class TestExecutor(Executor):
    def __init__(self, outbox):
        self.outbox = outbox

    def _status(self, task_id, state, message=None):
        status = {"task_id": task_id, "state": state}
        if message:
            status["message"] = message
        self.outbox.put(status)

    def registered(self, driver, executor_info, framework_info, agent_info):
        try:
            with open("executor.json", "w") as f:
                json.dump({"env": {k: v for k, v in os.environ.items() if k.startswith(("MESOS_", "LIBPROCESS_"))},
                           "cwd": os.getcwd(), "agent_info": agent_info, "pid": os.getpid(),
                           "hostname": os.uname().nodename}, f)
        except Exception:
            pass

    def launchTask(self, driver, task):
        try:
            spec = json.loads(decode_data(task["data"])) if task.get("data") else {}
            if spec.get("write"):
                with open(spec["write"], "w") as f:
                    f.write(spec.get("text", ""))
            self._status(task["task_id"], "TASK_RUNNING", "running")
            if spec.get("run") == "finish":
                self._status(task["task_id"], "TASK_FINISHED", "finished")
            if spec.get("crash_after") is not None:
                threading.Timer(float(spec["crash_after"]), os._exit, (3,)).start()
        except Exception as exc:
            self._status(task["task_id"], "TASK_FAILED", f"executor error: {exc}")

    def launchTaskGroup(self, driver, tasks):
        for task in tasks:
            self.launchTask(driver, task)

    def killTask(self, driver, task_id):
        self._status(task_id, "TASK_KILLED", "killed by request")

    def frameworkMessage(self, driver, message):
        try:
            text = decode_data(message).decode()
            if text == "crash":
                os._exit(3)
            driver.sendFrameworkMessage(encode_data(f"echo:{text}".encode()))
        except Exception:
            pass

    def shutdown(self, driver):
        try:
            # Let the outbox flush terminal updates briefly, then go.
            threading.Timer(0.5, os._exit, (0,)).start()
        except Exception:
            pass

    def error(self, driver, message):
        pass


def main():
    outbox = Outbox()
    driver = MesosExecutorDriver(TestExecutor(outbox))
    outbox.driver = driver
    threading.Thread(target=outbox.run, daemon=True).start()
    driver.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
