#!/usr/bin/env bash
# The test command (also what CI runs): install from the lock file, lint, run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check --quiet dam_pipelines dam_pipelines_tests
exec .venv/bin/pytest -n 2 "$@"
