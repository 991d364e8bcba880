#!/usr/bin/env bash
# Installs llama-cpp-python, pinned in scripts/requirements-source.txt, into the virtual
# environment VENV: llama.cpp itself, for tests/interop/check_llama_cpp.py (ctest label
# llama_cpp), which runs the GGUF files `llmtune export` writes.
#
# PyPI has only its source, and pip compiles llama.cpp with CMake: about 12 minutes on this
# project's 2 cores. So the wheel is built once per machine into a cache outside the repository,
# $LLMTUNE_WHEEL_CACHE (default ~/.cache/llmtune/wheels), in a folder named after the version
# and build flags, and every later install (each rebuild of .venv, every clone and worktree, CI
# on the same machine) takes it from there in seconds.
#
# usage: scripts/install-llama-cpp.sh [--if-cached] VENV
#   --if-cached: install only from the cache, never compile (scripts/install-deps.sh: .venv stays
#   quick to build; without the wheel the llama_cpp test skips, saying how to build it).
# CMAKE_BUILD_PARALLEL_LEVEL sets the compile jobs (default: all cores).
#
# Build flags: CPU only without BLAS (no CUDA, Metal, Vulkan), and no -march=native, so that a
# cached wheel also runs on another x86-64 CPU; none of llama.cpp's programs, tests or its
# multimodal library, which the check does not use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if_cached=false
if [ "${1:-}" = "--if-cached" ]; then
  if_cached=true
  shift
fi
venv="$1"
requirements="$root/scripts/requirements-source.txt"
flags="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF \
-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
version="$(sed -n 's/^llama-cpp-python==\([^ ]*\).*/\1/p' "$requirements")"
cache="${LLMTUNE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/llmtune/wheels}"
cache="$cache/llama-cpp-$(echo "$flags" | sha256sum | cut -c1-12)"
log=/tmp/llmtune-llama-cpp.log
pip=("$venv/bin/pip" --disable-pip-version-check --no-input -q)

if ! compgen -G "$cache/llama_cpp_python-$version-*.whl" >/dev/null; then
  if $if_cached; then
    echo "install-deps: llama-cpp-python $version is not compiled on this machine yet, so the" \
         "llama_cpp test skips; \`make llama-cpp\` compiles it once (about 12 minutes)"
    exit 0
  fi
  echo "install-llama-cpp: compiling llama-cpp-python $version (llama.cpp, CPU only) into" \
       "$cache; once per machine, about 12 minutes on 2 cores"
  mkdir -p "$cache"
  start=$SECONDS
  if ! CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
      "${pip[@]}" wheel --no-deps --no-binary llama-cpp-python -w "$cache" -r "$requirements" \
      >"$log" 2>&1; then
    echo "install-llama-cpp: compiling llama-cpp-python failed; see $log" >&2
    exit 1
  fi
  echo "install-llama-cpp: llama-cpp-python compiled in $((SECONDS - start)) s"
fi
if "$venv/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$version')" \
    2>/dev/null; then
  exit 0
fi
if ! "${pip[@]}" install --no-deps --no-index --find-links "$cache" -r "$requirements" \
    >"$log" 2>&1; then
  echo "install-llama-cpp: installing llama-cpp-python from $cache failed; see $log" >&2
  exit 1
fi
