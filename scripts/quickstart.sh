#!/usr/bin/env bash
# Quick start: install, generate the sample landing zone under data/, run every night of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/dam demo "$@"
