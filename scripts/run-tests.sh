#!/usr/bin/env bash
# Runs the whole suite. Tests that create isolated agent roots need root (mount namespaces); the
# suite says so and fails rather than skipping silently when they cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"
