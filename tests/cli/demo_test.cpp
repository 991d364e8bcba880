// `llmtune demo --quick`, the main job in its CI setting: every step runs, the finetuned models
// beat the untrained one on BLEU for every difficulty, and the line under the table says what it
// found about correct SQL. (Correct SQL takes about 1000 full-finetuning steps on easy,
// bench/RESULTS.md: more than CI's few minutes can give.)
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "core/files.h"
#include "support/scratch.h"

namespace llmtune {
namespace {

TEST(Demo, QuickRunBeatsTheUntrainedModelOnEveryDifficulty) {
  test::ScratchDir dir;
  const test::CliResult r =
      test::run_llmtune(std::string("demo --quick --out ") + dir.file("demo") + " --config " +
                        LLMTUNE_SOURCE_DIR + "/configs/demo.yaml --steps 64");
  ASSERT_EQ(r.code, 0) << r.output;
  const bool none_right =
      r.output.find("no finetuned model wrote a query that executes right after 64 steps") !=
      std::string::npos;
  EXPECT_TRUE(none_right || r.output.find("best execution accuracy: ") != std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("experiment store:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dashboard: llmtune serve --runs " + dir.file("demo/runs")),
            std::string::npos)
      << r.output;
  const nlohmann::json summary = read_json(dir.file("demo/demo_summary.json"));
  for (const char* subset : {"easy", "medium", "hard"}) {
    double untrained = -1;
    std::map<std::string, double> sacre, bleu;
    for (const nlohmann::json& row : summary) {
      if (row["subset"] != subset) continue;
      sacre[row["model"]] = row["sacrebleu"].get<double>();
      bleu[row["model"]] = row["bleu"].get<double>();
      if (row["model"] == "untrained") untrained = row["sacrebleu"].get<double>();
    }
    ASSERT_GE(untrained, 0) << subset << "\n" << summary.dump(2);
    for (const nlohmann::json& row : summary) {
      // --steps sets every trial's steps over the quick setting's 60.
      if (row["subset"] == subset && row["steps"] != 0) {
        EXPECT_EQ(row["steps"], 64) << row;
      }
    }
    for (const char* m : {"full", "LoRA"}) {
      ASSERT_TRUE(sacre.count(m)) << subset << " " << m;
      EXPECT_GT(sacre[m], untrained) << subset << " " << m << "\n" << r.output;
      EXPECT_GE(bleu[m], bleu["untrained"]) << subset << " " << m;
    }
  }
  // The command printed last exports the best checkpoint.
  const size_t at = r.output.find("export the best:  llmtune ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const size_t args = at + std::string("export the best:  llmtune ").size();
  const test::CliResult e =
      test::run_llmtune(r.output.substr(args, r.output.find('\n', args) - args));
  ASSERT_EQ(e.code, 0) << e.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("demo/export/best-hf/config.json")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("demo/export/best.gguf")));
}

}  // namespace
}  // namespace llmtune
