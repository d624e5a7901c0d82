"""The mesos_testfw test scheduler, plus one event per status update that carries data.

``{"ev": "status_data", "task_id", "state", "message", "result": <decoded TaskStatus.data JSON>}`` is
emitted right after the harness's own ``status`` event, so the tests can read the executor's result.
Run as a script by :class:`conftest.DataScheduler`.
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # tests/ -> mesos_testfw

from mesos_testfw import scheduler_main as sm  # noqa: E402  (imports pymesos on the main thread)
from pymesos import decode_data  # noqa: E402

_status_event = sm.TestScheduler.statusUpdate


def status_update(self, driver, status):
    _status_event(self, driver, status)
    try:
        if status.get("data"):
            sm.emit(ev="status_data", task_id=status["task_id"]["value"], state=status["state"],
                    message=status.get("message"), result=json.loads(decode_data(status["data"])))
    except Exception as exc:   # never raise into pymesos
        sm.emit(ev="callback_error", where="status_data", trace=repr(exc))


sm.TestScheduler.statusUpdate = status_update

if __name__ == "__main__":
    sys.exit(sm.main())
