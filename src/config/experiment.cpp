// Reading an experiment file: YAML to JSON, --set overrides, then the Determined sections
// (searcher, resources, checkpoint_storage and the rest) and the hyperparameters, checked.
#include "config/experiment.h"

#include <algorithm>

#include "config/fields.h"
#include "config/keys.h"
#include "core/error.h"

namespace llmtune::config {

using nlohmann::json;

namespace {

const std::vector<std::string_view> kTopKeys = {
    "name", "description", "hyperparameters", "searcher", "resources", "max_restarts",
    "checkpoint_storage", "min_validation_period", "min_checkpoint_period", "records_per_epoch",
    "scheduling_unit", "checkpoint_policy", "reproducibility",
    // Determined cluster settings: accepted with a notice.
    "environment", "entrypoint", "debug", "workspace", "project", "labels", "bind_mounts", "data",
    "profiling", "optimizations"};
const std::vector<std::string_view> kTopClusterKeys = {
    "environment", "entrypoint",  "debug", "workspace", "project",
    "labels",      "bind_mounts", "data",  "profiling", "optimizations"};
const std::vector<std::string_view> kResourceKeys = {
    "slots_per_trial", "resource_pool", "max_slots", "priority", "weight", "shm_size"};
const std::vector<std::string_view> kSearcherKeys = {"name",
                                                     "metric",
                                                     "smaller_is_better",
                                                     "max_length",
                                                     "max_trials",
                                                     "max_concurrent_trials",
                                                     "source_trial_id",
                                                     "source_checkpoint_uuid",
                                                     "mode",
                                                     "divisor",
                                                     "max_rungs",
                                                     "stop_once",
                                                     "bracket_rungs"};
const std::vector<std::string_view> kStorageKeys = {"type",
                                                    "host_path",
                                                    "storage_path",
                                                    "container_path",
                                                    "propagation",
                                                    "save_experiment_best",
                                                    "save_trial_best",
                                                    "save_trial_latest"};
const std::vector<std::string_view> kLengthKeys = {"batches", "records", "epochs"};

std::string cluster_notice(const std::string& key) {
  return key + ": only meaningful on a Determined cluster; ignored";
}

std::string label_of(const std::string& path) {
  return path.empty() ? "<config>" : path;
}

// "a.b.c=value": the value is read as YAML, so `=false`, `=8`, `=[8, 16]` and
// `={type: categorical, vals: [8, 16]}` are typed; missing parents are created.
void override_apply(json& root, std::vector<KeyOrigin>& keys, const std::string& text) {
  const std::string origin = "--set " + text;
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Error(str("bad ", origin, ": expected key.path=value, e.g. --set ",
                    "hyperparameters.training_args.max_steps=100"));
  }
  const std::string path = text.substr(0, eq);
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const std::string& p : parts) {
    if (p.empty() || p.find_first_of(" \t[]") != std::string::npos) {
      throw Error(str("bad ", origin, ": '", path, "' is not a dotted key path (a.b.c)"));
    }
  }
  YamlJson value;
  try {
    value = yaml_to_json(text.substr(eq + 1), "value");
  } catch (const Error& e) {
    throw Error(str("bad ", origin, ": ", e.what()));
  }

  json* node = &root;
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix = key_join(prefix, parts[i]);
    if (!node->contains(parts[i])) {
      (*node)[parts[i]] = json::object();
      keys.push_back({prefix, origin});
    } else if (!(*node)[parts[i]].is_object()) {
      throw Error(str("bad ", origin, ": '", prefix, "' is ", describe((*node)[parts[i]]),
                      ", not a map of keys"));
    }
    node = &(*node)[parts[i]];
  }
  (*node)[parts.back()] = value.value;

  // The key keeps its place in the written order; what was below it is replaced.
  std::erase_if(keys, [&](const KeyOrigin& k) {
    return k.key.size() > path.size() && k.key.starts_with(path) &&
           (k.key[path.size()] == '.' || k.key[path.size()] == '[');
  });
  auto it =
      std::find_if(keys.begin(), keys.end(), [&](const KeyOrigin& k) { return k.key == path; });
  if (it != keys.end()) {
    it->origin = origin;
  } else {
    keys.push_back({path, origin});
  }
  for (const KeyOrigin& k : value.keys) {
    keys.push_back({path + (k.key.starts_with("[") ? "" : ".") + k.key, origin});
  }
}

// {batches: N}, {records: N}, {epochs: N}, or N batches.
Length length_read(const json& v, const std::string& key, const Locator& loc) {
  Length l;
  if (!v.is_object()) {
    l.value = read_int(v, key, loc);
  } else {
    check_keys(v, key, kLengthKeys, loc);
    if (v.size() != 1)
      fail_at(loc, key, "expected one unit: {batches: N}, {records: N} or {epochs: N}");
    l.unit = v.begin().key();
    l.value = read_int(v.begin().value(), key + "." + l.unit, loc);
  }
  if (l.value < 1) fail_at(loc, key, str("must be >= 1 ", l.unit));
  return l;
}

// The adaptive_asha keys: refused for another searcher, checked for adaptive_asha, which also
// needs max_length (its rungs are fractions of it).
void asha_parse(const json& sj, const Locator& loc, Searcher& s) {
  static const std::vector<std::string_view> kAshaKeys = {"mode", "divisor", "max_rungs",
                                                          "stop_once", "bracket_rungs"};
  for (std::string_view k : kAshaKeys) {
    if (sj.contains(k) && s.name != "adaptive_asha") {
      fail_at(loc, str("searcher.", k),
              str("applies to the adaptive_asha searcher only, not ", s.name));
    }
  }
  if (s.name != "adaptive_asha") return;
  if (s.max_length.value < 1) {
    fail_at(loc, "searcher",
            "'max_length' is required for adaptive_asha: {batches: N}, {records: N} or "
            "{epochs: N}");
  }
  if (sj.contains("bracket_rungs")) {
    fail_at(loc, "searcher.bracket_rungs", "is not supported; choose the brackets with mode");
  }
  if (sj.contains("mode")) {
    s.mode = read_string(sj["mode"], "searcher.mode", loc);
    static const std::vector<std::string_view> kModes = {"aggressive", "standard", "conservative"};
    if (std::find(kModes.begin(), kModes.end(), s.mode) == kModes.end()) {
      fail_at(loc, "searcher.mode",
              str("'", s.mode, "' is not one of aggressive, standard, conservative"));
    }
  }
  if (sj.contains("divisor")) {
    s.divisor = read_int(sj["divisor"], "searcher.divisor", loc);
    if (s.divisor < 2) fail_at(loc, "searcher.divisor", "must be >= 2");
  }
  if (sj.contains("max_rungs")) {
    s.max_rungs = read_int(sj["max_rungs"], "searcher.max_rungs", loc);
    if (s.max_rungs < 1) fail_at(loc, "searcher.max_rungs", "must be >= 1");
  }
  if (sj.contains("stop_once")) s.stop_once = read_bool(sj["stop_once"], "searcher.stop_once", loc);
}

Searcher searcher_parse(const json& root, const Locator& loc, std::vector<std::string>& notices) {
  Searcher s;
  if (!root.contains("searcher")) return s;
  const json& sj = read_map(root["searcher"], "searcher", loc);
  if (!sj.contains("name")) fail_at(loc, "searcher", "'name' is required: single, grid or random");
  s.name = read_string(sj["name"], "searcher.name", loc);
  static const std::vector<std::string_view> kNames = {"single", "grid", "random", "adaptive_asha"};
  static const std::vector<std::string_view> kDetermined = {
      "adaptive", "adaptive_simple", "async_halving", "sync_halving", "pbt", "custom"};
  if (std::find(kDetermined.begin(), kDetermined.end(), s.name) != kDetermined.end()) {
    fail_at(loc, "searcher.name",
            str(s.name, " is not supported; use adaptive_asha, grid or random"));
  }
  if (std::find(kNames.begin(), kNames.end(), s.name) == kNames.end()) {
    const std::string near = key_closest(s.name, kNames);
    fail_at(loc, "searcher.name",
            str("unknown searcher '", s.name, "' (single, grid, random or adaptive_asha)",
                near.empty() ? "" : str("; did you mean '", near, "'?")));
  }
  check_keys(sj, "searcher", kSearcherKeys, loc);
  if (sj.contains("metric")) {
    s.metric = read_string(sj["metric"], "searcher.metric", loc);
    // What the trials report on the validation split, and so what checkpoints are kept by.
    static const std::vector<std::string_view> kMetrics = {"eval_loss", "eval_accuracy",
                                                           "eval_bleu"};
    if (std::find(kMetrics.begin(), kMetrics.end(), s.metric) == kMetrics.end()) {
      const std::string near = key_closest(s.metric, kMetrics);
      fail_at(loc, "searcher.metric",
              str("'", s.metric, "' is not a metric trials report (eval_loss, eval_accuracy or ",
                  "eval_bleu)", near.empty() ? "" : str("; did you mean '", near, "'?")));
    }
  }
  if (sj.contains("smaller_is_better")) {
    s.smaller_is_better = read_bool(sj["smaller_is_better"], "searcher.smaller_is_better", loc);
  }
  if (sj.contains("max_length") && !sj["max_length"].is_null()) {
    s.max_length = length_read(sj["max_length"], "searcher.max_length", loc);
  }
  if (sj.contains("max_trials")) {
    s.max_trials = read_int(sj["max_trials"], "searcher.max_trials", loc);
    if (s.max_trials < 1) fail_at(loc, "searcher.max_trials", "must be >= 1");
  } else if (s.name == "random" || s.name == "adaptive_asha") {
    fail_at(loc, "searcher", str("'max_trials' is required for the ", s.name, " searcher"));
  }
  if (sj.contains("max_concurrent_trials")) {
    s.max_concurrent_trials =
        read_int(sj["max_concurrent_trials"], "searcher.max_concurrent_trials", loc);
    if (s.max_concurrent_trials < 0) fail_at(loc, "searcher.max_concurrent_trials", "must be >= 0");
  }
  for (const char* k : {"source_trial_id", "source_checkpoint_uuid"}) {
    if (sj.contains(k)) {
      notices.push_back(str("searcher.", k, ": starting from another trial's checkpoint is not ",
                            "supported; ignored"));
    }
  }
  asha_parse(sj, loc, s);
  return s;
}

int64_t resources_parse(const json& root, const Locator& loc, std::vector<std::string>& notices) {
  if (!root.contains("resources")) return 1;
  const json& r = read_map(root["resources"], "resources", loc);
  check_keys(r, "resources", kResourceKeys, loc);
  int64_t slots = 1;
  for (const auto& [name, v] : r.items()) {
    if (name == "slots_per_trial") {
      slots = read_int(v, "resources.slots_per_trial", loc);
      if (slots < 1) fail_at(loc, "resources.slots_per_trial", "must be >= 1");
    } else {
      notices.push_back(cluster_notice("resources." + name));
    }
  }
  return slots;
}

CheckpointStorage storage_parse(const json& root, const Locator& loc,
                                std::vector<std::string>& notices) {
  CheckpointStorage c;
  if (!root.contains("checkpoint_storage")) return c;
  const std::string key = "checkpoint_storage";
  const json& s = read_map(root[key], key, loc);
  check_keys(s, key, kStorageKeys, loc);
  if (s.contains("type")) c.type = read_string(s["type"], key + ".type", loc);
  if (c.type != "shared_fs" && c.type != "directory") {
    fail_at(loc, key + ".type",
            str("'", c.type, "' is not supported: llmtune keeps checkpoints in a local or shared ",
                "directory (shared_fs or directory)"));
  }
  if (s.contains("host_path")) c.host_path = read_string(s["host_path"], key + ".host_path", loc);
  if (s.contains("storage_path")) {
    c.storage_path = read_string(s["storage_path"], key + ".storage_path", loc);
  }
  if (s.contains("container_path")) {
    const std::string p = read_string(s["container_path"], key + ".container_path", loc);
    if (c.type == "directory") {
      c.host_path = p;  // a directory store has only the path
    } else {
      notices.push_back(cluster_notice(key + ".container_path"));
    }
  }
  if (s.contains("propagation")) notices.push_back(cluster_notice(key + ".propagation"));
  auto count = [&](const char* name, int64_t& out) {
    if (!s.contains(name)) return;
    out = read_int(s[name], str(key, ".", name), loc);
    if (out < 0) fail_at(loc, str(key, ".", name), "must be >= 0");
  };
  count("save_experiment_best", c.save_experiment_best);
  count("save_trial_best", c.save_trial_best);
  count("save_trial_latest", c.save_trial_latest);
  return c;
}

// Keys Determined accepts that change nothing here, checked for shape only, and
// reproducibility.experiment_seed, returned (0 when not given).
int64_t others_check(const json& root, const Locator& loc) {
  for (const char* k : {"min_validation_period", "min_checkpoint_period"}) {
    if (root.contains(k) && !root[k].is_null()) length_read(root[k], k, loc);
  }
  if (root.contains("scheduling_unit")) read_int(root["scheduling_unit"], "scheduling_unit", loc);
  if (root.contains("checkpoint_policy")) {
    const std::string p = read_string(root["checkpoint_policy"], "checkpoint_policy", loc);
    if (p != "best" && p != "all" && p != "none") {
      fail_at(loc, "checkpoint_policy", str("'", p, "' is not one of best, all, none"));
    }
  }
  if (root.contains("reproducibility") && !root["reproducibility"].is_null()) {
    const json& r = read_map(root["reproducibility"], "reproducibility", loc);
    check_keys(r, "reproducibility", {"experiment_seed"}, loc);
    if (r.contains("experiment_seed")) {
      return read_int(r["experiment_seed"], "reproducibility.experiment_seed", loc);
    }
  }
  return 0;
}

// records_per_epoch: the training set's size, which a length in epochs needs (Determined asks
// for it with DeepSpeed trials; llmtune counts lengths before any trial has read its data).
int64_t records_per_epoch_read(const json& root, const Searcher& s, const Locator& loc) {
  int64_t n = 0;
  if (root.contains("records_per_epoch") && !root["records_per_epoch"].is_null()) {
    n = read_int(root["records_per_epoch"], "records_per_epoch", loc);
    if (n < 1) fail_at(loc, "records_per_epoch", "must be >= 1");
  }
  if (s.max_length.unit == "epochs" && n == 0) {
    fail_at(loc, "searcher.max_length.epochs",
            "a length in epochs needs records_per_epoch, the number of training samples, at the "
            "top of the config (`llmtune data stats` counts them), or write {batches: N}");
  }
  return n;
}

// Keys valid one level down, suggested for a top-level key that belongs there ("model:").
std::vector<std::string> nested_keys() {
  std::vector<std::string> out;
  for (std::string_view n : hyperparameter_names()) out.push_back(str("hyperparameters.", n));
  for (std::string_view n : kResourceKeys) out.push_back(str("resources.", n));
  for (std::string_view n : kSearcherKeys) out.push_back(str("searcher.", n));
  return out;
}

// Determined's HF callback logs a mismatch between the searcher length and max_steps.
void max_length_notice(ExperimentConfig& e) {
  const json& hp = e.hyperparameters;
  if (e.searcher.max_length.unit != "batches" || e.searcher.max_length.value <= 0 ||
      !hp.contains("training_args"))
    return;
  const json& ta = hp["training_args"];
  if (!ta.is_object() || !ta.contains("max_steps") || !ta["max_steps"].is_number()) return;
  const int64_t max_steps = ta["max_steps"].get<int64_t>();
  if (max_steps > 0 && max_steps != e.searcher.max_length.value) {
    e.notices.push_back(str("searcher.max_length (", e.searcher.max_length.value,
                            " batches) differs from hyperparameters.training_args.max_steps (",
                            max_steps, "); a trial trains max_steps steps"));
  }
}

}  // namespace

ExperimentConfig experiment_load(const std::string& path,
                                 const std::vector<std::string>& overrides) {
  const Activity activity("reading the experiment config " + path);
  return experiment_parse(read_text_file(path, "experiment file"), path, overrides);
}

ExperimentConfig experiment_parse(const std::string& yaml, const std::string& path,
                                  const std::vector<std::string>& overrides) {
  const std::string label = label_of(path);
  YamlJson doc = yaml_to_json(yaml, label);
  if (doc.value.is_null()) doc.value = json::object();
  if (!doc.value.is_object()) {
    throw Error(str(label, ":1: an experiment config is a map of keys (name, hyperparameters, ",
                    "searcher, ...), not ", describe(doc.value)));
  }
  for (const std::string& o : overrides) override_apply(doc.value, doc.keys, o);

  ExperimentConfig e;
  e.path = path;
  e.raw = std::move(doc.value);
  e.keys = std::move(doc.keys);
  const Locator loc(label, e.keys);
  const json& root = e.raw;

  check_keys(root, "", kTopKeys, loc, nested_keys());
  for (const auto& [name, v] : root.items()) {
    if (std::find(kTopClusterKeys.begin(), kTopClusterKeys.end(), name) != kTopClusterKeys.end()) {
      e.notices.push_back(cluster_notice(name));
    }
  }
  if (root.contains("name")) e.name = read_string(root["name"], "name", loc);
  if (root.contains("description") && !root["description"].is_null()) {
    e.description = read_string(root["description"], "description", loc);
  }
  if (root.contains("max_restarts")) {
    e.max_restarts = read_int(root["max_restarts"], "max_restarts", loc);
    if (e.max_restarts < 0) fail_at(loc, "max_restarts", "must be >= 0");
  }
  e.slots_per_trial = resources_parse(root, loc, e.notices);
  e.searcher = searcher_parse(root, loc, e.notices);
  e.checkpoint_storage = storage_parse(root, loc, e.notices);
  e.experiment_seed = others_check(root, loc);
  e.records_per_epoch = records_per_epoch_read(root, e.searcher, loc);

  if (!root.contains("hyperparameters")) {
    throw Error(str(label, ": 'hyperparameters' is required (at least hyperparameters.model)"));
  }
  hyperparameters_check(root["hyperparameters"], loc, e.notices);
  e.hyperparameters = root["hyperparameters"];
  max_length_notice(e);
  search_points(e, 0);  // a single searcher over a searched value, a grid axis without a count
  return e;
}

}  // namespace llmtune::config
