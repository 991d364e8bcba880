#!/usr/bin/env bash
# Installs the Debian packages that building and testing llmtune need, and the project's Python
# environment .venv (git-ignored): Debian's python3 with its system packages (python3-torch)
# plus the PyPI packages pinned in scripts/requirements.txt, for the interop oracles
# (tests/interop: Transformers, PEFT, trl, tokenizers, TensorBoard, sacreBLEU, Determined), the
# Hugging Face peer of `make bench` and Selenium for the dashboard's browser tests (tests/server).
# Idempotent: prints nothing and changes nothing when everything is already present.
# When PyPI cannot be reached it says so in one line and, unless CI=true, carries on without
# .venv (the interop tests then skip, saying why); under CI=true that is a failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

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
  # .venv: the venv module, and the Debian packages its PyPI packages use (requirements.txt)
  python3-venv python3-numpy python3-yaml python3-requests python3-psutil python3-attr
  python3-six python3-pygments python3-dateutil
  # the dashboard (llmtune serve): its HTTP server, the chart library built into the binary,
  # and the headless browser its page tests drive (selenium from .venv, urllib3/certifi Debian's)
  libcpp-httplib-dev libjs-chart.js chromium chromium-driver python3-urllib3 python3-certifi
)
# `install-deps.sh fuzz` (make fuzz): also clang with libFuzzer and the sanitizers' runtimes, and
# clang's OpenMP, for the fuzz build.
if [ "${1:-}" = "fuzz" ]; then
  packages+=(clang libclang-rt-dev libomp-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
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
fi

# The fuzz build needs no Python packages.
if [ "${1:-}" = "fuzz" ]; then
  exit 0
fi

# .venv is current when its stamp holds the hash of requirements.txt (with the source-built
# package and its install script); otherwise it is rebuilt from scratch (--clear), so that a
# package dropped from the file does not linger.
venv="$root/.venv"
requirements="$root/scripts/requirements.txt"
stamp="$venv/requirements.sha256"
want="$(cat "$requirements" "$root/scripts/requirements-source.txt" \
  "$root/scripts/install-llama-cpp.sh" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
log=/tmp/llmtune-pip.log
echo "install-deps: building .venv from scripts/requirements.txt (pinned PyPI packages)"
rm -f "$stamp"
/usr/bin/python3 -m venv --clear --system-site-packages "$venv" >"$log" 2>&1 || {
  echo "install-deps: python3 -m venv failed; see $log" >&2
  exit 1
}
if ! "$venv/bin/pip" install --disable-pip-version-check --no-input -q --timeout 20 --retries 2 \
    --no-deps --only-binary=:all: -r "$requirements" >>"$log" 2>&1; then
  unreachable="NewConnectionError|Failed to establish|name resolution|timed out|unreachable|ProxyError|SSLError"
  if grep -qE "$unreachable" "$log"; then
    echo "install-deps: PyPI cannot be reached, so .venv (the interop oracles) is not installed ($(grep -oE "$unreachable" "$log" | tail -1)); see $log" >&2
  else
    echo "install-deps: pip install -r scripts/requirements.txt failed; see $log" >&2
  fi
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
# llama.cpp (llama-cpp-python) from the machine's wheel cache when `make llama-cpp` has compiled
# it there; it is never compiled here, so .venv stays quick to build.
if ! "$root/scripts/install-llama-cpp.sh" --if-cached "$venv" && [ "${CI:-}" = "true" ]; then
  exit 1
fi
echo "$want" >"$stamp"
