// llmtune experiment pause|activate|kill|archive|unarchive|wait ID   an experiment's lifecycle
// llmtune trial logs ID [--follow]                                   a trial's trial.log
//
// pause and kill record a request in the store that the running trial polls after each step
// and its runner reads before starting another trial (experiment/runner.h); activate continues
// a PAUSED experiment in this process, as `experiment create` runs one.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/common.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "experiment/runner.h"
#include "track/store.h"

namespace llmtune::cli {

namespace {

namespace fs = std::filesystem;
using track::Store;

constexpr auto kPoll = std::chrono::milliseconds(300);

std::unique_ptr<Store> store_of(const std::string& runs, bool write = false) {
  return Store::open(track::store_path(runs),
                     write ? Store::Access::kReadWrite : Store::Access::kReadOnly);
}

// Waits while the experiment is ACTIVE; throws unless it ended COMPLETED.
void wait_experiment(const std::string& runs, int64_t id) {
  std::string state;
  while ((state = store_of(runs)->experiment(id).state) == "ACTIVE")
    std::this_thread::sleep_for(kPoll);
  std::printf("experiment %lld: %s\n", static_cast<long long>(id), state.c_str());
  if (state != "COMPLETED") throw Error(str("experiment ", id, " ended ", state));
}

void archive_experiment(const std::string& runs, int64_t id, bool archived) {
  auto store = store_of(runs, true);
  const std::string state = store->experiment(id).state;
  if (archived && (state == "ACTIVE" || state == "PAUSED")) {
    throw Error(str("experiment ", id, " is ", state,
                    "; archive a finished one (kill it first to give it up)"));
  }
  store->set_experiment_archived(id, archived);
  std::printf("experiment %lld %s\n", static_cast<long long>(id),
              archived ? "archived (experiment list --all shows it)" : "unarchived");
}

// Prints the trial's log; with `follow`, then what is appended while its trial is ACTIVE.
void trial_logs(const std::string& runs, int64_t id, bool follow) {
  const track::TrialRow t = store_of(runs)->trial(id);
  const std::string path = (fs::path(t.directory) / "trial.log").string();
  if (t.directory.empty() || (!follow && !fs::exists(path))) {
    throw Error(str("trial ", id, " has no log yet (", path.empty() ? "no directory" : path, ")"));
  }
  std::ifstream in;
  std::string chunk(1 << 16, '\0');
  for (;;) {
    if (!in.is_open()) in.open(path, std::ios::binary);
    const bool active = follow && store_of(runs)->trial(id).state == "ACTIVE";
    while (in.is_open() && in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())),
           in.gcount() > 0) {
      std::fwrite(chunk.data(), 1, static_cast<size_t>(in.gcount()), stdout);
    }
    std::fflush(stdout);
    in.clear();
    if (!active) return;
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace

void add_experiment_lifecycle(CLI::App& exp) {
  auto runs = std::make_shared<std::string>("runs");
  auto id = std::make_shared<int64_t>(0);
  auto quiet = std::make_shared<bool>(false);
  const auto verb = [&](const char* name, const char* what, const char* example) {
    CLI::App* v = exp.add_subcommand(name, what);
    v->footer(str("Example:\n  ", example));
    v->add_option("id", *id, "Experiment id")->required();
    v->add_option("--runs", *runs, "Directory of the store")->capture_default_str();
    return v;
  };
  verb("pause", "Checkpoint the running trial at its next step and stop the experiment",
       "llmtune experiment pause 3 --runs runs")
      ->callback([runs, id] {
        experiment::request_experiment(*runs, *id, "pause");
        std::printf(
            "experiment %lld: pause requested (the running trial checkpoints at its "
            "next step)\n",
            static_cast<long long>(*id));
      });
  verb("kill", "Stop the experiment at the running trial's next step, without a checkpoint",
       "llmtune experiment kill 3 --runs runs")
      ->callback([runs, id] {
        experiment::request_experiment(*runs, *id, "kill");
        std::printf("experiment %lld: kill requested\n", static_cast<long long>(*id));
      });
  CLI::App* ac =
      verb("activate", "Continue a PAUSED experiment here, each trial from its checkpoint",
           "llmtune experiment activate 3 --runs runs");
  ac->add_flag("--quiet", *quiet, "No progress bars");
  ac->callback([runs, id, quiet] { experiment::activate_experiment(*runs, *id, *quiet); });
  verb("archive", "Hide a finished experiment from `experiment list` (--all shows it)",
       "llmtune experiment archive 3 --runs runs")
      ->callback([runs, id] { archive_experiment(*runs, *id, true); });
  verb("unarchive", "Show an archived experiment in `experiment list` again",
       "llmtune experiment unarchive 3 --runs runs")
      ->callback([runs, id] { archive_experiment(*runs, *id, false); });
  verb("wait", "Wait until the experiment is no longer ACTIVE; fails unless it COMPLETED",
       "llmtune experiment wait 3 --runs runs")
      ->callback([runs, id] { wait_experiment(*runs, *id); });
}

void add_trial(CLI::App& app) {
  CLI::App* tr = app.add_subcommand("trial", "A trial's output");
  tr->require_subcommand(1);
  auto runs = std::make_shared<std::string>("runs");
  auto id = std::make_shared<int64_t>(0);
  auto follow = std::make_shared<bool>(false);
  CLI::App* logs = tr->add_subcommand("logs", "Print the trial's log (trial.log)");
  logs->footer("Examples:\n  llmtune trial logs 3\n  llmtune trial logs 3 --follow --runs runs");
  logs->add_option("id", *id, "Trial id")->required();
  logs->add_option("--runs", *runs, "Directory of the store")->capture_default_str();
  logs->add_flag("-f,--follow", *follow, "Keep printing what is appended while the trial runs");
  logs->callback([runs, id, follow] { trial_logs(*runs, *id, *follow); });
}

}  // namespace llmtune::cli
