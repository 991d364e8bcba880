// llmtune demo [--out runs/demo] [--config FILE] [--quick] [--serve]: the whole workflow on the
// built-in synthetic dataset (experiment/demo.h), then, with --serve, the dashboard over it.
#include "experiment/demo.h"
#include "cli/serve.h"
#include "cli/verbs.h"

namespace llmtune::cli {

namespace {

struct DemoArgs {
  experiment::DemoOptions demo;
  bool serve = false;  // then the dashboard over the demo's experiments, until stopped
};

}  // namespace

void add_demo(CLI::App& app) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* d = app.add_subcommand("demo", "The whole workflow on a built-in synthetic dataset");
  d->footer(
      "Examples:\n"
      "  llmtune demo                    (what `make demo` runs)\n"
      "  llmtune demo --quick --out /tmp/demo\n"
      "  llmtune demo --steps 1000       (longer trials: about 18 minutes on 2 cores)\n"
      "  llmtune demo --serve            (then the dashboard at http://127.0.0.1:8080/)");
  d->add_option("--out", a->demo.out, "Where everything goes")->capture_default_str();
  d->add_option("--config", a->demo.config,
                "The finetuning experiment (default: the built-in configs/demo.yaml)");
  d->add_option("--vocab", a->demo.vocab, "Tokenizer vocabulary size (0: the setting's)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  d->add_option("--steps", a->demo.steps, "Finetuning steps of every trial (0: the setting's)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  d->add_flag("--quick", a->demo.quick, "A shorter run (fewer data and steps), as CI uses");
  d->add_flag("--serve", a->serve, "Then serve the dashboard over its experiments (llmtune serve)");
  d->callback([a] {
    const std::string runs = experiment::demo_run(a->demo);
    if (a->serve) serve_dashboard({.runs = runs});
  });
}

}  // namespace llmtune::cli
