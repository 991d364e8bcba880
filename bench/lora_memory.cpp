// Does a LoRA run of a real-size model fit this machine? Builds Mistral-7B's (or TinyLlama's)
// shapes with random bf16 frozen weights, adds the reference workflow's adapter (r=8, alpha 32,
// dropout 0.1 on q_proj and v_proj), and times one training step with activation checkpointing,
// reporting peak memory against the budget (24 GiB by default).
//
//   build/bench/lora_memory [--model mistral-7b|tinyllama] [--seq 256] [--batch 1]
//                           [--budget-gib 24] [--no-checkpoint]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/philox.h"
#include "model/llama.h"
#include "train/adamw.h"

using namespace llmtune;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

model::ModelConfig shapes(const std::string& name) {
  model::ModelConfig c;
  if (name == "mistral-7b") {
    c.architecture = "MistralForCausalLM";
    c.model_type = "mistral";
    c.hidden_size = 4096;
    c.intermediate_size = 14336;
    c.num_hidden_layers = 32;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 8;
    c.rope_theta = 1e6;
    c.max_position_embeddings = 32768;
  } else if (name == "tinyllama") {
    c.hidden_size = 2048;
    c.intermediate_size = 5632;
    c.num_hidden_layers = 22;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 4;
  } else {
    throw Error(str("unknown --model ", name, " (mistral-7b or tinyllama)"));
  }
  c.vocab_size = 32000;
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.rms_norm_eps = 1e-5;
  return c;
}

// Uniform random weights with the std of Transformers' init, written a block at a time.
void fill_random(model::LlamaModel& m) {
  const float bound = 0.02f * 1.7320508f;
  uint64_t stream = 0;
  std::vector<float> buf;
  for (model::ParamRef& p : m.parameters()) {
    if (p.name.find("lora_") != std::string::npos) continue;
    if (p.name.ends_with("norm.weight")) {
      p.value->copy_(
          Tensor::from_f32(std::vector<float>(p.value->numel(), 1.0f), p.value->shape()));
      continue;
    }
    const int64_t rows = p.value->size(0), cols = p.value->size(1);
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 22) / cols);
    PhiloxStream rng(7, stream++);
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t n = std::min(block, rows - r0);
      buf.resize(static_cast<size_t>(n * cols));
      rng.fill_uniform(buf.data(), buf.size(), -bound, bound, static_cast<uint64_t>(r0 * cols));
      Tensor slice = p.value->narrow(0, r0, n);
      slice.copy_(Tensor::from_f32(buf, {n, cols}, p.value->dtype()));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string name = "mistral-7b";
    int64_t seq = 256, batch = 1;
    double budget_gib = 24;
    bool checkpoint = true;
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw Error(str(k, " needs a value"));
        return argv[++i];
      };
      if (k == "--model")
        name = next();
      else if (k == "--seq")
        seq = std::stoll(next());
      else if (k == "--batch")
        batch = std::stoll(next());
      else if (k == "--budget-gib")
        budget_gib = std::stod(next());
      else if (k == "--no-checkpoint")
        checkpoint = false;
      else
        throw Error(str("unknown option ", k));
    }
    const model::ModelConfig c = shapes(name);
    model::ModelOptions o;
    o.training = model::Training::kLora;
    o.frozen_dtype = DType::BF16;
    o.checkpoint_activations = checkpoint;
    double t0 = now();
    model::LlamaModel m(c, o);
    fill_random(m);
    model::LoraConfig lora;
    lora.r = 8;
    lora.alpha = 32;
    lora.dropout = 0.1;
    m.add_lora(lora, 1);
    train::AdamW adamw(m.trainable_parameters(), {});
    size_t trainable = 0;
    for (auto& p : m.trainable_parameters()) trainable += static_cast<size_t>(p.value->numel());
    std::printf("%s: %.3fB parameters (bf16 frozen), LoRA trainable %zu; built in %.1f s\n",
                name.c_str(), c.parameter_count() / 1e9, trainable, now() - t0);
    model::Batch b;
    b.batch = batch;
    b.seq = seq;
    PhiloxStream rng(3, 4);
    for (int64_t i = 0; i < batch * seq; ++i) b.input_ids.push_back(rng.bits(i) % 32000);
    b.labels = b.input_ids;
    device_memory(Device::cpu()).reset_peak();
    t0 = now();
    const float loss = m.forward(b, {}).item();
    m.backward();
    adamw.step(1e-4);
    m.zero_grad();
    const double dt = now() - t0;
    const MemoryStats mem = device_memory(Device::cpu()).stats();
    const double gib = 1024.0 * 1024 * 1024;
    std::printf(
        "one step, batch %ld x %ld tokens, checkpointing %s: %.1f s (%.1f tokens/s), loss %.4f\n",
        batch, seq, checkpoint ? "on" : "off", dt, batch * seq / dt, loss);
    std::printf(
        "parameters %.2f GiB; tensor peak %.2f GiB; process peak RSS %.2f GiB = %.0f%% of the "
        "%.0f GiB budget\n",
        m.parameter_bytes() / gib, mem.peak / gib, peak_rss() / gib,
        100 * peak_rss() / gib / budget_gib, budget_gib);
    return peak_rss() / gib <= budget_gib ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lora_memory: %s\n", e.what());
    return 1;
  }
}
