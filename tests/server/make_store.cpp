// server_fixture OUT: fills OUT/runs/llmtune.db for the dashboard tests with real short
// experiments run by the llmtune program on a tiny model (the Mistral tokenizer's vocabulary)
// and synthetic text-to-SQL data:
//   1 "dashboard-grid": LoRA and full finetuning on the easy and medium subsets (4 trials), each
//     killed after step 4 and restarted once from its checkpoint, as a crash would;
//   2 a single trial whose name is markup (the escaping tests);
// and writes OUT/live.yaml, a longer single trial the browser test runs while it watches.
// Exits 77 (skipped, saying why) when the shared tokenizer is absent.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli/run_cli.h"
#include "core/files.h"
#include "io/hf_checkpoint.h"
#include "model/llama.h"
#include "support/tiny_llama.h"

namespace {

namespace fs = std::filesystem;
using namespace llmtune;

// The name of experiment 2: text a page must show as it is, never run.
constexpr const char* kMarkupName =
    "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>";

std::string config(const fs::path& out, const std::string& name, const std::string& search,
                   int steps, const std::string& tokenizer) {
  const std::string grid =
      "  lora:\n    type: categorical\n    vals: [false, true]\n"
      "  dataset_subset:\n    type: categorical\n    vals: [easy, medium]\n";
  return "name: '" + name + "'\nsearcher:\n  name: " + search + "\n  metric: eval_loss\n" +
         "max_restarts: 1\ncheckpoint_storage:\n  save_trial_latest: 2\n  save_trial_best: 1\n" +
         "hyperparameters:\n  model: " + (out / "model").string() + "\n  tokenizer: " + tokenizer +
         "\n  chat_template: mistral\n  dataset: " + (out / "data").string() +
         "\n  max_length: 1024\n" +
         (search == "grid" ? grid : "  lora: true\n  dataset_subset: easy\n") +
         "  training_args:\n    max_steps: " + std::to_string(steps) +
         "\n    per_device_train_batch_size: 2\n    per_device_eval_batch_size: 4\n"
         "    learning_rate: 1.0e-3\n    evaluation_strategy: steps\n    eval_steps: 2\n"
         "    logging_steps: 1\n    save_steps: 2\n";
}

// `llmtune ARGS`, its trial processes killed after step `kill_at` when it is not 0.
int run(const std::string& args, int kill_at = 0) {
  if (kill_at > 0) ::setenv("LLMTUNE_FAULT_KILL_AT_STEP", std::to_string(kill_at).c_str(), 1);
  const test::CliResult r = test::run_llmtune(args);
  ::unsetenv("LLMTUNE_FAULT_KILL_AT_STEP");
  if (r.code != 0)
    std::fprintf(stderr, "llmtune %s failed (%d):\n%s\n", args.c_str(), r.code, r.output.c_str());
  return r.code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: server_fixture OUT\n");
    return 2;
  }
  const fs::path out = fs::absolute(argv[1]);
  const std::string tokenizer = std::string(LLMTUNE_SHARED_DIR) + "/fixtures/mistral-tokenizer";
  if (!fs::exists(tokenizer)) {
    std::printf("skipped: the shared tokenizer %s is absent\n", tokenizer.c_str());
    return 77;
  }
  fs::remove_all(out);
  fs::create_directories(out);
  model::ModelConfig c = test::tiny_llama(32000, 0.02);
  c.intermediate_size = 64;
  model::ModelOptions o;
  o.training = model::Training::kFull;
  model::LlamaModel m(c, o);
  m.init_weights(3);
  io::model_save(m, (out / "model").string());
  const std::string runs = " --runs " + (out / "runs").string() + " --quiet";
  write_file_atomic((out / "grid.yaml").string(),
                    config(out, "dashboard-grid", "grid", 6, tokenizer));
  write_file_atomic((out / "markup.yaml").string(),
                    config(out, kMarkupName, "single", 2, tokenizer));
  write_file_atomic((out / "live.yaml").string(), config(out, "live", "single", 40, tokenizer));
  if (run("data prepare --source synthetic --out " + (out / "data").string() +
          " --databases 4 --questions-per-db 50") != 0 ||
      run("experiment create " + (out / "grid.yaml").string() + runs, 4) != 0 ||
      run("experiment create " + (out / "markup.yaml").string() + runs) != 0) {
    return 1;
  }
  std::printf("store: %s/runs/llmtune.db\n", out.string().c_str());
  return 0;
}
