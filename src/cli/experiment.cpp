// llmtune experiment create CONFIG [--set key=value]...   runs every trial of the search
// llmtune experiment list [--all] | describe ID           what the store holds
// (pause, activate, kill, archive and wait: lifecycle.cpp)
// llmtune checkpoint list ID [--sort-by METRIC]           an experiment's checkpoints, best first
// llmtune checkpoint export DIR --out NEW                 a ZeRO-sharded checkpoint, unsharded
// llmtune train CONFIG | --trial ID                       one trial (every rank under mpirun)
//
// Experiments live in a store (runs/llmtune.db by default) and trial directories below
// runs/<experiment>-<id>/trial-<id>/. `experiment create` runs each trial as a child
// `llmtune train --trial ID` (under `mpirun -np N` when resources.slots_per_trial is N > 1)
// and restarts a trial that dies, up to max_restarts times; the restarted trial resumes from
// its last complete checkpoint.
#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "cli/experiment_view.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "experiment/runner.h"
#include "train/checkpoint.h"

namespace llmtune::cli {

namespace {

namespace fs = std::filesystem;

struct CreateArgs {
  std::string config, runs = "runs";
  std::vector<std::string> sets;
  bool quiet = false;
};

void create(const CreateArgs& a) {
  const int64_t id = experiment::run_experiment(a.config, a.sets, a.runs, a.quiet);
  std::printf("%s", describe_experiment(a.runs, id).c_str());
}

}  // namespace

void add_experiment(CLI::App& app) {
  CLI::App* exp = app.add_subcommand("experiment", "Create, list and describe experiments");
  exp->alias("e");
  exp->require_subcommand(1);

  auto c = std::make_shared<CreateArgs>();
  CLI::App* cr = exp->add_subcommand("create", "Run an experiment config's trials");
  cr->footer(
      "Examples:\n"
      "  llmtune experiment create configs/quickstart.yaml\n"
      "  llmtune experiment create configs/tinyllama-lora.yaml --set "
      "hyperparameters.training_args.max_steps=100\n"
      "  llmtune experiment create ../shared/fixtures/reference-configs/lora.yaml --set "
      "hyperparameters.model=models/Mistral-7B-Instruct-v0.2");
  cr->add_option("config", c->config, "Experiment YAML (Determined style)")->required();
  cr->add_option("--set,--config", c->sets, "Override a value: key.path=value (repeatable)");
  cr->add_option("--runs", c->runs, "Directory of the store and trial directories")
      ->capture_default_str();
  cr->add_flag("--quiet", c->quiet, "No progress bars");
  cr->callback([c] { create(*c); });

  auto runs = std::make_shared<std::string>("runs");
  auto json = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  CLI::App* ls = exp->add_subcommand("list", "The experiments in the store");
  ls->alias("ls");
  ls->footer("Example:\n  llmtune experiment list --runs runs");
  ls->add_option("--runs", *runs, "Directory of the store")->capture_default_str();
  ls->add_flag("--json", *json, "JSON instead of a table");
  ls->add_flag("--all", *all, "Archived experiments too");
  ls->callback(
      [runs, json, all] { std::printf("%s", list_experiments(*runs, *json, *all).c_str()); });
  add_experiment_lifecycle(*exp);

  auto id = std::make_shared<int64_t>(0);
  CLI::App* de = exp->add_subcommand("describe", "Hyperparameters, metrics and checkpoints");
  de->footer("Example:\n  llmtune experiment describe 1 --runs runs");
  de->add_option("id", *id, "Experiment id")->required();
  de->add_option("--runs", *runs, "Directory of the store")->capture_default_str();
  de->add_flag("--json", *json, "JSON instead of text");
  de->callback([runs, id, json] {
    std::printf("%s", (*json ? describe_experiment_json(*runs, *id).dump(2) + "\n"
                             : describe_experiment(*runs, *id))
                          .c_str());
  });

  CLI::App* ck = app.add_subcommand("checkpoint", "List or export an experiment's checkpoints");
  ck->require_subcommand(1);
  auto sort_by = std::make_shared<std::string>("");
  auto best = std::make_shared<int64_t>(0);
  CLI::App* cl = ck->add_subcommand("list", "Checkpoints of an experiment, best first");
  cl->footer(
      "Examples:\n"
      "  llmtune checkpoint list 1                      (sorted by the searcher metric)\n"
      "  llmtune checkpoint list 1 --sort-by eval_bleu --best 1");
  cl->add_option("id", *id, "Experiment id")->required();
  cl->add_option("--sort-by", *sort_by,
                 "A metric, or step|time|uuid|trial_id (default: the searcher metric)");
  cl->add_option("--best", *best, "Only the first N")->check(kPositiveInteger);
  cl->add_option("--runs", *runs, "Directory of the store")->capture_default_str();
  cl->add_flag("--json", *json, "JSON instead of a table");
  cl->callback([runs, id, sort_by, best, json] {
    std::printf("%s", list_checkpoints(*runs, *id, *sort_by, *best, *json).c_str());
  });

  auto from = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* ce = ck->add_subcommand(
      "export", "Consolidate a ZeRO-sharded checkpoint so that any number of ranks resumes it");
  ce->footer(
      "Example:\n"
      "  llmtune checkpoint export runs/tinyllama-full-1/trial-1/checkpoint-200 --out "
      "ckpt-200-whole\n"
      "  llmtune train configs/tinyllama-full.yaml --resume ckpt-200-whole");
  ce->add_option("checkpoint", *from, "A checkpoint-N directory written by several ranks")
      ->required();
  ce->add_option("--out", *out, "The new directory")->required();
  ce->callback([from, out] {
    train::checkpoint_export(*from, *out);
    std::printf(
        "%s: optimizer state of every rank consolidated; it resumes with any number of "
        "ranks (llmtune train ... --resume %s)\n",
        out->c_str(), out->c_str());
  });
}

void add_train(CLI::App& app) {
  auto a = std::make_shared<experiment::TrainRequest>();
  CLI::App* t = app.add_subcommand("train", "Run one trial (on every rank under mpirun)");
  t->footer(
      "Examples:\n"
      "  llmtune train configs/quickstart.yaml               (a single-trial experiment)\n"
      "  mpirun -np 4 llmtune train configs/tinyllama-full.yaml   (ZeRO over 4 processes)\n"
      "  llmtune train --trial 3 --runs runs                 (continue trial 3 of the store)\n"
      "  llmtune train configs/quickstart.yaml --resume "
      "runs/quickstart-lora-1/trial-1/checkpoint-20");
  t->add_option("config", a->config, "Experiment YAML with a single searcher");
  t->add_option("--set", a->sets, "Override a value: key.path=value (repeatable)");
  t->add_option("--trial", a->trial, "Run (or resume) this trial of the store instead");
  t->add_option("--runs", a->runs, "Directory of the store and trial directories")
      ->capture_default_str();
  t->add_option("--resume", a->resume,
                "Start from this checkpoint directory (weights, optimizer, step)");
  t->add_option("--stop-after", a->stop_after, "Stop after this step, as a crash would (testing)");
  t->add_option("--until", a->until,
                "Validate, checkpoint and pause after this step (a searcher's rung); the "
                "schedule still runs to max_steps")
      ->check(kPositiveInteger);
  t->add_option("--device", a->device,
                "cpu, cuda, cuda:N or auto; overrides hyperparameters.device");
  t->add_flag("--quiet", a->quiet, "No progress bar");
  t->callback([a] { experiment::train_trial(*a); });
}

}  // namespace llmtune::cli
