// Hugging Face model directories (merged or full models) and PEFT adapter directories.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "export/export.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"

namespace llmtune::exporting {

namespace {

namespace fs = std::filesystem;

// What a model directory carries beside its weights so that it loads with its tokenizer and
// chat template (tokenizer_config.json holds the template; newer Transformers also write
// chat_template.jinja).
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",        "tokenizer.model",
                                           "tokenizer_config.json", "special_tokens_map.json",
                                           "added_tokens.json",     "chat_template.jinja"};

// A directory written as `final`.partial and renamed to `final` by commit(); destroyed
// uncommitted, it is removed with what it holds.
class PartialDir {
 public:
  explicit PartialDir(const std::string& final) : final_(final), tmp_(final + ".partial") {
    fs::create_directories(tmp_);
  }
  ~PartialDir() {
    std::error_code ec;
    if (!committed_) fs::remove_all(tmp_, ec);
  }
  PartialDir(const PartialDir&) = delete;
  PartialDir& operator=(const PartialDir&) = delete;
  const std::string& path() const { return tmp_; }
  // The names of the files inside, sorted.
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(tmp_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  void commit() {
    std::error_code ec;
    fs::rename(tmp_, final_, ec);
    if (ec) throw Error(str("cannot rename ", tmp_, " to ", final_, ": ", ec.message()));
    committed_ = true;
  }

 private:
  std::string final_, tmp_;
  bool committed_ = false;
};

bool copy_if_present(const std::string& from_dir, const std::string& name, const std::string& to) {
  const fs::path src = fs::path(from_dir) / name;
  std::error_code ec;
  if (!fs::is_regular_file(src, ec)) return false;
  fs::copy_file(src, fs::path(to) / name, ec);
  if (ec) throw Error(str("cannot copy ", src.string(), " into ", to, ": ", ec.message()));
  return true;
}

void copy_tokenizer(const ExportSource& s, const std::string& to) {
  for (const char* name : kTokenizerFiles) copy_if_present(s.tokenizer_dir, name, to);
}

// What Transformers' GenerationConfig.from_model_config keeps of config.json.
nlohmann::json generation_config(const nlohmann::json& config) {
  nlohmann::json g = {{"_from_model_config", true}};
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"}) {
    if (config.contains(key) && !config[key].is_null()) g[key] = config[key];
  }
  return g;
}

}  // namespace

std::vector<std::string> export_hf(model::LlamaModel& model, const ExportSource& s,
                                   const std::string& out, const HfExportOptions& o) {
  const Activity activity("exporting " + s.checkpoint + " to " + out);
  for (model::ParamRef& p : model.parameters())
    check_weights(p.name, p.value->to_f32(), o.dtype == DType::F16);
  PartialDir dir(out);
  io::SaveOptions save;
  save.dtype = o.dtype;
  save.max_shard_bytes = o.max_shard_bytes;
  io::model_save(model, dir.path(), save);
  if (!copy_if_present(s.checkpoint, "generation_config.json", dir.path()) &&
      !copy_if_present(s.model_dir, "generation_config.json", dir.path())) {
    write_file_atomic(path_join(dir.path(), "generation_config.json"),
                      json_dumps_sorted(generation_config(model.config().to_json())) + "\n");
  }
  copy_tokenizer(s, dir.path());
  std::vector<std::string> files = dir.files();
  dir.commit();
  return files;
}

std::vector<std::string> export_adapter(const ExportSource& s, const std::string& out) {
  const Activity activity("exporting the adapter " + s.checkpoint + " to " + out);
  io::adapter_config_load(
      s.checkpoint);  // a damaged adapter fails here, before anything is written
  const std::string weights = path_join(s.checkpoint, "adapter_model.safetensors");
  io::SafetensorsFile::open(weights);
  PartialDir dir(out);
  nlohmann::json config = read_json(path_join(s.checkpoint, "adapter_config.json"));
  config["base_model_name_or_path"] = s.model_dir;  // the base it was resolved to (--base)
  write_file_atomic(path_join(dir.path(), "adapter_config.json"), json_dumps_sorted(config) + "\n");
  copy_if_present(s.checkpoint, "adapter_model.safetensors", dir.path());
  copy_tokenizer(s, dir.path());
  std::vector<std::string> files = dir.files();
  dir.commit();
  return files;
}

}  // namespace llmtune::exporting
