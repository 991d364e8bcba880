// llmtune demo [--out runs/demo] [--config FILE] [--quick]: the whole workflow on the built-in
// synthetic dataset (experiment/demo.h).
#include "experiment/demo.h"
#include "cli/verbs.h"

namespace llmtune::cli {

void add_demo(CLI::App& app) {
  auto a = std::make_shared<experiment::DemoOptions>();
  CLI::App* d = app.add_subcommand("demo", "The whole workflow on a built-in synthetic dataset");
  d->footer(
      "Examples:\n"
      "  llmtune demo                    (what `make demo` runs)\n"
      "  llmtune demo --quick --out /tmp/demo");
  d->add_option("--out", a->out, "Where everything goes")->capture_default_str();
  d->add_option("--config", a->config,
                "The finetuning experiment (default: the built-in configs/demo.yaml)");
  d->add_option("--vocab", a->vocab, "Tokenizer vocabulary size")
      ->capture_default_str()
      ->check(CLI::Range(100, 1000000));
  d->add_flag("--quick", a->quick, "A shorter run (fewer data and steps), as CI uses");
  d->callback([a] { experiment::demo_run(*a); });
}

}  // namespace llmtune::cli
