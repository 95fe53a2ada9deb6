#!/usr/bin/env bash
# Create .venv and install dlm-core and every plugin distribution in editable mode.
# torch comes first and pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
args=(-e ".[test]")
for dist in plugins/*/ contrib/*/; do
  [ -f "$dist/pyproject.toml" ] && args+=(-e "$dist")
done
.venv/bin/python -m pip install -q "${args[@]}"
echo "installed: $(.venv/bin/dlm --version); plugins:"
.venv/bin/dlm plugins
