# Thin wrapper over CMake. `make demo`, `make test` and `make bench` work on a fresh Debian machine:
# they install missing packages, configure, build and run.
BUILD ?= build
SHARED ?= ../shared
JOBS ?= $(shell nproc)
PY ?= /usr/bin/python3

.PHONY: all deps configure build test demo bench llama-cpp reference format clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DLLMTUNE_SHARED_DIR=$(abspath $(SHARED)) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
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

format:
	@git ls-files --cached --others --exclude-standard '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
