// llmtune: finetune Llama-family models. `llmtune --help` lists the verbs.
// Exit codes: 0 success; 2 bad input (a file, a setting, data) or a resource the machine lacks
// (memory, a writable path), with the reason on stderr; 3 an internal error; CLI11's own codes
// for malformed command lines.
#include <cstdio>
#include <filesystem>
#include <new>

#include "cli/verbs.h"
#include "config/keys.h"
#include "core/error.h"

namespace {

// When argv names a verb the program lacks ("llmtune frobnicate", "llmtune data prep"), the
// message that says so; "" otherwise. CLI11 alone only says that a subcommand is required.
std::string unknown_verb(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  std::string path = "llmtune";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("-")) return "";  // an option: its values cannot be told from verbs
    const std::vector<const CLI::App*> subs =
        level->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return "";
    const CLI::App* next = nullptr;
    std::vector<std::string_view> names;
    for (const CLI::App* s : subs) {
      names.push_back(s->get_name());
      if (s->check_name(arg)) next = s;
    }
    if (next == nullptr) {
      std::string verbs;
      for (std::string_view n : names) verbs += (verbs.empty() ? "" : ", ") + std::string(n);
      const std::string near = llmtune::config::key_closest(arg, names);
      return llmtune::str("unknown verb '", arg, "' for '", path, "'",
                          near.empty() ? "" : llmtune::str("; did you mean '", near, "'?"),
                          " (verbs: ", verbs, "; `", path, " --help` describes them)");
    }
    level = next;
    path += " " + next->get_name();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("llmtune: finetune Llama-family language models with LoRA or full training",
               "llmtune");
  app.require_subcommand(1);
  llmtune::cli::add_data(app);
  llmtune::cli::add_demo(app);
  llmtune::cli::add_eval(app);
  llmtune::cli::add_experiment(app);
  llmtune::cli::add_export(app);
  llmtune::cli::add_generate(app);
  llmtune::cli::add_serve(app);
  llmtune::cli::add_tokenize(app);
  llmtune::cli::add_train(app);
  llmtune::cli::add_trial(app);
  const auto failed_while = [] {
    const std::string what = llmtune::activity_at_failure();
    return what.empty() ? std::string() : " while " + what;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const std::string verb = unknown_verb(app, argc, argv);
    if (verb.empty() || e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "llmtune: error: %s\n", verb.c_str());
    return e.get_exit_code();
  } catch (const llmtune::InternalError& e) {
    std::fprintf(stderr, "llmtune: %s\n", e.what());
    return 3;
  } catch (const llmtune::OutOfMemory& e) {
    std::fprintf(stderr,
                 "llmtune: error: %s%s; free memory, or reduce what needs it (the model, "
                 "batch size, max_length, LoRA instead of full training)\n",
                 e.what(), failed_while().c_str());
    return 2;
  } catch (const llmtune::Error& e) {
    std::fprintf(stderr, "llmtune: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "llmtune: error: out of memory%s; free memory, or reduce what needs it (the "
                 "model, batch size, max_length, LoRA instead of full training)\n",
                 failed_while().c_str());
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // The path is the user's: a missing directory, a permission, a full disk.
    std::fprintf(stderr, "llmtune: error: %s%s; check the path and its permissions\n", e.what(),
                 failed_while().c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmtune: internal error: %s%s\n", e.what(), failed_while().c_str());
    return 3;
  }
  return 0;
}
