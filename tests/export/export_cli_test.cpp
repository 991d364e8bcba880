// `llmtune export` as a user runs it, and what it does with bad input: a wrong checkpoint path,
// a LoRA checkpoint whose base is not here, outputs that exist or lie inside what is read,
// damaged weights. Every refusal names the path and what to do, exits 2 and leaves nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/run_cli.h"
#include "export/export.h"
#include "export_fixture.h"
#include "support/errors.h"

namespace llmtune {
namespace {

namespace fs = std::filesystem;
using test::run_llmtune;
using test::throws_error;

class ExportCli : public test::ExportFixture {
 protected:
  // The LoRA checkpoint copied with base_model_name_or_path set to `base`.
  std::string lora_naming(const std::string& base) {
    const std::string dir = path("moved-checkpoint");
    fs::copy(lora(), dir);
    nlohmann::json c = read_json(path_join(dir, "adapter_config.json"));
    c["base_model_name_or_path"] = base;
    write_file_atomic(path_join(dir, "adapter_config.json"), c.dump(2));
    return dir;
  }
};

TEST_F(ExportCli, CheckpointPathsThatAreNotCheckpointsAreNamed) {
  const auto source = [](const std::string& ckpt, const std::string& base = "") {
    return [=] { exporting::export_source(ckpt, base, ""); };
  };
  EXPECT_TRUE(throws_error(source(path("nowhere")), {path("nowhere"), "does not exist"}));
  write_file_atomic(path("file"), "x");
  EXPECT_TRUE(throws_error(source(path("file")), {path("file"), "not a directory"}));
  fs::copy(lora(), path("checkpoint-9.partial"));
  EXPECT_TRUE(throws_error(source(path("checkpoint-9.partial")), {"never completed"}));
  fs::create_directories(path("empty"));
  EXPECT_TRUE(throws_error(source(path("empty")), {path("empty"), "neither config.json"}));
  EXPECT_TRUE(throws_error(source(base(), lora()), {"--base is for LoRA checkpoints"}));
  EXPECT_TRUE(throws_error(source(lora(), path("empty")),
                           {"--base " + path("empty"), "not a model directory"}));
  fs::create_directories(path("bare"));
  fs::copy_file(path_join(base(), "config.json"), path("bare/config.json"));
  fs::copy_file(path_join(base(), "model.safetensors"), path("bare/model.safetensors"));
  EXPECT_TRUE(throws_error(source(path("bare")), {"no tokenizer files", "--tokenizer"}));
  EXPECT_EQ(exporting::export_source(path("bare"), "", tokenizer()).tokenizer_dir, tokenizer());
}

TEST_F(ExportCli, ALoraCheckpointWhoseBaseIsNotHereAsksForBase) {
  const std::string moved = lora_naming("meta-llama/Llama-2-7b-hf");
  EXPECT_TRUE(throws_error(
      [&] { exporting::export_source(moved, "", ""); },
      {moved, "\"meta-llama/Llama-2-7b-hf\"", "not a local model directory", "--base DIR"}));
  const test::CliResult r = run_llmtune("export " + moved + " --gguf " + path("m.gguf"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--base DIR"), std::string::npos) << r.output;
  const exporting::ExportSource s = exporting::export_source(moved, base(), "");
  EXPECT_EQ(s.model_dir, base());
  const test::CliResult ok =
      run_llmtune("export " + moved + " --base " + base() + " --merge --out " + path("hf"));
  EXPECT_EQ(ok.code, 0) << ok.output;
}

TEST_F(ExportCli, OutputsMustBeNewAndOutsideWhatIsRead) {
  const exporting::ExportSource s = exporting::export_source(lora(), "", "");
  const auto target = [&](const std::string& out, const std::string& suffix = ".partial") {
    return [=] { exporting::export_target(out, "--out", suffix, s); };
  };
  fs::create_directories(path("taken"));
  EXPECT_TRUE(throws_error(target(path("taken")), {"--out " + path("taken"), "exists"}));
  EXPECT_TRUE(throws_error(target(path("taken") + "/"), {"exists"}));
  fs::create_directories(path("half.partial"));
  EXPECT_TRUE(throws_error(target(path("half")), {path("half.partial"), "did not finish"}));
  write_file_atomic(path("m.gguf.tmp"), "");
  EXPECT_TRUE(throws_error(target(path("m.gguf"), ".tmp"), {path("m.gguf.tmp")}));
  EXPECT_TRUE(throws_error(target(lora() + "/export"), {"lies inside " + lora()}));
  EXPECT_TRUE(throws_error(target(base() + "/sub/../x.gguf"), {"lies inside " + base()}));
  EXPECT_TRUE(throws_error(target(""), {"--out needs the path"}));
  EXPECT_EQ(exporting::export_target(path("new/"), "--out", ".partial", s), path("new"));
}

TEST_F(ExportCli, TheProgramRefusesWithExitCode2AndChangesNothing) {
  const auto refused = [&](const std::string& args, const std::string& says) {
    const auto before = test::ScratchDir::listing_of(dir_.root());
    const test::CliResult r = run_llmtune("export " + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(test::ScratchDir::listing_of(dir_.root()), before) << args;
  };
  refused(lora(), "give --out DIR");
  refused(lora() + " --gguf " + path("m.gguf") + " --type q4_0", "--type \"q4_0\"");
  refused(lora() + " --out " + path("x") + " --type q8_0", "--type is the GGUF file's");
  refused(lora() + " --out " + path("x") + " --dtype bf16", "without --merge");
  refused(lora() + " --merge --out " + path("x") + " --dtype f8", "--dtype \"f8\"");
  refused(lora() + " --merge --out " + path("x") + " --max-shard-size 5XB", "5XB");
  refused(lora() + " --merge --out " + base(), "exists");
  refused(lora() + " --gguf " + lora() + "/m.gguf", "lies inside");
  refused(path("nowhere") + " --gguf " + path("m.gguf"), "does not exist");
}

TEST_F(ExportCli, DamagedWeightsLeaveNoOutputBehind) {
  // A model whose weights hold a NaN (written past llmtune's own checks) and one whose values
  // overflow float16.
  for (const float bad : {NAN, 1e6f}) {
    SCOPED_TRACE(bad);
    fs::remove_all(path("damaged"));
    auto m = io::model_load(base(), {});
    Tensor* w = m->find_parameter("model.layers.1.mlp.up_proj.weight");
    std::vector<float> v = w->to_f32();
    v[7] = bad;
    w->copy_(Tensor::from_f32(v, w->shape()));
    io::model_save(*m, path("damaged"));
    copy_tokenizer(path("damaged"));
    const test::CliResult g =
        run_llmtune("export " + path("damaged") + " --gguf " + path("d.gguf"));
    EXPECT_EQ(g.code, 2) << g.output;
    EXPECT_NE(g.output.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << g.output;
    const test::CliResult h =
        run_llmtune("export " + path("damaged") + " --out " + path("d-hf") + " --dtype f16");
    EXPECT_EQ(h.code, 2) << h.output;
    for (const char* left : {"d.gguf", "d.gguf.tmp", "d-hf.partial"}) {
      EXPECT_FALSE(fs::exists(path(left))) << left;
    }
    fs::remove_all(path("d-hf"));
  }
}

TEST_F(ExportCli, OneCommandWritesBothAndSaysWhat) {
  const test::CliResult r =
      run_llmtune("export " + lora() + " --merge --out " + path("hf") + " --gguf " +
                  path("q8.gguf") + " --type q8_0 --name demo-best");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + path("hf") + ": a Hugging Face model directory, F32"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("merged into its base"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wrote " + path("q8.gguf") + ": GGUF for llama.cpp, Q8_0"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(io::gguf_read(path("q8.gguf")).find("general.name")->string, "demo-best");
  EXPECT_TRUE(fs::exists(path("hf/model.safetensors")));
  const test::CliResult adapter = run_llmtune("export " + lora() + " --out " + path("adapter"));
  ASSERT_EQ(adapter.code, 0) << adapter.output;
  EXPECT_TRUE(fs::exists(path("adapter/adapter_model.safetensors")));
  EXPECT_FALSE(fs::exists(path("adapter/train_state.json")));
}

}  // namespace
}  // namespace llmtune
