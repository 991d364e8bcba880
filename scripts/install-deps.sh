#!/usr/bin/env bash
# Installs the Debian packages that building and testing llmtune need.
# Idempotent: prints nothing and changes nothing when everything is already present.
set -euo pipefail

packages=(
  g++ cmake make pkg-config git
  libopenblas-openmp-dev   # sgemm; the OpenMP build shares our thread pool
  nlohmann-json3-dev       # JSON: safetensors headers, config.json, adapter_config.json
  libsentencepiece-dev     # tokenizer.model files, and training the demo's tokenizer
  libpcre2-dev             # Unicode regular expressions of tokenizer.json pre-tokenizers
  libcli11-dev             # the llmtune command line
  libsqlite3-dev           # the synthetic text-to-SQL databases, SQL execution
  libyaml-cpp-dev          # experiment configs (Determined-style YAML)
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libopenmpi-dev openmpi-bin  # MPI: the communicator of ZeRO training across processes
  clang-format
  python3 python3-torch    # the independent PyTorch oracle (tests/reference, bench peers)
  python3-sentencepiece python3-regex python3-jinja2  # tokenizer and chat-template oracles
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/llmtune-apt.log 2>&1; then
  $sudo apt-get update -q >>/tmp/llmtune-apt.log 2>&1
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/llmtune-apt.log 2>&1 || {
    echo "install-deps: apt-get failed; see /tmp/llmtune-apt.log" >&2
    tail -20 /tmp/llmtune-apt.log >&2
    exit 1
  }
fi
