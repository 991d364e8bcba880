#!/bin/sh
# Runs the dashboard's browser test: browser.sh VENV check_pages.py ARGS...
# It needs Debian's chromium and chromium-driver and Selenium in VENV (scripts/install-deps.sh
# installs all three). Without one it prints why and exits 77 (ctest: skipped), or 1 under
# CI=true, where a missing browser is a failure. LLMTUNE_CHROMIUM and LLMTUNE_CHROMEDRIVER
# override the programs' paths.
venv="$1"
shift
chromium="${LLMTUNE_CHROMIUM:-/usr/bin/chromium}"
driver="${LLMTUNE_CHROMEDRIVER:-/usr/bin/chromedriver}"
why=""
if [ ! -x "$chromium" ]; then
  why="no headless browser at $chromium (apt-get install chromium)"
elif [ ! -x "$driver" ]; then
  why="no WebDriver at $driver (apt-get install chromium-driver)"
elif [ ! -f "$venv/requirements.sha256" ]; then
  why="the Python environment $venv with Selenium is missing or incomplete (scripts/install-deps.sh builds it from PyPI)"
fi
if [ -n "$why" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAILED: $why; under CI=true a missing browser test is a failure" >&2
    exit 1
  fi
  echo "skipped: $why"
  exit 77
fi
exec "$venv/bin/python" "$@" --chromium "$chromium" --chromedriver "$driver"
