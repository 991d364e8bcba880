// Training checkpoints: `checkpoint-<step>/` holding the model (a Hugging Face directory) or the
// LoRA adapter (a PEFT directory), the optimizer moments (optimizer.safetensors), the trainer's
// state (train_state.json: step, optimizer steps, loss scaler, seed, data position, log
// history), Transformers' trainer_state.json and, written last, manifest.json (every other
// file's size and CRC32C, which checkpoint_verify checks). A checkpoint is written under a
// temporary name and renamed when complete, so a crash never leaves a directory that looks
// finished; when writing fails (a full disk), the temporary is removed and the checkpoints
// before are untouched.
//
// Under ZeRO stages 1-3 with several ranks the optimizer state is partitioned: each rank writes
// its pieces to zero/optimizer-rank-R-of-N.safetensors (keys exp_avg.NAME@BEGIN, where BEGIN is
// the piece's first element in the parameter's flat order) and rank 0 writes
// zero/layout.json; the model or adapter is always written whole, by rank 0 (at stage 3 the
// ranks gather it first, as stage3_gather_16bit_weights_on_model_save does). Such a checkpoint
// resumes with the same number of ranks; checkpoint_export() turns it into an unsharded one
// that resumes with any.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/llama.h"
#include "parallel/zero.h"
#include "train/adamw.h"

namespace llmtune::train {

// "<output_dir>/checkpoint-<step>".
std::string checkpoint_dir(const std::string& output_dir, int64_t step);

// Writes a checkpoint of a model whose memory `engine` holds and of the optimizer over
// engine.shard(); `files` (tokenizer files) are copied in beside the weights. Returns its
// directory. A complete checkpoint of the same step is never replaced: that throws
// llmtune::Error before anything is written. A failure to write (a full disk) throws
// llmtune::Error naming the checkpoint, the cause and the last complete checkpoint.
// Collective: every rank calls it.
std::string checkpoint_save(const std::string& output_dir, int64_t step, model::LlamaModel& model,
                            parallel::ZeroEngine& engine, AdamW& optimizer,
                            const nlohmann::json& train_state, const nlohmann::json& trainer_state,
                            const std::vector<std::string>& files = {});

// A checkpoint's train_state.json, checked before anything of it is trusted: its fields and
// their types and ranges, and its step against the directory name (checkpoint-<step>). Throws
// llmtune::Error naming the file, the field and what to do.
nlohmann::json checkpoint_state(const std::string& dir);

// Checks every file of a checkpoint against its manifest.json, written last when it was saved
// (each file's size and CRC32C). Returns false when it has none (llmtune before manifests): it
// cannot be checked. Throws llmtune::Error naming the file and what differs when a file is
// missing, truncated or damaged, or the manifest itself is.
bool checkpoint_verify(const std::string& dir);

// Throws llmtune::Error when a checkpoint's state holds optimizer state partitioned over another
// number of ranks than `world`, saying how to resume it (the same number, or export first).
void checkpoint_check_ranks(const std::string& dir, const nlohmann::json& state, int world);

// Restores the weights (model or adapter) and this rank's optimizer moments of a checkpoint
// whose checkpoint_state() is `state`. Throws llmtune::Error naming the directory when it is
// incomplete, does not fit the model, or is sharded for another number of ranks. Collective.
void checkpoint_load(const std::string& dir, const nlohmann::json& state, model::LlamaModel& model,
                     parallel::ZeroEngine& engine, AdamW& optimizer);

// Consolidates a sharded checkpoint into `out` (a new directory): the same files with the
// optimizer pieces of every rank assembled into optimizer.safetensors. Runs in one process.
// Throws llmtune::Error when a rank's file is missing or the pieces do not cover a parameter.
void checkpoint_export(const std::string& dir, const std::string& out);

// The complete checkpoints under output_dir, by step (ascending).
std::vector<int64_t> checkpoint_steps(const std::string& output_dir);
// Removes temporaries left by a run that died while saving; returns how many.
int64_t checkpoint_remove_partial(const std::string& output_dir);

}  // namespace llmtune::train
