// llmtune: finetune Llama-family models. `llmtune --help` lists the verbs.
// Exit codes: 0 success; 2 bad input (a file, a setting, data) with the reason on stderr;
// 3 an internal error; CLI11's own codes for malformed command lines.
#include <cstdio>

#include "cli/verbs.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app("llmtune: finetune Llama-family language models with LoRA or full training",
               "llmtune");
  app.require_subcommand(1);
  llmtune::cli::add_data(app);
  llmtune::cli::add_demo(app);
  llmtune::cli::add_eval(app);
  llmtune::cli::add_experiment(app);
  llmtune::cli::add_generate(app);
  llmtune::cli::add_tokenize(app);
  llmtune::cli::add_train(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const llmtune::InternalError& e) {
    std::fprintf(stderr, "llmtune: %s\n", e.what());
    return 3;
  } catch (const llmtune::Error& e) {
    std::fprintf(stderr, "llmtune: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmtune: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
