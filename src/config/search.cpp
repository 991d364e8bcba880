// The hyperparameter search (single, grid as Determined's grid searcher, random with Philox) and
// the settings of one trial.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_map>

#include "config/experiment.h"
#include "config/fields.h"
#include "config/keys.h"
#include "core/error.h"
#include "core/philox.h"

namespace llmtune::config {

using nlohmann::json;

namespace {

// One searched hyperparameter: where it sits in the point and its typed form.
struct Axis {
  json::json_pointer ptr;
  std::string key;  // dotted, for messages
  json spec;
};

// Lists a map's keys in the order they were written (nlohmann::json keeps them sorted).
class KeyOrder {
 public:
  explicit KeyOrder(const std::vector<KeyOrigin>& keys) {
    for (size_t i = 0; i < keys.size(); ++i) index_.emplace(keys[i].key, i);
  }
  std::vector<std::string> of(const json& map, const std::string& prefix) const {
    std::vector<std::pair<size_t, std::string>> order;
    for (const auto& [name, v] : map.items()) {
      const auto it = index_.find(key_join(prefix, name));
      order.emplace_back(it == index_.end() ? index_.size() : it->second, name);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& [i, name] : order) out.push_back(std::move(name));
    return out;
  }

 private:
  std::unordered_map<std::string, size_t> index_;
};

void axes_collect(const json& map, const json::json_pointer& ptr, const std::string& key,
                  const KeyOrder& order, std::vector<Axis>& out) {
  for (const std::string& name : order.of(map, key)) {
    const json& v = map[name];
    if (hp_is_typed(v)) {
      out.push_back({ptr / name, key_join(key, name), v});
    } else if (v.is_object()) {
      axes_collect(v, ptr / name, key_join(key, name), order, out);
    }
  }
}

std::string type_of(const Axis& a) {
  return a.spec["type"].get<std::string>();
}

// Determined's grid: count points from minval to maxval inclusive (the midpoint for one), ints
// rounded and at most one per integer; log spaces the exponents.
std::vector<json> grid_values(const Axis& a, const Locator& loc) {
  const std::string type = type_of(a);
  if (type == "const") return {a.spec["val"]};
  if (type == "categorical") return std::vector<json>(a.spec["vals"].begin(), a.spec["vals"].end());
  if (!a.spec.contains("count") || a.spec["count"].is_null()) {
    throw Error(str(loc.at(a.key), ": ", a.key, " is ", type,
                    " without a count; a grid searcher needs count: N"));
  }
  int64_t count = read_int(a.spec["count"], a.key + ".count", loc);
  const double lo = a.spec["minval"].get<double>(), hi = a.spec["maxval"].get<double>();
  if (type == "int") count = std::min<int64_t>(count, static_cast<int64_t>(hi - lo) + 1);
  std::vector<json> out;
  for (int64_t i = 0; i < count; ++i) {
    const double x =
        count == 1 ? (lo + hi) / 2.0 : lo + i * (hi - lo) / static_cast<double>(count - 1);
    if (type == "int") {
      out.push_back(static_cast<int64_t>(std::round(x)));
    } else if (type == "log") {
      out.push_back(std::pow(a.spec["base"].get<double>(), x));
    } else {
      out.push_back(x);
    }
  }
  return out;
}

// Uniform in [0, 1) with 53 random bits from two consecutive words of the stream.
double unit_draw(const PhiloxStream& rng, uint64_t& word) {
  const uint64_t hi = rng.bits(word++) >> 5, lo = rng.bits(word++) >> 6;
  return static_cast<double>(hi * 67108864ull + lo) * (1.0 / 9007199254740992.0);
}

json random_value(const Axis& a, const PhiloxStream& rng, uint64_t& word) {
  const std::string type = type_of(a);
  if (type == "const") return a.spec["val"];
  const double u = unit_draw(rng, word);
  if (type == "categorical") {
    const size_t n = a.spec["vals"].size();
    return a.spec["vals"][std::min(n - 1, static_cast<size_t>(u * static_cast<double>(n)))];
  }
  const double lo = a.spec["minval"].get<double>(), hi = a.spec["maxval"].get<double>();
  if (type == "int") {
    const int64_t n = static_cast<int64_t>(hi - lo) + 1;
    return static_cast<int64_t>(lo) +
           std::min(n - 1, static_cast<int64_t>(u * static_cast<double>(n)));
  }
  const double x = lo + u * (hi - lo);
  return type == "log" ? std::pow(a.spec["base"].get<double>(), x) : x;
}

// A value that trial_config can use: a const form gives its val; a searched one is an error.
const json& concrete(const json& v, const std::string& key, const Locator& loc) {
  if (!hp_is_typed(v)) return v;
  if (v["type"] == "const" && v.contains("val")) return v["val"];
  throw Error(str(loc.at(key), ": ", key, " is ", v["type"].dump(),
                  "; a trial needs one point of the search (search_points)"));
}

}  // namespace

std::vector<json> search_points(const ExperimentConfig& experiment, uint64_t seed) {
  const Locator loc(experiment.path.empty() ? "<config>" : experiment.path, experiment.keys);
  const json& hp = read_map(experiment.hyperparameters, "hyperparameters", loc);
  std::vector<Axis> axes;
  axes_collect(hp, json::json_pointer(), "hyperparameters", KeyOrder(experiment.keys), axes);
  const std::string& name = experiment.searcher.name;

  std::vector<json> points;
  if (name == "single") {
    json point = hp;
    for (const Axis& a : axes) {
      if (type_of(a) != "const") {
        throw Error(str(loc.at(a.key), ": ", a.key, " is ", type_of(a),
                        "; a single searcher needs constants: use grid or random"));
      }
      point[a.ptr] = a.spec["val"];
    }
    points.push_back(std::move(point));
  } else if (name == "grid") {
    std::vector<std::vector<json>> values;
    size_t total = 1;
    for (const Axis& a : axes) {
      values.push_back(grid_values(a, loc));
      total *= values.back().size();
      if (total > 100000) {
        throw Error(str(loc.at(a.key), ": the grid has more than 100000 points; lower the counts"));
      }
    }
    for (size_t i = 0; i < total; ++i) {  // the first axis varies slowest
      json point = hp;
      size_t rest = i;
      for (size_t k = axes.size(); k-- > 0;) {
        point[axes[k].ptr] = values[k][rest % values[k].size()];
        rest /= values[k].size();
      }
      points.push_back(std::move(point));
    }
  } else if (name == "random" || name == "adaptive_asha") {
    for (int64_t t = 0; t < experiment.searcher.max_trials; ++t) {
      const PhiloxStream rng(seed, static_cast<uint64_t>(t));
      uint64_t word = 0;
      json point = hp;
      for (const Axis& a : axes) point[a.ptr] = random_value(a, rng, word);
      points.push_back(std::move(point));
    }
  } else {
    throw Error(str(loc.at("searcher.name"), ": searcher.name: unknown searcher '", name,
                    "' (single, grid, random or adaptive_asha)"));
  }
  return points;
}

int64_t length_batches(const ExperimentConfig& experiment, const TrainingArgs& args, int64_t world,
                       const Length& length) {
  if (length.value <= 0) return 0;
  if (length.unit == "batches") return length.value;
  LLMTUNE_CHECK(length.unit == "records" || experiment.records_per_epoch > 0,
                "a length in epochs needs records_per_epoch (checked when the config is read)");
  const int64_t records =
      length.unit == "epochs" ? length.value * experiment.records_per_epoch : length.value;
  const int64_t global =
      args.per_device_train_batch_size * args.gradient_accumulation_steps * world;
  return std::max<int64_t>(1, (records + global - 1) / global);
}

TrialConfig trial_config(const ExperimentConfig& experiment, const json& hyperparameters,
                         int64_t world_size) {
  const Locator loc(experiment.path.empty() ? "<config>" : experiment.path, experiment.keys);
  if (world_size < 1) throw Error(str("trial_config: world size ", world_size, " must be >= 1"));
  const json& point = read_map(hyperparameters, "hyperparameters", loc);
  TrialConfig t;
  t.hyperparameters = point;
  for (const auto& [name, raw] : point.items()) {
    const std::string key = "hyperparameters." + name;
    const json& v = concrete(raw, key, loc);
    if (name == "training_args") {
      for (const auto& [n, av] : read_map(v, key, loc).items()) {
        const std::string k = key_join(key, n);
        training_arg_set(t.training_args, n, concrete(av, k, loc), k, loc);
      }
    } else {
      trial_field_set(t, name, v, key, loc);
    }
  }
  if (t.model.empty()) {
    fail_at(loc, "hyperparameters", "'model' is required: the directory of a Hugging Face model");
  }
  if (t.tokenizer.empty()) t.tokenizer = t.model;

  TrainingArgs& args = t.training_args;
  training_args_check(args, "hyperparameters.training_args", loc);
  if (args.max_steps <= 0 && experiment.searcher.max_length.value > 0) {
    args.max_steps = length_batches(experiment, args, world_size, experiment.searcher.max_length);
  }
  if (!args.deepspeed.empty()) {
    namespace fs = std::filesystem;
    fs::path ds(args.deepspeed);
    if (ds.is_relative()) ds = fs::path(experiment.path).parent_path() / ds;
    if (!fs::is_regular_file(ds)) {
      fail_at(loc, "hyperparameters.training_args.deepspeed",
              str("DeepSpeed config '", ds.string(), "' not found (a relative path is read from ",
                  "the experiment file's directory)"));
    }
    t.deepspeed = deepspeed_load(ds.string(), args, world_size);
  }
  return t;
}

int64_t TrainingArgs::warmup_steps_for(int64_t total_steps) const {
  if (warmup_steps > 0) return warmup_steps;
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

}  // namespace llmtune::config
