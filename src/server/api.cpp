#include "server/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>

#include "core/json.h"
#include "server/api_internal.h"

namespace llmtune::server {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The searcher of a stored config ({"path", "config"}): name, metric, direction.
json searcher_of(const track::ExperimentRow& e) {
  const json config = e.config.is_object() ? e.config.value("config", json::object()) : json();
  const json searcher = config.is_object() ? config.value("searcher", json::object()) : json();
  std::string name = "single";
  if (searcher.is_object() && searcher.contains("name") && searcher["name"].is_string())
    name = searcher["name"];
  return {
      {"name", name}, {"metric", e.searcher_metric}, {"smaller_is_better", e.smaller_is_better}};
}

// The experiment's config: the file's text when it is still there (a regular .yaml/.yml file
// of at most kMaxSideFileBytes), else the stored config, saying which and why.
json config_of(const track::ExperimentRow& e) {
  const bool object = e.config.is_object();
  const std::string path =
      object && e.config.value("path", json()).is_string() ? e.config["path"] : "";
  json out = {{"path", path}, {"stored", object ? e.config.value("config", json()) : e.config}};
  const std::string ext = fs::path(path).extension().string();
  std::string why;
  if (path.empty()) {
    why = "the store names no config file";
  } else if (ext != ".yaml" && ext != ".yml") {
    why = "the config file is not a .yaml or .yml file";
  } else {
    const FileTail f = read_tail(path, kMaxSideFileBytes);
    if (!f.error.empty()) why = f.error;
    if (f.error.empty() && f.truncated) why = str("the file is over ", kMaxSideFileBytes, " bytes");
    if (why.empty()) {
      out["source"] = "file";
      out["text"] = f.text;
      return out;
    }
  }
  out["source"] = "store";
  out["note"] = why;
  return out;
}

}  // namespace

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double run_duration(double start, double end) {
  if (start <= 0) return 0;
  return std::max(0.0, (end > 0 ? end : seconds_now()) - start);
}

void flatten_into(const json& j, const std::string& prefix, json* out) {
  if (!j.is_object()) return;
  for (const auto& [k, v] : j.items()) {
    if (v.is_object()) {
      flatten_into(v, prefix + k + ".", out);
    } else {
      (*out)[prefix + k] = v;
    }
  }
}

json trial_summary(const track::TrialRow& t, const track::ExperimentRow& e,
                   const std::vector<track::MetricRow>& rows,
                   const std::vector<track::CheckpointRow>& checkpoints) {
  json final_training = nullptr, final_validation = nullptr;
  for (const track::MetricRow& m : rows) {
    json& last = m.group == "validation" ? final_validation : final_training;
    if (last.is_null()) last = json::object();
    last.update(m.metrics);  // the last value of each key
  }
  json hparams = json::object();
  flatten_into(t.hyperparameters, "", &hparams);
  json ckpts = json::array();
  for (const track::CheckpointRow& c : checkpoints) {
    if (c.trial_id != t.id) continue;
    ckpts.push_back({{"uuid", c.uuid},
                     {"step", c.step},
                     {"state", c.state},
                     {"path", c.path},
                     {"time", c.time},
                     {"metrics", c.metrics}});
  }
  json out = track::row_json(t);
  out["hparams"] = hparams;
  out["max_steps"] = hparams.value("training_args.max_steps", json());
  out["duration"] = run_duration(t.start_time, t.end_time);
  out["best"] = track::best_metric(rows, e.searcher_metric, e.smaller_is_better);
  out["final_training"] = final_training;
  out["final_validation"] = final_validation;
  out["checkpoints"] = ckpts;
  return out;
}

json experiment_summary(track::Store& store, const track::ExperimentRow& e) {
  const std::vector<track::TrialRow> trials = store.trials(e.id);
  const auto done = std::count_if(trials.begin(), trials.end(),
                                  [](const track::TrialRow& t) { return t.state != "ACTIVE"; });
  json out = track::row_json(e);
  out["searcher"] = searcher_of(e);
  out["trials_total"] = trials.size();
  out["trials_done"] = done;
  out["best"] =
      track::best_metric(store.metrics_since(e.id, 0, 0), e.searcher_metric, e.smaller_is_better);
  out["duration"] = run_duration(e.start_time, e.end_time);
  return out;
}

json api_experiments(track::Store& store) {
  json out = json::array();
  for (const track::ExperimentRow& e : store.experiments())
    out.push_back(experiment_summary(store, e));
  return out;
}

json api_experiment(track::Store& store, int64_t id) {
  const std::optional<track::ExperimentRow> e = store.find_experiment(id);
  if (!e) throw HttpError(404, str("no experiment ", id, " in the store"));
  json out = experiment_summary(store, *e);
  out["config"] = config_of(*e);
  std::map<int64_t, std::vector<track::MetricRow>> rows;
  for (track::MetricRow& m : store.metrics_since(id, 0, 0)) rows[m.trial_id].push_back(m);
  const std::vector<track::CheckpointRow> checkpoints = store.checkpoints(id, "step", true);
  out["trials"] = json::array();
  for (const track::TrialRow& t : store.trials(id))
    out["trials"].push_back(trial_summary(t, *e, rows[t.id], checkpoints));
  return out;
}

json api_metrics(track::Store& store, int64_t experiment_id, int64_t trial_id, int64_t after) {
  json out = {{"rows", json::array()}, {"last_id", after}, {"more", false}};
  const std::vector<track::MetricRow> rows =
      store.metrics_since(experiment_id, trial_id, after, kMetricRowsPerResponse + 1);
  for (const track::MetricRow& m : rows) {
    if (static_cast<int64_t>(out["rows"].size()) == kMetricRowsPerResponse) {
      out["more"] = true;
      break;
    }
    out["rows"].push_back({{"id", m.id},
                           {"trial_id", m.trial_id},
                           {"group", m.group},
                           {"step", m.step},
                           {"time", m.time},
                           {"metrics", m.metrics}});
    out["last_id"] = m.id;
  }
  return out;
}

json api_demo_summary(const std::string& runs) {
  const fs::path path = fs::absolute(runs).lexically_normal().parent_path() / "demo_summary.json";
  const FileTail f = read_tail(path.string(), kMaxSideFileBytes);
  if (!f.error.empty() || f.truncated) {  // not a demo's runs directory: nothing to show
    return {{"path", path.string()},
            {"rows", nullptr},
            {"note", f.truncated ? str("over ", kMaxSideFileBytes, " bytes") : f.error}};
  }
  json rows;
  try {
    rows = json_parse(f.text, path.string());
  } catch (const Error& e) {
    throw HttpError(500, e.what());
  }
  if (!rows.is_array()) throw HttpError(500, str(path.string(), " is not a JSON array"));
  return {{"path", path.string()}, {"rows", rows}};
}

namespace {

// `text` as a whole decimal integer of at most 18 digits, or nothing.
std::optional<int64_t> whole_integer(const std::string& text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || text.size() > 18 || ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return v;
}

// The start of a request's text for an error message.
std::string quoted(const std::string& text) {
  return "'" + text.substr(0, 40) + (text.size() > 40 ? "...'" : "'");
}

}  // namespace

int64_t parse_id(const std::string& text, const std::string& what) {
  const std::optional<int64_t> v = whole_integer(text);
  if (!v || *v <= 0)
    throw HttpError(400, str(what, " id must be a positive integer, not ", quoted(text)));
  return *v;
}

int64_t parse_cursor(const std::string& text) {
  if (text.empty()) return 0;
  const std::optional<int64_t> v = whole_integer(text);
  if (!v || *v < 0) {
    throw HttpError(400, str("`after` must be a row id (an integer >= 0), not ", quoted(text)));
  }
  return *v;
}

}  // namespace llmtune::server
