#!/usr/bin/env bash
# Fails, listing the files, when any C++ source differs from what clang-format makes of it.
# `make format` rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.h' '*.cpp')
bad=()
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not clang-formatted (run \`make format\`):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
