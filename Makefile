# Thin wrapper over CMake. `make demo`, `make test` and `make bench` work on a fresh Debian machine:
# they install missing packages, configure, build and run.
BUILD ?= build
SHARED ?= ../shared
JOBS ?= $(shell nproc)
PY ?= /usr/bin/python3
# The sanitizer build (clang, libFuzzer, ASan + UBSan) and how long `make fuzz` runs each target.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# 1: `make test` also runs `make check-asan` (the tests under ASan + UBSan and a fixed number of
# runs of each fuzz target), as CI does.
CHECK_ASAN_IN_TEST ?= 1

.PHONY: all deps configure build test demo bench llama-cpp reference format clean fuzz \
  fuzz-build check-asan

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DLLMTUNE_SHARED_DIR=$(abspath $(SHARED)) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
ifeq ($(CHECK_ASAN_IN_TEST),1)
	@$(MAKE) --no-print-directory check-asan
endif

# The main job: synthetic data, a tokenizer, a tiny base model, full and LoRA finetuning per
# difficulty, evaluation and the comparison table (runs/demo/).
demo: build
	$(BUILD)/src/cli/llmtune demo --out runs/demo

# The reference stack (Transformers' Trainer + PEFT, from .venv) races as a second peer when the
# environment is there.
VENV ?= .venv
HF_PEER = $(if $(wildcard $(VENV)/requirements.sha256),--hf-peer bench/hf_trainer_peer.py --hf-python $(VENV)/bin/python)

bench: build
	$(BUILD)/bench/train_step --peer bench/train_step_peer.py --python $(PY) $(HF_PEER)
	$(PY) tests/text/make_tokenizer_reference.py --shared $(SHARED) --out $(BUILD)/text >/dev/null
	$(BUILD)/bench/tokenize --tokenizer $(SHARED)/fixtures/llama2-tokenizer \
	  --corpus $(BUILD)/text/corpus.jsonl --peer bench/tokenize_peer.py --python $(PY)
	$(BUILD)/bench/lora_memory --model mistral-7b --seq 256
	$(BUILD)/bench/generate --peer bench/generate_peer.py --python $(PY)

# llama.cpp itself for the llama_cpp test (tests/interop/check_llama_cpp.py): compiles
# llama-cpp-python once per machine into a wheel cache (about 12 minutes on 2 cores), installs it
# into .venv and runs the test; later .venv rebuilds (install-deps.sh) install it from the cache.
llama-cpp: build
	@scripts/install-llama-cpp.sh $(VENV)
	cd $(BUILD) && ctest --output-on-failure -L llama_cpp

# Regenerates the PyTorch reference files the model tests compare against.
reference: build
	$(PY) tests/reference/make_reference.py --out $(BUILD)/reference

# Fuzzing (fuzz/): the parsers of every file a user hands llmtune, under libFuzzer with
# AddressSanitizer and UndefinedBehaviorSanitizer. fuzz-build compiles the libraries the targets
# need a second time, instrumented, with clang (installed when missing); fuzz runs each target
# FUZZ_SECONDS and prints its executions and crashes (scripts/fuzz.sh), failing on any.
fuzz-build:
	@scripts/install-deps.sh fuzz
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release -DLLMTUNE_FUZZ=ON \
	  -DLLMTUNE_SHARED_DIR=$(abspath $(SHARED)) >/dev/null
	@cmake --build $(FUZZ_BUILD) --target fuzz_all -j $(JOBS)

# The test suite in the sanitizer build, and fuzz_smoke: a fixed number of runs of each fuzz
# target from its seeds, so that a finding fails every time, not by chance. A leak, an overflow
# or undefined behaviour fails the test. allocator_may_return_null: an impossible allocation
# returns null, as glibc's malloc does, and llmtune reports it as out of memory
# (tests/core/hostile_input_test.cpp) instead of ASan aborting. Left out: the quick demo (the
# experiment CLI tests run its code; it takes minutes in the normal build, many under ASan),
# and Reference.LoraTrainingSteps/"llama_tied", whose tolerance (at most 5% of a tensor's
# elements off by 1e-4 of its scale after ten Adam steps, where fp32 rounding noise picks the
# direction) was measured with GCC -O3; the clang -O1 build rounds elsewhere and puts 7.4% of
# one LoRA B matrix there, with no sanitizer report. Under mpirun LeakSanitizer is off
# (tests/CMakeLists.txt says why).
check-asan: fuzz-build
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	cd $(FUZZ_BUILD) && ASAN_OPTIONS=allocator_may_return_null=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -E 'Reference.LoraTrainingSteps/"llama_tied"|^Demo\.'

fuzz: fuzz-build
	@$(PY) scripts/fuzz-seeds.py --shared $(abspath $(SHARED)) --out $(FUZZ_BUILD)/fuzz/seeds
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_BUILD)/fuzz/seeds $(FUZZ_SECONDS)

format:
	@git ls-files --cached --others --exclude-standard '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
