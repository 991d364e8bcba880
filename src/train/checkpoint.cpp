#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
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

constexpr const char* kZeroDir = "zero";
constexpr const char* kLayout = "layout.json";

std::string rank_file(int rank, int world) {
  char name[64];
  std::snprintf(name, sizeof name, "optimizer-rank-%05d-of-%05d.safetensors", rank, world);
  return name;
}

std::string zero_dir(const std::string& checkpoint) {
  return io::path_join(checkpoint, kZeroDir);
}

std::string piece_key(const char* kind, const dist::ShardPiece& p) {
  return str(kind, ".", p.name, "@", p.begin);
}

// Whether the optimizer state is partitioned over several ranks.
bool sharded(dist::ZeroEngine& engine) {
  return engine.comm().world_size() > 1 && engine.options().stage >= 1;
}

void barrier(dist::ZeroEngine& engine) {
  if (engine.comm().world_size() > 1) engine.comm().barrier();
}

}  // namespace

std::string checkpoint_dir(const std::string& output_dir, int64_t step) {
  return io::path_join(output_dir, kPrefix + std::to_string(step));
}

std::string checkpoint_save(const std::string& output_dir, int64_t step, model::LlamaModel& model,
                            dist::ZeroEngine& engine, AdamW& optimizer,
                            const nlohmann::json& train_state, const nlohmann::json& trainer_state,
                            const std::vector<std::string>& files) {
  dist::Communicator& comm = engine.comm();
  const bool main = comm.rank() == 0;
  const bool shards = sharded(engine);
  const std::string final_dir = checkpoint_dir(output_dir, step);
  const std::string tmp = final_dir + kPartial;
  std::error_code ec;
  if (main) {
    fs::remove_all(tmp, ec);
    fs::create_directories(shards ? fs::path(tmp) / kZeroDir : fs::path(tmp), ec);
    if (ec) throw Error(str("cannot create checkpoint directory ", tmp, ": ", ec.message()));
  }
  barrier(engine);
  engine.gather_all();
  if (main) {
    if (model.has_lora()) {
      io::adapter_save(model, tmp);
    } else {
      io::model_save(model, tmp);
    }
  }
  engine.release_all();
  io::NamedTensors moments;
  const auto& params = optimizer.params();
  const auto& pieces = engine.pieces();
  for (size_t i = 0; i < params.size(); ++i) {
    moments.emplace_back(shards ? piece_key("exp_avg", pieces[i]) : "exp_avg." + params[i].name,
                         optimizer.exp_avg(i));
    moments.emplace_back(
        shards ? piece_key("exp_avg_sq", pieces[i]) : "exp_avg_sq." + params[i].name,
        optimizer.exp_avg_sq(i));
  }
  if (shards) {
    io::safetensors_write(io::path_join(zero_dir(tmp), rank_file(comm.rank(), comm.world_size())),
                          moments);
  } else if (main) {
    io::safetensors_write(io::path_join(tmp, kOptimizer), moments);
  }
  if (main) {
    nlohmann::json state = train_state;
    state["optimizer_steps"] = optimizer.steps();
    state["zero"] = {
        {"stage", engine.options().stage}, {"world_size", comm.world_size()}, {"sharded", shards}};
    if (shards) {
      nlohmann::json layout = {{"world_size", comm.world_size()},
                               {"stage", engine.options().stage},
                               {"parameters", nlohmann::json::array()}};
      for (const dist::ShardPiece& p : engine.trainable())
        layout["parameters"].push_back({{"name", p.name}, {"shape", p.shape}});
      io::write_file_atomic(io::path_join(zero_dir(tmp), kLayout), layout.dump(1) + "\n");
    }
    io::write_file_atomic(io::path_join(tmp, kTrainState), state.dump(2) + "\n");
    io::write_file_atomic(io::path_join(tmp, "trainer_state.json"), trainer_state.dump(2) + "\n");
    for (const std::string& f : files) {
      fs::copy_file(f, fs::path(tmp) / fs::path(f).filename(), fs::copy_options::overwrite_existing,
                    ec);
      if (ec) throw Error(str("cannot copy ", f, " into checkpoint ", tmp, ": ", ec.message()));
    }
  }
  barrier(engine);  // every rank's part is written
  if (main) {
    if (shards) sync_dir(io::path_join(tmp, kZeroDir));
    sync_dir(tmp);
    fs::remove_all(final_dir, ec);
    fs::rename(tmp, final_dir, ec);
    if (ec) throw Error(str("cannot rename ", tmp, " to ", final_dir, ": ", ec.message()));
    sync_dir(output_dir);
  }
  barrier(engine);  // nobody goes on before the checkpoint exists
  return final_dir;
}

nlohmann::json checkpoint_load(const std::string& dir, model::LlamaModel& model,
                               dist::ZeroEngine& engine, AdamW& optimizer) {
  const std::string state_path = io::path_join(dir, kTrainState);
  if (!io::file_exists(state_path)) {
    throw Error(str(dir, " is not a complete llmtune checkpoint (no ", kTrainState, ")"));
  }
  nlohmann::json state = io::read_json(state_path);
  const nlohmann::json zero = state.value("zero", nlohmann::json::object());
  const bool shards = zero.value("sharded", false);
  const int64_t saved_world = zero.value("world_size", int64_t{1});
  dist::Communicator& comm = engine.comm();
  if (shards && saved_world != comm.world_size()) {
    throw Error(str(dir, " holds optimizer state partitioned over ", saved_world,
                    " ranks (ZeRO stage ", zero.value("stage", 0), ") and this run has ",
                    comm.world_size(), "; resume it with mpirun -np ", saved_world,
                    ", or consolidate it first: llmtune checkpoint export ", dir, " --out DIR"));
  }
  engine.gather_all();
  if (model.has_lora()) {
    io::adapter_load_weights(model, dir);
  } else {
    io::model_load_weights(model, dir);
  }
  engine.keep_gathered();
  engine.release_all();
  const auto file = io::SafetensorsFile::open(
      shards ? io::path_join(zero_dir(dir), rank_file(comm.rank(), comm.world_size()))
             : io::path_join(dir, kOptimizer));
  const auto& pieces = engine.pieces();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const dist::ShardPiece& piece = pieces[i];
    for (const bool second : {false, true}) {
      const char* kind = second ? "exp_avg_sq" : "exp_avg";
      const std::string name = shards ? piece_key(kind, piece) : str(kind, ".", piece.name);
      if (file->find(name) == nullptr) {
        throw Error(str(file->path(), ": no optimizer state \"", name,
                        "\"; the checkpoint was written for another model or training mode"));
      }
      Tensor src = file->tensor(name);
      const int64_t want = shards ? piece.count : piece.numel();
      if (src.numel() != want || src.dtype() != DType::F32) {
        throw Error(str(file->path(), ": optimizer state \"", name, "\" is ",
                        shape_str(src.shape()), " ", dtype_name(src.dtype()), "; the model needs ",
                        want, " F32 elements"));
      }
      src = src.view({src.numel()}).narrow(0, shards ? 0 : piece.begin, piece.count);
      Tensor dst = (second ? optimizer.exp_avg_sq(i) : optimizer.exp_avg(i)).view({piece.count});
      dst.copy_(src);
    }
  }
  optimizer.set_steps(state.at("optimizer_steps").get<int64_t>());
  return state;
}

void checkpoint_export(const std::string& dir, const std::string& out) {
  const std::string state_path = io::path_join(dir, kTrainState);
  if (!io::file_exists(state_path)) {
    throw Error(str(dir, " is not a complete llmtune checkpoint (no ", kTrainState, ")"));
  }
  nlohmann::json state = io::read_json(state_path);
  if (!state.value("zero", nlohmann::json::object()).value("sharded", false)) {
    throw Error(str(dir,
                    " is not sharded (one rank, or ZeRO stage 0 wrote it): it resumes with "
                    "any number of ranks as it is"));
  }
  if (fs::exists(out)) throw Error(str(out, " exists; export writes a new directory"));
  const nlohmann::json layout = io::read_json(io::path_join(zero_dir(dir), kLayout));
  const int world = layout.at("world_size").get<int>();
  struct Whole {
    Tensor m, v;
    int64_t covered = 0;
  };
  std::map<std::string, Whole> whole;
  std::vector<std::pair<std::string, Shape>> order;
  for (const nlohmann::json& p : layout.at("parameters")) {
    const Shape shape = p.at("shape").get<Shape>();
    const std::string name = p.at("name").get<std::string>();
    const int64_t n = shape_numel(shape);
    whole[name] = {Tensor::zeros({n}, DType::F32), Tensor::zeros({n}, DType::F32), 0};
    order.emplace_back(name, shape);
  }
  for (int r = 0; r < world; ++r) {
    const std::string path = io::path_join(zero_dir(dir), rank_file(r, world));
    if (!io::file_exists(path)) {
      throw Error(str(dir, " lacks rank ", r, "'s optimizer state (", path,
                      "): the checkpoint is incomplete"));
    }
    const auto file = io::SafetensorsFile::open(path);
    for (const io::SafetensorsEntry& e : file->entries()) {
      const size_t dot = e.name.find('.'), at = e.name.rfind('@');
      const std::string kind = e.name.substr(0, dot);
      const std::string name = e.name.substr(dot + 1, at - dot - 1);
      const auto it = whole.find(name);
      if (dot == std::string::npos || at == std::string::npos || it == whole.end() ||
          (kind != "exp_avg" && kind != "exp_avg_sq")) {
        throw Error(str(path, ": unexpected tensor \"", e.name, "\""));
      }
      const Tensor src = file->tensor(e.name);
      const int64_t begin = std::stoll(e.name.substr(at + 1));
      Whole& w = it->second;
      if (begin < 0 || begin + src.numel() > w.m.numel()) {
        throw Error(str(path, ": \"", e.name, "\" lies outside its parameter"));
      }
      Tensor dst = (kind == "exp_avg" ? w.m : w.v).narrow(0, begin, src.numel());
      dst.copy_(src.view({src.numel()}));
      if (kind == "exp_avg") w.covered += src.numel();
    }
  }
  io::NamedTensors moments;
  for (const auto& [name, shape] : order) {
    const Whole& w = whole[name];
    if (w.covered != w.m.numel()) {
      throw Error(str(dir, ": the ranks' files hold ", w.covered, " of ", w.m.numel(),
                      " optimizer elements of ", name, "; the checkpoint is incomplete"));
    }
    moments.emplace_back("exp_avg." + name, w.m.view(shape));
    moments.emplace_back("exp_avg_sq." + name, w.v.view(shape));
  }
  const std::string tmp = out + kPartial;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error(str("cannot create ", tmp, ": ", ec.message()));
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename() == kZeroDir || e.path().filename() == kTrainState) continue;
    fs::copy(e.path(), fs::path(tmp) / e.path().filename(), fs::copy_options::recursive, ec);
    if (ec) throw Error(str("cannot copy ", e.path().string(), " to ", tmp, ": ", ec.message()));
  }
  io::safetensors_write(io::path_join(tmp, kOptimizer), moments);
  state["zero"]["sharded"] = false;
  state["zero"]["exported_from"] = fs::absolute(dir).string();
  io::write_file_atomic(io::path_join(tmp, kTrainState), state.dump(2) + "\n");
  sync_dir(tmp);
  fs::rename(tmp, out, ec);
  if (ec) throw Error(str("cannot rename ", tmp, " to ", out, ": ", ec.message()));
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
