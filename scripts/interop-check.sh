#!/usr/bin/env bash
# Runs only the interop tests (ctest label `interop`: llmtune against the real Transformers,
# PEFT, trl, tokenizers, TensorBoard, sacreBLEU, nltk and Determined), optionally with another
# Python than the project's .venv, such as a GPU machine's image with current releases:
#
#   scripts/interop-check.sh                 # the pinned .venv (the reference workflow's era)
#   scripts/interop-check.sh python3 [BUILD] # that Python's packages (Transformers 5.x, ...)
#
# A check whose library that Python lacks is skipped with the reason; see README.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-}"
build="${2:-$root/build}"
if [ -n "$python" ]; then
  export LLMTUNE_INTEROP_PYTHON="$(command -v "$python")"
  "$LLMTUNE_INTEROP_PYTHON" -c 'import torch, transformers; print("interop with", torch.__version__, transformers.__version__)'
fi
cd "$build"
ctest -L interop --output-on-failure
