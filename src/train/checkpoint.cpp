#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "io/files.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"

namespace llmtune::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "checkpoint-";
constexpr const char* kPartial = ".partial";
constexpr const char* kOptimizer = "optimizer.safetensors";
constexpr const char* kTrainState = "train_state.json";

// The step of a complete checkpoint directory name, or -1.
int64_t step_of(const std::string& name) {
  if (!name.starts_with(kPrefix)) return -1;
  const std::string digits = name.substr(std::char_traits<char>::length(kPrefix));
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoll(digits);
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string checkpoint_dir(const std::string& output_dir, int64_t step) {
  return io::path_join(output_dir, kPrefix + std::to_string(step));
}

std::string checkpoint_save(const std::string& output_dir, int64_t step, model::LlamaModel& model,
                            AdamW& optimizer, const nlohmann::json& train_state,
                            const nlohmann::json& trainer_state,
                            const std::vector<std::string>& files) {
  const std::string final_dir = checkpoint_dir(output_dir, step);
  const std::string tmp = final_dir + kPartial;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error(str("cannot create checkpoint directory ", tmp, ": ", ec.message()));
  if (model.has_lora()) {
    io::adapter_save(model, tmp);
  } else {
    io::model_save(model, tmp);
  }
  io::NamedTensors moments;
  const auto& params = optimizer.params();
  for (size_t i = 0; i < params.size(); ++i) {
    moments.emplace_back("exp_avg." + params[i].name, optimizer.exp_avg(i));
    moments.emplace_back("exp_avg_sq." + params[i].name, optimizer.exp_avg_sq(i));
  }
  io::safetensors_write(io::path_join(tmp, kOptimizer), moments);
  nlohmann::json state = train_state;
  state["optimizer_steps"] = optimizer.steps();
  io::write_file_atomic(io::path_join(tmp, kTrainState), state.dump(2) + "\n");
  io::write_file_atomic(io::path_join(tmp, "trainer_state.json"), trainer_state.dump(2) + "\n");
  for (const std::string& f : files) {
    fs::copy_file(f, fs::path(tmp) / fs::path(f).filename(), fs::copy_options::overwrite_existing,
                  ec);
    if (ec) throw Error(str("cannot copy ", f, " into checkpoint ", tmp, ": ", ec.message()));
  }
  sync_dir(tmp);
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) throw Error(str("cannot rename ", tmp, " to ", final_dir, ": ", ec.message()));
  sync_dir(output_dir);
  return final_dir;
}

nlohmann::json checkpoint_load(const std::string& dir, model::LlamaModel& model, AdamW& optimizer) {
  const std::string state_path = io::path_join(dir, kTrainState);
  if (!io::file_exists(state_path)) {
    throw Error(str(dir, " is not a complete llmtune checkpoint (no ", kTrainState, ")"));
  }
  nlohmann::json state = io::read_json(state_path);
  if (model.has_lora()) {
    io::adapter_load_weights(model, dir);
  } else {
    io::model_load_weights(model, dir);
  }
  const auto file = io::SafetensorsFile::open(io::path_join(dir, kOptimizer));
  const auto& params = optimizer.params();
  for (size_t i = 0; i < params.size(); ++i) {
    for (const bool second : {false, true}) {
      const std::string name = (second ? "exp_avg_sq." : "exp_avg.") + params[i].name;
      if (file->find(name) == nullptr) {
        throw Error(str(file->path(), ": no optimizer state \"", name,
                        "\"; the checkpoint was written for another model or training mode"));
      }
      Tensor& dst = second ? optimizer.exp_avg_sq(i) : optimizer.exp_avg(i);
      const Tensor src = file->tensor(name);
      if (src.shape() != dst.shape() || src.dtype() != DType::F32) {
        throw Error(str(file->path(), ": optimizer state \"", name, "\" is ",
                        shape_str(src.shape()), "; the model needs ", shape_str(dst.shape()),
                        " F32"));
      }
      dst.copy_(src);
    }
  }
  optimizer.set_steps(state.at("optimizer_steps").get<int64_t>());
  return state;
}

std::vector<int64_t> checkpoint_steps(const std::string& output_dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const int64_t s = e.is_directory() ? step_of(e.path().filename().string()) : -1;
    if (s >= 0 && io::file_exists((e.path() / kTrainState).string())) steps.push_back(s);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

int64_t checkpoint_remove_partial(const std::string& output_dir) {
  int64_t removed = 0;
  std::error_code ec;
  std::vector<fs::path> partial;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(kPrefix) && name.ends_with(kPartial)) partial.push_back(e.path());
  }
  for (const fs::path& p : partial) removed += fs::remove_all(p, ec) > 0;
  return removed;
}

std::vector<int64_t> checkpoints_to_delete(std::vector<CheckpointScore> cs, int64_t keep_latest,
                                           int64_t keep_best, bool smaller_is_better) {
  std::set<int64_t> keep;
  std::sort(cs.begin(), cs.end(), [](const auto& a, const auto& b) { return a.step > b.step; });
  for (int64_t i = 0; i < std::min<int64_t>(keep_latest, static_cast<int64_t>(cs.size())); ++i) {
    keep.insert(cs[i].step);
  }
  std::vector<CheckpointScore> scored;
  for (const auto& c : cs) {
    if (c.has_metric) scored.push_back(c);
  }
  std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
    return smaller_is_better ? a.metric < b.metric : a.metric > b.metric;
  });
  for (int64_t i = 0; i < std::min<int64_t>(keep_best, static_cast<int64_t>(scored.size())); ++i) {
    keep.insert(scored[i].step);
  }
  std::vector<int64_t> out;
  for (const auto& c : cs) {
    if (!keep.count(c.step)) out.push_back(c.step);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace llmtune::train
