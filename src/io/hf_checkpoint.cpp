#include "io/hf_checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"

namespace llmtune::io {

namespace {

constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";

// Tensors some checkpoints carry that the model does not use and that change nothing.
bool ignorable(const std::string& name, bool tied) {
  return name.ends_with("rotary_emb.inv_freq") || (tied && name == "lm_head.weight");
}

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i, n);
  return buf;
}

// Whether `inside` is `dir` or lies below it (both canonical).
bool path_within(const std::filesystem::path& inside, const std::filesystem::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), inside.begin(), inside.end()).first == dir.end();
}

// The path of the shard that `index` maps `key` to: a plain file name in `dir`, and when it is a
// symbolic link, one that stays in `dir` or (a Hugging Face hub cache, whose snapshots link to
// ../../blobs/HASH) in the blobs directory beside the snapshots. An index from elsewhere must not
// make llmtune read /etc/passwd or another model's files as weights.
std::string shard_path(const std::string& dir, const std::string& index, const std::string& key,
                       const std::string& file) {
  namespace fs = std::filesystem;
  const auto refuse = [&](const std::string& why) {
    return Error(str(index, ": weight_map[\"", key, "\"] names \"", file, "\", ", why,
                     "; a shard must be a file in the model directory: fix the index"));
  };
  if (file.empty() || file == "." || file == ".." ||
      file.find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
    throw refuse("which is not a plain file name (no directories, .. or absolute paths)");
  }
  const std::string p = path_join(dir, file);
  std::error_code ec;
  if (!fs::is_symlink(p, ec)) return p;
  const fs::path home = fs::canonical(dir, ec);
  const fs::path target = fs::canonical(p, ec);
  if (ec) return p;  // a dangling link: reading it reports the file as missing
  const fs::path blobs = home.parent_path().parent_path() / "blobs";
  const bool hub_cache =
      home.parent_path().filename() == "snapshots" && target.parent_path() == blobs;
  if (!path_within(target, home) && !hub_cache) {
    throw refuse(str("a symbolic link to ", target.string(), ", outside the model directory"));
  }
  return p;
}

}  // namespace

WeightSet WeightSet::open(const std::string& dir) {
  WeightSet w;
  w.dir_ = dir;
  const std::string index = path_join(dir, kIndex);
  if (file_exists(index)) {
    const nlohmann::json j = read_json(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      throw Error(str(index, ": missing the \"weight_map\" object"));
    }
    for (auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string())
        throw Error(str(index, ": weight_map[\"", name, "\"] is not a file name"));
      const std::string f = file.get<std::string>();
      if (!w.files_.count(f)) {
        const std::string p = shard_path(dir, index, name, f);
        if (!file_exists(p))
          throw Error(str(index, " lists shard ", f, " but ", p, " does not exist"));
        w.files_[f] = SafetensorsFile::open(p);
      }
      if (w.files_[f]->find(name) == nullptr) {
        throw Error(str(index, " maps \"", name, "\" to ", f, ", which does not contain it"));
      }
      w.where_[name] = f;
    }
    return w;
  }
  const std::string single = path_join(dir, kSingle);
  if (!file_exists(single)) {
    throw Error(str(dir, ": no ", kSingle, " or ", kIndex,
                    " (llmtune reads safetensors weights; convert .bin checkpoints first)"));
  }
  w.files_[kSingle] = SafetensorsFile::open(single);
  for (const SafetensorsEntry& e : w.files_[kSingle]->entries()) w.where_[e.name] = kSingle;
  return w;
}

std::vector<std::string> WeightSet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : where_) out.push_back(name);
  return out;
}

Tensor WeightSet::get(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw Error(str(dir_, ": no tensor named \"", name, "\""));
  return files_.at(it->second)->tensor(name);
}

const std::string& WeightSet::file_of(const std::string& name) const {
  return where_.at(name);
}

namespace {

void load_weights(model::LlamaModel& model, const WeightSet& weights, const std::string& dir) {
  const bool tied = model.config().tie_word_embeddings;
  std::map<std::string, bool> used;
  for (model::ParamRef& p : model.parameters()) {
    if (p.name.find("lora_") != std::string::npos) continue;
    if (!weights.contains(p.name)) {
      throw Error(str(dir, ": tensor \"", p.name, "\" ", shape_str(p.value->shape()),
                      " is missing; the weights do not belong to this config.json"));
    }
    const Tensor src = weights.get(p.name);
    const std::string file = path_join(dir, weights.file_of(p.name));
    if (src.shape() != p.value->shape()) {
      throw Error(str(file, ": tensor \"", p.name, "\" has shape ", shape_str(src.shape()),
                      " but config.json implies ", shape_str(p.value->shape())));
    }
    if (src.dtype() == DType::I32) {
      throw Error(str(file, ": tensor \"", p.name, "\" is I32; weights must be F32, BF16 or F16"));
    }
    p.value->copy_(src);  // converts to the model's dtype
    used[p.name] = true;
  }
  for (const std::string& name : weights.names()) {
    if (used.count(name) || ignorable(name, tied)) continue;
    throw Error(str(path_join(dir, weights.file_of(name)), ": unexpected tensor \"", name,
                    "\"; it is not part of a ", model.config().architecture,
                    " with this config.json"));
  }
}

}  // namespace

void model_load_weights(model::LlamaModel& model, const std::string& dir) {
  load_weights(model, WeightSet::open(dir), dir);
}

std::unique_ptr<model::LlamaModel> model_load(const std::string& dir,
                                              const model::ModelOptions& options) {
  const Activity activity("loading the model " + dir);
  auto config = model::ModelConfig::load(path_join(dir, "config.json"));
  // Before anything is allocated: a config.json that describes far more parameters than the
  // weights hold (edited to 10,000 layers, or of another model) stops here, and so does a
  // model larger than this machine's memory. A tensor or two amiss is named precisely by the
  // load below, which allocates no more than the weights' own size.
  const WeightSet weights = WeightSet::open(dir);
  int64_t held = 0;
  for (const std::string& name : weights.names()) {
    if (!ignorable(name, config.tie_word_embeddings)) held += weights.get(name).numel();
  }
  const int64_t want = config.parameter_count();
  if (want > 2 * held + (int64_t{1} << 20)) {
    throw Error(str(dir, ": config.json describes ", want, " parameters (",
                    config.num_hidden_layers, " layers, hidden_size ", config.hidden_size,
                    ", vocab_size ", config.vocab_size, ") but the weights hold ", held,
                    "; the config and the weights are of different models"));
  }
  const double bytes =
      static_cast<double>(want) *
      static_cast<double>(dtype_size(
          options.training == model::Training::kFull ? DType::F32 : options.frozen_dtype));
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (memory > 0 && bytes > memory) {
    throw Error(str(dir, ": the model's ", want, " parameters need ", bytes / (1u << 30),
                    " GiB, more than this machine's ", memory / (1u << 30),
                    " GiB of memory; use a smaller model, or bf16 weights with LoRA"));
  }
  auto m = std::make_unique<model::LlamaModel>(config, options);
  load_weights(*m, weights, dir);
  return m;
}

void model_save(model::LlamaModel& model, const std::string& dir, const SaveOptions& options) {
  if (options.dtype == DType::I32) throw Error("model weights are saved as F32, BF16 or F16");
  std::filesystem::create_directories(dir);
  // Tensors in state-dict order, converted to the file dtype, grouped into shards.
  std::vector<NamedTensors> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for (model::ParamRef& p : model.parameters()) {
    if (p.name.find("lora_") != std::string::npos) continue;
    Tensor t = p.value->dtype() == options.dtype ? *p.value : p.value->to(options.dtype);
    const uint64_t bytes = t.nbytes();
    if (!shards.back().empty() && shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(p.name, t);
    shard_bytes += bytes;
    total += bytes;
  }
  nlohmann::json config = model.config().to_json();
  config["torch_dtype"] = options.dtype == DType::F32    ? "float32"
                          : options.dtype == DType::BF16 ? "bfloat16"
                                                         : "float16";
  write_file_atomic(path_join(dir, "config.json"), json_dumps_sorted(config) + "\n");
  // Weights of an earlier save in other files would confuse readers and waste disk.
  std::vector<std::string> keep;
  for (size_t i = 0; i < shards.size(); ++i) {
    keep.push_back(shards.size() == 1 ? kSingle : shard_name(i + 1, shards.size()));
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool weights = name == kSingle || name == kIndex ||
                         (name.starts_with("model-") && name.ends_with(".safetensors"));
    if (weights && std::find(keep.begin(), keep.end(), name) == keep.end()) {
      std::filesystem::remove(entry.path());
    }
  }
  if (shards.size() == 1) {
    safetensors_write(path_join(dir, kSingle), shards[0]);
    return;
  }
  nlohmann::json index;
  index["metadata"]["total_size"] = total;
  index["weight_map"] = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = shard_name(i + 1, shards.size());
    safetensors_write(path_join(dir, name), shards[i]);
    for (const auto& [tensor, value] : shards[i]) index["weight_map"][tensor] = name;
  }
  write_file_atomic(path_join(dir, kIndex), json_dumps_sorted(index) + "\n");
}

}  // namespace llmtune::io
