#!/usr/bin/env bash
# Build the self-contained scheduler and executor artifacts (PyInstaller onedir, packed as .tar.gz
# with a .sha256 beside each) under build/artifacts/. Skips programs whose inputs are unchanged.
# Usage: scripts/build-artifacts.sh [--force] [--only executor|scheduler|cli]
# The CLI (dcos-scaleio, Linux x86-64) is built with --only cli (make cli): build/artifacts/dcos-scaleio-cli-linux-x86-64.zip.
# See packaging/build_artifacts.py for what is built and how; docs/artifacts.md for the agent needs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" packaging/build_artifacts.py "$@"
