#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "core/checksum.h"
#include "core/error.h"
#include "core/files.h"
#include "core/json.h"
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
constexpr const char* kManifest = "manifest.json";
constexpr const char* kManifestFormat = "llmtune-checkpoint-manifest-1";

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
  return path_join(checkpoint, kZeroDir);
}

std::string piece_key(const char* kind, const parallel::ShardPiece& p) {
  return str(kind, ".", p.name, "@", p.begin);
}

// Whether the optimizer state is partitioned over several ranks.
bool sharded(parallel::ZeroEngine& engine) {
  return engine.comm().world_size() > 1 && engine.options().stage >= 1;
}

// Runs `part`, this rank's share of writing a checkpoint, then agrees with every rank on whether
// all shares succeeded, where a barrier was: a rank whose share failed throws its own error and
// the others one that says so, so that no rank waits at the next collective for one that gave
// up (a full disk on rank 0 would otherwise hang the rest of the job).
void together(parallel::ZeroEngine& engine, const std::string& what,
              const std::function<void()>& part) {
  std::exception_ptr error;
  try {
    part();
  } catch (...) {
    error = std::current_exception();
  }
  parallel::Communicator& comm = engine.comm();
  if (comm.world_size() > 1) {
    Tensor failed = Tensor::from_f32({error ? 1.0f : 0.0f}, {1});
    comm.all_reduce(failed);
    if (!error && failed.item() > 0) {
      throw Error(str(static_cast<int>(failed.item()), " rank(s) failed while ", what,
                      " (their error is in the job's output); the previous checkpoints are kept"));
    }
  }
  if (error) std::rethrow_exception(error);
}

// Where checkpoint_export writes: `out` without a trailing slash, refused when it exists, when
// its temporary twin (out.partial) exists, or when it lies inside the checkpoint it copies.
std::string export_target(const std::string& dir, const std::string& out) {
  fs::path target = fs::path(out).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "new/" -> "new"
  if (target.empty() || target == ".") throw Error("--out needs the path of a new directory");
  std::error_code ec;
  const std::string t = target.string();
  if (fs::exists(t, ec)) throw Error(str(t, " exists; export writes a new directory"));
  if (fs::exists(t + kPartial, ec)) {
    throw Error(str(t + kPartial, " exists (an export that did not finish, or something of yours);",
                    " remove it or choose another --out"));
  }
  const fs::path source = fs::weakly_canonical(fs::absolute(dir), ec);
  const fs::path inside = fs::weakly_canonical(fs::absolute(target), ec);
  if (std::mismatch(source.begin(), source.end(), inside.begin(), inside.end()).first ==
      source.end()) {
    throw Error(str("--out ", out, " lies inside the checkpoint ", dir,
                    ", which export copies; choose a directory outside it"));
  }
  return t;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// Every regular file under `dir` but the manifest, as '/'-separated relative paths, sorted.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = e.path().lexically_relative(dir).generic_string();
    if (rel != kManifest) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// manifest.json: each file's size and CRC32C, written last, so that resuming can tell a
// checkpoint whose files were truncated or damaged after it was saved.
void manifest_write(const std::string& dir) {
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& rel : files_under(dir)) {
    const FileChecksum c = file_checksum(path_join(dir, rel));
    files[rel] = {{"bytes", c.bytes}, {"crc32c", hex32(c.crc32c)}};
  }
  const nlohmann::json manifest = {{"format", kManifestFormat}, {"files", files}};
  write_file_atomic(path_join(dir, kManifest), manifest.dump(1) + "\n");
}

// The failure of a checkpoint that was not saved, with the checkpoint the run still has.
std::string save_failure(const std::string& output_dir, const std::string& final_dir, int64_t step,
                         const std::string& why) {
  std::vector<int64_t> done = checkpoint_steps(output_dir);
  std::erase_if(done, [&](int64_t s) { return s >= step; });
  const std::string before =
      done.empty() ? "no earlier checkpoint exists, so the run starts from the beginning"
                   : str(checkpoint_dir(output_dir, done.back()),
                         " is the last complete checkpoint, intact, and the run resumes from it");
  return str("checkpoint ", final_dir, " was not saved: ", why, ". Nothing of it was kept; ",
             before, ". Free space on the disk if it is full, then resume the run");
}

}  // namespace

std::string checkpoint_dir(const std::string& output_dir, int64_t step) {
  return path_join(output_dir, kPrefix + std::to_string(step));
}

namespace {

// This rank's optimizer moments (its shard, or all of them on rank 0 unsharded) and, on rank 0,
// train_state.json, trainer_state.json and `files`, into the checkpoint's temporary directory.
void write_optimizer_and_state(const std::string& tmp, parallel::ZeroEngine& engine,
                               AdamW& optimizer, const nlohmann::json& train_state,
                               const nlohmann::json& trainer_state,
                               const std::vector<std::string>& files) {
  parallel::Communicator& comm = engine.comm();
  const bool main = comm.rank() == 0;
  const bool shards = sharded(engine);
  std::error_code ec;
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
    io::safetensors_write(path_join(zero_dir(tmp), rank_file(comm.rank(), comm.world_size())),
                          moments);
  } else if (main) {
    io::safetensors_write(path_join(tmp, kOptimizer), moments);
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
      for (const parallel::ShardPiece& p : engine.trainable())
        layout["parameters"].push_back({{"name", p.name}, {"shape", p.shape}});
      write_file_atomic(path_join(zero_dir(tmp), kLayout), layout.dump(1) + "\n");
    }
    write_file_atomic(path_join(tmp, kTrainState), state.dump(2) + "\n");
    write_file_atomic(path_join(tmp, "trainer_state.json"), trainer_state.dump(2) + "\n");
    for (const std::string& f : files) {
      fs::copy_file(f, fs::path(tmp) / fs::path(f).filename(), fs::copy_options::overwrite_existing,
                    ec);
      if (ec) throw Error(str("cannot copy ", f, " into checkpoint ", tmp, ": ", ec.message()));
    }
  }
}

// checkpoint_save's work: every file into `final_dir`.partial, then the rename.
void checkpoint_write(const std::string& output_dir, const std::string& final_dir,
                      model::LlamaModel& model, parallel::ZeroEngine& engine, AdamW& optimizer,
                      const nlohmann::json& train_state, const nlohmann::json& trainer_state,
                      const std::vector<std::string>& files) {
  parallel::Communicator& comm = engine.comm();
  const bool main = comm.rank() == 0;
  const bool shards = sharded(engine);
  const std::string tmp = final_dir + kPartial;
  std::error_code ec;
  together(engine, "creating " + tmp, [&] {
    if (!main) return;
    fs::remove_all(tmp, ec);
    fs::create_directories(shards ? fs::path(tmp) / kZeroDir : fs::path(tmp), ec);
    if (ec) throw Error(str("cannot create checkpoint directory ", tmp, ": ", ec.message()));
  });
  engine.gather_all();
  std::exception_ptr model_error;  // the gathered parameters are released whatever happens
  try {
    if (main && model.has_lora()) io::adapter_save(model, tmp);
    if (main && !model.has_lora()) io::model_save(model, tmp);
  } catch (...) {
    model_error = std::current_exception();
  }
  engine.release_all();
  together(engine, "writing " + tmp, [&] {
    if (model_error) std::rethrow_exception(model_error);
    write_optimizer_and_state(tmp, engine, optimizer, train_state, trainer_state, files);
  });
  // The last agreement: every rank goes on only once the checkpoint exists.
  together(engine, "renaming " + tmp + " to " + final_dir, [&] {
    if (!main) return;
    manifest_write(tmp);
    if (shards) sync_dir(path_join(tmp, kZeroDir));
    sync_dir(tmp);
    fs::remove_all(final_dir, ec);
    fs::rename(tmp, final_dir, ec);
    if (ec) throw Error(str("cannot rename ", tmp, " to ", final_dir, ": ", ec.message()));
    sync_dir(output_dir);
  });
}

}  // namespace

std::string checkpoint_save(const std::string& output_dir, int64_t step, model::LlamaModel& model,
                            parallel::ZeroEngine& engine, AdamW& optimizer,
                            const nlohmann::json& train_state, const nlohmann::json& trainer_state,
                            const std::vector<std::string>& files) {
  const std::string final_dir = checkpoint_dir(output_dir, step);
  if (file_exists(path_join(final_dir, kTrainState))) {  // every rank sees the same
    throw Error(str(final_dir,
                    " exists and is complete; llmtune never overwrites a checkpoint. "
                    "The run went back to an earlier step than its checkpoints: "
                    "move the later ones away to train from there again"));
  }
  try {
    checkpoint_write(output_dir, final_dir, model, engine, optimizer, train_state, trainer_state,
                     files);
  } catch (const Error& e) {
    std::error_code ec;
    if (engine.comm().rank() == 0) fs::remove_all(final_dir + kPartial, ec);  // give space back
    if (dynamic_cast<const OutOfMemory*>(&e) != nullptr) throw;
    throw Error(save_failure(output_dir, final_dir, step, e.what()));
  }
  return final_dir;
}

bool checkpoint_verify(const std::string& dir) {
  const std::string path = path_join(dir, kManifest);
  if (!file_exists(path)) return false;
  const nlohmann::json manifest = read_json(path);
  const auto damaged = [&](const std::string& what) {
    return Error(str(what, "; the checkpoint ", dir,
                     " is damaged: restore the file, or move the checkpoint away"));
  };
  if (!manifest.is_object() || manifest.value("format", "") != kManifestFormat ||
      !manifest.contains("files") || !manifest["files"].is_object()) {
    throw damaged(str(path, ": not a ", kManifestFormat, " with a \"files\" object"));
  }
  for (const auto& [rel, entry] : manifest["files"].items()) {
    const fs::path relative(rel);
    if (rel.empty() || relative.is_absolute() ||
        std::find(relative.begin(), relative.end(), "..") != relative.end() || !entry.is_object() ||
        !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() ||
        !entry.contains("crc32c") || !entry["crc32c"].is_string()) {
      throw damaged(str(path, ": the entry \"", rel, "\" is not a file's bytes and crc32c"));
    }
    const std::string file = path_join(dir, rel);
    std::error_code ec;
    const uint64_t bytes = fs::file_size(file, ec);
    if (ec) throw damaged(str(file, " is missing (", path, " lists it)"));
    const uint64_t want = entry["bytes"].get<uint64_t>();
    if (bytes != want) {
      throw damaged(str(file, " has ", bytes, " bytes where ", path, " records ", want,
                        bytes < want ? " (truncated)" : ""));
    }
    const std::string crc = hex32(file_checksum(file).crc32c);
    if (crc != entry["crc32c"].get<std::string>()) {
      throw damaged(str(file, ": CRC32C ", crc, " differs from ",
                        entry["crc32c"].get<std::string>(), " recorded in ", path));
    }
  }
  return true;
}

nlohmann::json checkpoint_state(const std::string& dir) {
  const std::string path = path_join(dir, kTrainState);
  if (!file_exists(path)) {
    throw Error(str(dir, " is not a complete llmtune checkpoint (no ", kTrainState, ")"));
  }
  const nlohmann::json state = read_json(path);
  const auto bad = [&](const std::string& field, const std::string& why) {
    return Error(str(path, ": \"", field, "\" ", why,
                     "; the file was edited or damaged: restore it, or move the checkpoint away"));
  };
  if (!state.is_object()) throw bad("(the whole file)", "is not a JSON object");
  const auto integer = [&](const nlohmann::json& obj, const std::string& field, int64_t min,
                           const std::string& prefix = "") {
    const auto it = obj.find(field);
    if (it == obj.end()) throw bad(prefix + field, "is missing");
    if (!it->is_number_integer() || it->get<int64_t>() < min)
      throw bad(prefix + field, str("is ", it->dump(), ", not an integer of at least ", min));
    return it->get<int64_t>();
  };
  const int64_t step = integer(state, "step", 0);
  if (integer(state, "optimizer_steps", 0) > step)
    throw bad("optimizer_steps", str("is more than the step ", step));
  if (!state.contains("seed") || !state["seed"].is_number_unsigned())
    throw bad("seed", "is missing or not a non-negative integer");
  integer(state, "batch_size", 1);
  integer(state, "accumulation", 1);
  integer(state, "world_size", 1);
  if (state.contains("zero")) {
    const nlohmann::json& zero = state["zero"];
    if (!zero.is_object() || (zero.contains("sharded") && !zero["sharded"].is_boolean()))
      throw bad("zero", "is not an object with a boolean \"sharded\"");
    if (zero.value("sharded", false)) {
      integer(zero, "world_size", 1, "zero.");
      integer(zero, "stage", 0, "zero.");
    }
  }
  if (state.contains("loss_scaler") && !state["loss_scaler"].is_object())
    throw bad("loss_scaler", "is not an object");
  fs::path name = fs::path(dir).lexically_normal();
  if (name.filename().empty()) name = name.parent_path();  // "checkpoint-4/"
  const int64_t named = step_of(name.filename().string());
  if (named >= 0 && named != step) {
    throw Error(str(path, ": \"step\" is ", step, " but the directory is ", kPrefix, named,
                    "; the checkpoint was edited or copied from elsewhere: restore it, or move it "
                    "away (a trial then resumes from its checkpoint before)"));
  }
  return state;
}

void checkpoint_check_ranks(const std::string& dir, const nlohmann::json& state, int world) {
  const nlohmann::json zero = state.value("zero", nlohmann::json::object());
  const int64_t saved_world = zero.value("world_size", int64_t{1});
  if (zero.value("sharded", false) && saved_world != world) {
    throw Error(str(dir, " holds optimizer state partitioned over ", saved_world,
                    " ranks (ZeRO stage ", zero.value("stage", 0), ") and this run has ", world,
                    "; resume it with mpirun -np ", saved_world,
                    ", or consolidate it first: llmtune checkpoint export ", dir, " --out DIR"));
  }
}

void checkpoint_load(const std::string& dir, const nlohmann::json& state, model::LlamaModel& model,
                     parallel::ZeroEngine& engine, AdamW& optimizer) {
  parallel::Communicator& comm = engine.comm();
  checkpoint_check_ranks(dir, state, comm.world_size());
  const bool shards = state.value("zero", nlohmann::json::object()).value("sharded", false);
  engine.gather_all();
  if (model.has_lora()) {
    io::adapter_load_weights(model, dir);
  } else {
    io::model_load_weights(model, dir);
  }
  engine.keep_gathered();
  engine.release_all();
  const auto file = io::SafetensorsFile::open(
      shards ? path_join(zero_dir(dir), rank_file(comm.rank(), comm.world_size()))
             : path_join(dir, kOptimizer));
  const auto& pieces = engine.pieces();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const parallel::ShardPiece& piece = pieces[i];
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
}

namespace {

// One parameter's moments as the ranks' pieces fill them in, and which elements each filled.
struct WholeMoments {
  Shape shape;
  Tensor m, v;
  std::vector<std::pair<int64_t, int64_t>> pieces[2];  // [begin, end) of exp_avg, exp_avg_sq
};

// zero/layout.json: the world size and every trainable parameter's name and shape.
std::vector<std::pair<std::string, WholeMoments>> layout_read(const std::string& dir, int* world) {
  const std::string layout_path = path_join(zero_dir(dir), kLayout);
  const nlohmann::json layout = read_json(layout_path);
  *world = json_get<int32_t>(layout, "world_size", layout_path);
  if (*world < 1 || !layout.contains("parameters") || !layout["parameters"].is_array()) {
    throw Error(str(layout_path, ": needs \"world_size\" >= 1 and a \"parameters\" list"));
  }
  std::vector<std::pair<std::string, WholeMoments>> out;
  for (const nlohmann::json& p : layout["parameters"]) {
    WholeMoments w;
    const std::string name = json_get<std::string>(p, "name", layout_path);
    if (!p.contains("shape") || !p["shape"].is_array())
      throw Error(str(layout_path, ": parameter ", name, " needs a \"shape\" list"));
    for (const nlohmann::json& d : p["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40))
        throw Error(
            str(layout_path, ": parameter ", name, " has an impossible shape ", p["shape"].dump()));
      w.shape.push_back(d.get<int64_t>());
    }
    const int64_t n = shape_numel(w.shape);
    w.m = Tensor::zeros({n}, DType::F32);
    w.v = Tensor::zeros({n}, DType::F32);
    out.emplace_back(name, std::move(w));
  }
  return out;
}

// Copies rank `r`'s pieces ("exp_avg.NAME@BEGIN") into their parameters' moments.
void rank_pieces_read(const std::string& dir, int r, int world,
                      std::map<std::string, WholeMoments*>& whole) {
  const std::string path = path_join(zero_dir(dir), rank_file(r, world));
  if (!file_exists(path)) {
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
    int64_t begin = -1;
    const std::string digits = e.name.substr(at + 1);
    std::from_chars(digits.data(), digits.data() + digits.size(), begin);
    WholeMoments& w = *it->second;
    if (begin < 0 || src.numel() > w.m.numel() || begin > w.m.numel() - src.numel() ||
        src.dtype() != DType::F32) {
      throw Error(str(path, ": \"", e.name, "\" (", src.numel(), " ", dtype_name(src.dtype()),
                      " elements at ", digits, ") lies outside its parameter"));
    }
    const int k = kind == "exp_avg" ? 0 : 1;
    (k == 0 ? w.m : w.v).narrow(0, begin, src.numel()).copy_(src.view({src.numel()}));
    w.pieces[k].emplace_back(begin, begin + src.numel());
  }
}

// Each element of each moment came from exactly one piece: no hole, no overlap.
void coverage_check(const std::string& dir, const std::string& name, WholeMoments& w) {
  for (auto& pieces : w.pieces) {
    std::sort(pieces.begin(), pieces.end());
    int64_t next = 0;
    for (const auto& [b, e] : pieces) {
      if (b != next) {
        throw Error(str(dir, ": the ranks' optimizer pieces of ", name,
                        b < next ? " overlap at element " : " leave a hole at element ",
                        std::min(b, next), "; the checkpoint is damaged or incomplete"));
      }
      next = e;
    }
    if (next != w.m.numel()) {
      throw Error(str(dir, ": the ranks' files hold ", next, " of ", w.m.numel(),
                      " optimizer elements of ", name, "; the checkpoint is incomplete"));
    }
  }
}

// The checkpoint's files, with the consolidated moments and an unsharded state, written under
// a temporary name and renamed to `target` when complete.
void export_write(const std::string& dir, const std::string& target, nlohmann::json state,
                  const io::NamedTensors& moments) {
  const std::string tmp = target + kPartial;
  std::error_code ec;
  fs::create_directory(tmp, ec);
  if (ec) throw Error(str("cannot create ", tmp, ": ", ec.message()));
  try {
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name == kZeroDir || name == kTrainState || name == kManifest) continue;
      fs::copy(e.path(), fs::path(tmp) / e.path().filename(), fs::copy_options::recursive, ec);
      if (ec) throw Error(str("cannot copy ", e.path().string(), " to ", tmp, ": ", ec.message()));
    }
    io::safetensors_write(path_join(tmp, kOptimizer), moments);
    state["zero"]["sharded"] = false;
    state["zero"]["exported_from"] = fs::absolute(dir).string();
    write_file_atomic(path_join(tmp, kTrainState), state.dump(2) + "\n");
    manifest_write(tmp);
    sync_dir(tmp);
    fs::rename(tmp, target, ec);
    if (ec) throw Error(str("cannot rename ", tmp, " to ", target, ": ", ec.message()));
  } catch (...) {
    fs::remove_all(tmp, ec);  // ours: created above, so nothing of the user's is in it
    throw;
  }
}

}  // namespace

void checkpoint_export(const std::string& dir, const std::string& out) {
  const nlohmann::json state = checkpoint_state(dir);
  if (!state.value("zero", nlohmann::json::object()).value("sharded", false)) {
    throw Error(str(dir,
                    " is not sharded (one rank, or ZeRO stage 0 wrote it): it resumes with "
                    "any number of ranks as it is"));
  }
  const std::string target = export_target(dir, out);
  int world = 0;
  std::vector<std::pair<std::string, WholeMoments>> params = layout_read(dir, &world);
  std::map<std::string, WholeMoments*> by_name;
  for (auto& [name, w] : params) by_name[name] = &w;
  for (int r = 0; r < world; ++r) rank_pieces_read(dir, r, world, by_name);
  io::NamedTensors moments;
  for (auto& [name, w] : params) {
    coverage_check(dir, name, w);
    moments.emplace_back("exp_avg." + name, w.m.view(w.shape));
    moments.emplace_back("exp_avg_sq." + name, w.v.view(w.shape));
  }
  export_write(dir, target, state, moments);
}

std::vector<int64_t> checkpoint_steps(const std::string& output_dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const int64_t s = e.is_directory() ? step_of(e.path().filename().string()) : -1;
    if (s >= 0 && file_exists((e.path() / kTrainState).string())) steps.push_back(s);
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

}  // namespace llmtune::train
