#!/bin/sh
# Runs one interop oracle: oracle.sh VENV SCRIPT.py ARGS...
# With the environment missing it prints why and exits 77 (ctest: skipped), or 1 under CI=true,
# where a missing oracle is a failure. LLMTUNE_INTEROP_PYTHON overrides the environment's Python.
venv="$1"
shift
python="${LLMTUNE_INTEROP_PYTHON:-}"
if [ -z "$python" ]; then
  if [ ! -f "$venv/requirements.sha256" ]; then
    why="the interop environment $venv is missing or incomplete (scripts/install-deps.sh builds it from PyPI)"
    if [ "${CI:-}" = "true" ]; then
      echo "FAILED: $why; under CI=true a missing oracle is a failure" >&2
      exit 1
    fi
    echo "skipped: $why"
    exit 77
  fi
  python="$venv/bin/python"
fi
exec "$python" "$@"
