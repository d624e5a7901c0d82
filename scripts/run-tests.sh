#!/usr/bin/env bash
# Runs the whole suite. Tests that create isolated agent roots need root (mount namespaces); the
# suite says so and fails rather than skipping silently when they cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Two workers (the suite mostly waits on sandbox processes); each test file stays on one worker
# (--dist loadfile), in order, so module-scoped sandboxes are built once and ordered tests stay ordered.
# PYTEST_WORKERS=0 runs everything in this process.
WORKERS=${PYTEST_WORKERS:-2}
if [ "$WORKERS" = 0 ]; then
    exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 tests "$@"
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "$WORKERS" --dist loadfile --durations=15 tests "$@"
