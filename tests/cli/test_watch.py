"""When following a plan stops: COMPLETE, a plan error, or ERROR with nothing moving any more
(steps PENDING behind a failed step never start). Pure: plan JSON as the API sends it."""
from dcos_scaleio.cli.watch import StallDetector, settled


def plan(status, *steps, errors=()):
    return {"status": status, "errors": list(errors),
            "phases": [{"name": "p", "steps": [{"name": n, "status": s, "attempts": 1} for n, s in steps]}]}


def test_settled():
    assert settled(plan("COMPLETE", ("a", "COMPLETE")))
    assert settled(plan("ERROR", ("a", "PENDING"), errors=["scaleio.mode: bad"]))
    assert settled(plan("ERROR", ("a", "ERROR"), ("b", "COMPLETE")))
    assert not settled(plan("ERROR", ("a", "ERROR"), ("b", "STARTED")))
    assert not settled(plan("IN_PROGRESS", ("a", "STARTED")))


def test_error_with_pending_dependents_is_blocked_once_it_stops_moving():
    stuck = plan("ERROR", ("volumes:[check]", "ERROR"), ("uninstall-sdc", "PENDING"))
    detector = StallDetector(stall_s=0.05)
    assert not detector.blocked(stuck)
    detector.since -= 1.0   # as if nothing had changed for a second
    assert detector.blocked(stuck)
    moving = plan("ERROR", ("volumes:[check]", "ERROR"), ("uninstall-sdc", "STARTED"))
    assert not detector.blocked(moving)   # a change restarts the clock


def test_in_progress_is_never_blocked():
    detector = StallDetector(stall_s=0.0)
    assert not detector.blocked(plan("IN_PROGRESS", ("a", "PENDING")))
