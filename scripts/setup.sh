#!/usr/bin/env bash
# Create .venv and install dlm-core and every plugin distribution in editable mode, with the
# test extras of those that have them (the README's test command runs every distribution's tests;
# the served-model plugins' tests need llama-cpp-python's server, which pip builds from source).
# torch comes first and pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
# llama-cpp-python (the llamacpp sampler, dlm export's quantizer, the served-model tests) builds
# llama.cpp from source; its multimodal library (a third of the build) is never used by dlm.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
args=(-e ".[test]")
for dist in plugins/*/ contrib/*/; do
  [ -f "$dist/pyproject.toml" ] || continue
  if grep -q '^test *=' "$dist/pyproject.toml"; then
    args+=(-e "${dist%/}[test]")
  else
    args+=(-e "$dist")
  fi
done
.venv/bin/python -m pip install -q "${args[@]}"
echo "installed: $(.venv/bin/dlm --version); plugins:"
.venv/bin/dlm plugins
