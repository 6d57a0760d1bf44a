#!/usr/bin/env bash
# Install everything the dam needs into .venv from the lock file (uv.lock). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
export UV_PYTHON_DOWNLOADS=never
export UV_LINK_MODE=copy
# Trust the platform's certificate store (a company proxy's CA lives there, not in uv's
# bundled roots: without it a fresh machine behind such a proxy cannot reach the registry).
export UV_SYSTEM_CERTS=1

uv_bin=""
if command -v uv >/dev/null 2>&1 && [ "$(uv --version | awk '{print $2}')" = "$UV_VERSION" ]; then
  uv_bin=$(command -v uv)
elif [ -x .tools/bin/uv ]; then
  uv_bin=.tools/bin/uv
else
  echo "bootstrap: installing uv $UV_VERSION into .tools/" >&2
  python3 -m venv .tools
  .tools/bin/python -m pip install --quiet "uv==$UV_VERSION"
  uv_bin=.tools/bin/uv
fi

python_bin=$(command -v python3.11 || command -v python3)
"$uv_bin" sync --frozen --compile-bytecode --python "$python_bin" --quiet
echo "bootstrap: environment ready in .venv ($(.venv/bin/python --version))" >&2
