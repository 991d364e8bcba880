#include "cli/experiment_view.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "core/error.h"
#include "experiment/runner.h"
#include "track/store.h"

namespace llmtune::cli {

namespace {

using nlohmann::json;
using track::store_path;

std::string when(double t) {
  if (t <= 0) return "-";
  char buf[32];
  const std::time_t tt = static_cast<std::time_t>(t);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&tt));
  return buf;
}

std::string number(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
  return buf;
}

// "r=8 lora=true training_args.learning_rate=1e-05": a trial's hyperparameters on one line.
void flatten(const json& j, const std::string& prefix, std::string* out) {
  for (const auto& [k, v] : j.items()) {
    if (v.is_object()) {
      flatten(v, prefix + k + ".", out);
    } else {
      *out += (out->empty() ? "" : " ") + prefix + k + "=" +
              (v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
}

}  // namespace

std::string list_experiments(const std::string& runs, bool as_json, bool archived_too) {
  auto store = track::Store::open(store_path(runs), track::Store::Access::kReadOnly);
  json all = json::array();
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%4s  %-28s %-10s %6s  %-19s  %s\n", "id", "name", "state",
                "trials", "started", "metric");
  out += line;
  for (const track::ExperimentRow& e : store->experiments()) {
    if (e.archived && !archived_too) continue;
    const size_t trials = store->trials(e.id).size();
    all.push_back({{"id", e.id},
                   {"name", e.name},
                   {"state", e.state},
                   {"trials", trials},
                   {"start_time", e.start_time},
                   {"end_time", e.end_time},
                   {"searcher_metric", e.searcher_metric},
                   {"archived", e.archived}});
    std::snprintf(line, sizeof line, "%4lld  %-28s %-10s %6zu  %-19s  %s\n",
                  static_cast<long long>(e.id), e.name.c_str(), e.state.c_str(), trials,
                  when(e.start_time).c_str(), e.searcher_metric.c_str());
    out += line;
  }
  return as_json ? all.dump(2) + "\n" : out;
}

json describe_experiment_json(const std::string& runs, int64_t id) {
  auto store = track::Store::open(store_path(runs), track::Store::Access::kReadOnly);
  const track::ExperimentRow e = store->experiment(id);
  json j = track::row_json(e);
  j["trials"] = json::array();
  for (const track::TrialRow& t : store->trials(id)) {
    json final_training = nullptr, final_validation = nullptr;
    for (const track::MetricRow& m : store->metrics(t.id, "training")) {
      if (final_training.is_null()) final_training = json::object();
      final_training.update(m.metrics);  // the last value of each key
    }
    const std::vector<track::MetricRow> validation = store->metrics(t.id, "validation");
    if (!validation.empty()) final_validation = validation.back().metrics;
    const json best = track::best_metric(validation, e.searcher_metric, e.smaller_is_better);
    json ckpts = json::array();
    for (const track::CheckpointRow& c : store->checkpoints(id, e.searcher_metric)) {
      if (c.trial_id == t.id) {
        ckpts.push_back(
            {{"uuid", c.uuid}, {"step", c.step}, {"path", c.path}, {"metrics", c.metrics}});
      }
    }
    json row = track::row_json(t);
    row["final_training"] = final_training;
    row["final_validation"] = final_validation;
    row["best_validation"] = best;
    row["checkpoints"] = ckpts;
    j["trials"].push_back(row);
  }
  return j;
}

std::string describe_experiment(const std::string& runs, int64_t id) {
  const json j = describe_experiment_json(runs, id);
  std::string out = str(
      "experiment ", id, " \"", j["name"].get<std::string>(), "\": ", j["state"].get<std::string>(),
      ", searcher metric ", j["searcher_metric"].get<std::string>(),
      j["smaller_is_better"].get<bool>() ? " (smaller is better)\n" : " (larger is better)\n");
  for (const json& t : j["trials"]) {
    std::string hp;
    flatten(t["hyperparameters"], "", &hp);
    const double secs =
        t["final_training"].is_object() ? t["final_training"].value("train_runtime", 0.0) : 0.0;
    out += str(
        "  trial ", t["id"].get<int64_t>(), " ", t["state"].get<std::string>(), ", ",
        t["steps_completed"].get<int64_t>(), " steps",
        secs > 0 ? str(" in ", static_cast<int64_t>(secs), " s") : "",
        t["restarts"].get<int64_t>() ? str(", ", t["restarts"].get<int64_t>(), " restart(s)") : "",
        t["searcher_state"].get<std::string>().empty()
            ? ""
            : str(", ", t["searcher_state"].get<std::string>(), " at rung ",
                  t["rung"].get<int64_t>()),
        "\n    hyperparameters: ", hp, "\n");
    if (!t["final_training"].is_null()) {
      out += str("    training loss ", number(t["final_training"]["loss"]), ", learning rate ",
                 number(t["final_training"]["learning_rate"]), "\n");
    }
    if (!t["final_validation"].is_null()) {
      std::string v;
      for (const auto& [k, val] : t["final_validation"].items()) v += str(" ", k, " ", number(val));
      out += "    final validation:" + v + "\n";
    }
    if (!t["best_validation"].is_null()) {
      out += str("    best ", j["searcher_metric"].get<std::string>(), " ",
                 number(t["best_validation"]["value"]), " at step ",
                 t["best_validation"]["step"].get<int64_t>(), "\n");
    }
    for (const json& c : t["checkpoints"]) {
      out += str("    checkpoint ", c["uuid"].get<std::string>(), " step ",
                 c["step"].get<int64_t>(), "  ", c["path"].get<std::string>(), "\n");
    }
  }
  return out;
}

std::string list_checkpoints(const std::string& runs, int64_t id, const std::string& sort_by,
                             int64_t best, bool as_json) {
  auto store = track::Store::open(store_path(runs), track::Store::Access::kReadOnly);
  const track::ExperimentRow e = store->experiment(id);
  std::string key = sort_by.empty() ? e.searcher_metric : sort_by;
  std::vector<track::CheckpointRow> rows = store->checkpoints(id, key);
  const bool any_has_key =
      std::any_of(rows.begin(), rows.end(),
                  [&](const track::CheckpointRow& c) { return c.metrics.contains(key); });
  if (sort_by.empty() && !any_has_key) key = "step";  // never evaluated: by step, not an error
  if (!rows.empty() && key != "step" && key != "time" && key != "uuid" && key != "trial_id") {
    std::set<std::string> metrics;
    for (const track::CheckpointRow& c : rows)
      for (const auto& [k, v] : c.metrics.items()) metrics.insert(k);
    if (!metrics.count(key)) {
      std::string known;
      for (const std::string& m : metrics) known += (known.empty() ? "" : ", ") + m;
      throw Error(str("--sort-by ", key, ": no checkpoint of experiment ", id,
                      " has that metric; sort by one of: ", known.empty() ? "" : known + ", ",
                      "step, time, uuid, trial_id"));
    }
  }
  if (best > 0 && static_cast<int64_t>(rows.size()) > best) rows.resize(static_cast<size_t>(best));
  json all = json::array();
  std::string out = str("checkpoints of experiment ", id, " by ", key, "\n");
  char line[1024];
  std::snprintf(line, sizeof line, "%-36s %6s %6s %12s  %s\n", "uuid", "trial", "step", key.c_str(),
                "path");
  out += line;
  for (const track::CheckpointRow& c : rows) {
    all.push_back({{"uuid", c.uuid},
                   {"trial_id", c.trial_id},
                   {"step", c.step},
                   {"path", c.path},
                   {"metrics", c.metrics}});
    std::snprintf(line, sizeof line, "%-36s %6lld %6lld %12s  %s\n", c.uuid.c_str(),
                  static_cast<long long>(c.trial_id), static_cast<long long>(c.step),
                  number(c.metrics.contains(key) ? c.metrics[key] : json()).c_str(),
                  c.path.c_str());
    out += line;
  }
  return as_json ? all.dump(2) + "\n" : out;
}

}  // namespace llmtune::cli
