// What the export tests start from, made in a scratch directory: a SentencePiece tokenizer
// trained like the demo's (with the Mistral chat template), a tiny Llama saved as a model
// directory with those tokenizer files (a full checkpoint), and a LoRA checkpoint over it whose
// adapter has non-zero B on all seven projections.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/philox.h"
#include "io/hf_checkpoint.h"
#include "io/peft_adapter.h"
#include "support/scratch.h"
#include "support/sql_text.h"
#include "support/tiny_llama.h"
#include "text/chat.h"
#include "text/sentencepiece.h"
#include "text/tokenizer.h"

namespace llmtune::test {

class ExportFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    fs::create_directories(tokenizer());
    text::SentencePieceTrainOptions o;
    o.vocab_size = 400;
    text::sentencepiece_train(sql_text(), o, path_join(tokenizer(), "tokenizer.model"));
    const nlohmann::json config = {{"tokenizer_class", "LlamaTokenizer"},
                                   {"bos_token", "<s>"},
                                   {"eos_token", "</s>"},
                                   {"unk_token", "<unk>"},
                                   {"add_bos_token", true},
                                   {"add_eos_token", false},
                                   {"chat_template", text::builtin_chat_template("mistral")}};
    write_file_atomic(path_join(tokenizer(), "tokenizer_config.json"), config.dump(2));
    vocab_ = text::tokenizer_load(tokenizer())->vocab_size();

    model::ModelOptions mo;
    mo.training = model::Training::kLora;
    model::LlamaModel m(tiny_llama(vocab_, 0.3), mo);
    m.init_weights(5);
    io::model_save(m, base());
    copy_tokenizer(base());
    model::LoraConfig l;
    l.r = 4;
    l.alpha = 8;
    l.target_modules = {"all-linear"};
    l.base_model_name_or_path = base();
    m.add_lora(l, 3);
    test::lora_b_randomize(m, 9, 0.3f);
    io::adapter_save(m, lora());
    copy_tokenizer(lora());
  }

  void copy_tokenizer(const std::string& to) const {
    for (const std::string& f : text::tokenizer_files(tokenizer())) {
      std::filesystem::copy_file(f,
                                 std::filesystem::path(to) / std::filesystem::path(f).filename());
    }
  }

  std::string tokenizer() const { return dir_.file("tokenizer"); }
  std::string base() const { return dir_.file("base"); }          // a full model with its tokenizer
  std::string lora() const { return dir_.file("checkpoint-8"); }  // LoRA over base()
  std::string path(const std::string& name) const { return dir_.file(name); }
  int64_t vocab() const { return vocab_; }

  ScratchDir dir_;
  int64_t vocab_ = 0;
};

}  // namespace llmtune::test
