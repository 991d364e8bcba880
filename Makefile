# Thin wrapper over CMake. `make demo`, `make test` and `make bench` work on a fresh Debian machine:
# they install missing packages, configure, build and run.
BUILD ?= build
SHARED ?= ../shared
JOBS ?= $(shell nproc)
PY ?= /usr/bin/python3
# The fuzz build (clang, libFuzzer, ASan + UBSan) and how long `make fuzz` runs each target.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
# 1: `make test` builds the fuzz targets too, and ctest's fuzz_smoke runs each for 10 s. Off in
# CI for now: the sanitizer build adds about 14 CPU-minutes, and the smoke run has not yet been
# run again since its two findings were fixed (tests/fuzz_regressions/{experiment,records}).
FUZZ_IN_TEST ?= 0

.PHONY: all deps configure build test demo bench llama-cpp reference format clean fuzz \
  fuzz-build

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DLLMTUNE_SHARED_DIR=$(abspath $(SHARED)) \
	  -DLLMTUNE_FUZZ_BUILD=$(abspath $(FUZZ_BUILD)) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build $(if $(filter 1,$(FUZZ_IN_TEST)),fuzz-build)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

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

fuzz: fuzz-build
	@$(PY) scripts/fuzz-seeds.py --shared $(abspath $(SHARED)) --out $(FUZZ_BUILD)/fuzz/seeds
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_BUILD)/fuzz/seeds $(FUZZ_SECONDS)

format:
	@git ls-files --cached --others --exclude-standard '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
