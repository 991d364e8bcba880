// llmtune: finetune Llama-family models. `llmtune --help` lists the verbs.
#include <cstdio>

#include "cli/verbs.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app("llmtune: finetune Llama-family language models with LoRA or full training",
               "llmtune");
  app.require_subcommand(1);
  llmtune::cli::add_tokenize(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const llmtune::Error& e) {
    std::fprintf(stderr, "llmtune: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmtune: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
