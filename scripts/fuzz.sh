#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ for a while and reports, per target, the executions, the
# seconds and the crashes; exits 1 when any target crashed, hung or ran out of memory.
#
# usage: scripts/fuzz.sh BUILD_DIR SEEDS_DIR SECONDS|runs=N [TARGET...]
#   BUILD_DIR  a build with LLMTUNE_FUZZ=ON (make fuzz configures build-fuzz)
#   SEEDS_DIR  scripts/fuzz-seeds.py's output
#   SECONDS    how long each target runs; runs=N instead: N inputs each, with a fixed random
#              seed and from the seeds alone, so that the run is the same every time (CI)
# Each target keeps what it learns in BUILD_DIR/fuzz/corpus/<target> (so later runs start
# from there) and writes a failing input to BUILD_DIR/fuzz/artifacts/<target>/; copy it to
# tests/fuzz_regressions/<target>/ once fixed, and the normal test suite replays it.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$1" seeds="$2" budget="$3"
shift 3
if [[ "$budget" == runs=* ]]; then
  limit=(-runs="${budget#runs=}" -seed=1)
  fixed=1
else
  limit=(-max_total_time="$budget")
  fixed=0
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(safetensors hf_model peft_adapter tokenizer_json tokenizer_encode jinja experiment
           deepspeed records predictions train_state)
fi

# The longest input worth trying, and the dictionary, per target.
max_len() {
  case "$1" in
    tokenizer_json) echo 16384 ;;
    jinja) echo 10000 ;;
    tokenizer_encode) echo 2048 ;;
    *) echo 4096 ;;
  esac
}
dict() {
  case "$1" in
    jinja) echo "$root/fuzz/dicts/jinja.dict" ;;
    experiment) echo "$root/fuzz/dicts/yaml.dict" ;;
    tokenizer_encode) echo "" ;;
    *) echo "$root/fuzz/dicts/json.dict" ;;
  esac
}

if [ ! -x "$build/fuzz/fuzz_${targets[0]}" ]; then
  echo "fuzz: skipped, no fuzz targets in $build/fuzz (make fuzz-build builds them)"
  exit 77  # ctest's fuzz_smoke: skipped
fi

failed=0
for t in "${targets[@]}"; do
  exe="$build/fuzz/fuzz_$t"
  corpus="$build/fuzz/corpus/$t"
  artifacts="$build/fuzz/artifacts/$t"
  log="$build/fuzz/logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")" "$seeds/$t"
  # A fixed run starts from the seeds in a fresh corpus folder, not from what earlier runs kept.
  if [ "$fixed" -eq 1 ]; then
    corpus="$build/fuzz/corpus-fixed/$t"
    rm -rf "$corpus" && mkdir -p "$corpus"
  fi
  d="$(dict "$t")"
  before=$(find "$artifacts" -type f | wc -l)
  start=$SECONDS
  # UBSan aborts (the build has -fno-sanitize-recover=undefined); ASan's leak check stays on.
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$exe" "${limit[@]}" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${d:+-dict="$d"} "$corpus" "$seeds/$t" \
    >"$log" 2>&1
  rc=$?
  secs=$((SECONDS - start))
  # "Done N runs in S second(s)" when the time ran out; after a crash, the last "#N" status line.
  execs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -1)
  [ -z "$execs" ] && execs=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -1)
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if [ "$rc" -ne 0 ]; then
    failed=1
    [ "$crashes" -eq 0 ] && crashes=1
    echo "fuzz $t: exit $rc; the log's end ($log):"
    grep -E "ERROR|SUMMARY|runtime error|Test unit written|terminate called|what\(\)" "$log" | head -8
  fi
  printf 'fuzz %-17s execs=%-9s seconds=%-4s crashes=%s\n' "$t" "${execs:-?}" "${secs:-?}" \
    "$crashes"
done
exit $failed
