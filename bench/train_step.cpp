// Races one training step (forward, backward, AdamW) of llmtune against the same model and step
// in PyTorch (bench/train_step_peer.py), alternating step by step in one run, for full training
// and for LoRA (r=8 on q_proj and v_proj, alpha 32, dropout 0.1). Prints median seconds per
// step, tokens/s, the ratio, achieved GFLOP/s, the share of this machine's measured sgemm peak,
// and peak memory. With --hf-peer the reference stack itself races too: Transformers' Trainer
// (with PEFT for LoRA) stepping the same model (bench/hf_trainer_peer.py, in the project's .venv).
//
//   build/bench/train_step --peer bench/train_step_peer.py [--rounds 7] [--modes full,lora]
//       [--hf-peer bench/hf_trainer_peer.py --hf-python .venv/bin/python]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu/blas.h"
#include "bench/peer.h"
#include "core/error.h"
#include "core/philox.h"
#include "model/llama.h"
#include "train/adamw.h"

using namespace llmtune;

namespace {

constexpr double kLearningRate = 1e-4;  // the peers use the same

struct Args {
  std::string peer;
  std::string python = "/usr/bin/python3";
  std::string hf_peer, hf_python;  // the reference stack itself (Trainer + PEFT), when given
  int rounds = 7;
  int warmup = 1;
  std::vector<std::string> modes = {"full", "lora"};
  int64_t hidden = 512, layers = 8, heads = 8, kv_heads = 4, intermediate = 1408, vocab = 32000;
  int64_t seq = 256, batch = 4;
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Peak resident memory since the last call (VmHWM, then reset through clear_refs).
size_t peak_rss_and_reset() {
  std::ifstream status("/proc/self/status");
  std::string line;
  size_t kb = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) kb = std::stoull(line.substr(6));
  }
  std::ofstream("/proc/self/clear_refs") << "5";
  return kb * 1024;
}

// The PyTorch process. Its PyTorch uses the same OpenBLAS kernels as llmtune (`core`), so the
// race compares the two programs, not two BLAS kernel choices.
std::unique_ptr<bench::Peer> start_peer(const Args& a, const std::string& mode,
                                        const std::string& core, bool hf = false) {
  return std::make_unique<bench::Peer>(std::vector<std::string>{hf ? a.hf_python : a.python,
                                                                hf ? a.hf_peer : a.peer,
                                                                "--mode",
                                                                mode,
                                                                "--hidden",
                                                                std::to_string(a.hidden),
                                                                "--layers",
                                                                std::to_string(a.layers),
                                                                "--heads",
                                                                std::to_string(a.heads),
                                                                "--kv-heads",
                                                                std::to_string(a.kv_heads),
                                                                "--intermediate",
                                                                std::to_string(a.intermediate),
                                                                "--vocab",
                                                                std::to_string(a.vocab),
                                                                "--seq",
                                                                std::to_string(a.seq),
                                                                "--batch",
                                                                std::to_string(a.batch)},
                                       std::vector<std::string>{"OPENBLAS_CORETYPE=" + core});
}

// llmtune's side: the model, its optimizer and one fixed batch.
class Ours {
 public:
  Ours(const Args& a, bool lora) {
    model::ModelConfig c;
    c.hidden_size = a.hidden;
    c.num_hidden_layers = a.layers;
    c.num_attention_heads = a.heads;
    c.num_key_value_heads = a.kv_heads;
    c.head_dim = a.hidden / a.heads;
    c.intermediate_size = a.intermediate;
    c.vocab_size = a.vocab;
    c.rms_norm_eps = 1e-5;
    model::ModelOptions o;
    o.training = lora ? model::Training::kLora : model::Training::kFull;
    model_ = std::make_unique<model::LlamaModel>(c, o);
    model_->init_weights(0);
    if (lora) {
      model::LoraConfig l;
      l.r = 8;
      l.alpha = 32;
      l.dropout = 0.1;
      model_->add_lora(l, 0);
    }
    adamw_ = std::make_unique<train::AdamW>(model_->trainable_parameters(), train::AdamWOptions{});
    batch_.batch = a.batch;
    batch_.seq = a.seq;
    PhiloxStream rng(1, 2);
    for (int64_t i = 0; i < a.batch * a.seq; ++i) {
      batch_.input_ids.push_back(static_cast<int32_t>(rng.bits(i) % a.vocab));
    }
    batch_.labels = batch_.input_ids;
  }
  double step() {
    const double t0 = now();
    model::StepOptions s;
    s.rng_counter = counter_++;
    const Tensor loss = model_->forward(batch_, s);
    model_->backward();
    adamw_->step(kLearningRate);
    model_->zero_grad();
    loss_ = loss.item();
    return now() - t0;
  }
  float loss() const { return loss_; }

 private:
  std::unique_ptr<model::LlamaModel> model_;
  std::unique_ptr<train::AdamW> adamw_;
  model::Batch batch_;
  uint64_t counter_ = 0;
  float loss_ = 0;
};

// Model FLOPs of one step (forward + backward), counting causal attention's useful half.
double step_flops(const Args& a, bool lora) {
  const double n = static_cast<double>(a.batch * a.seq), h = a.hidden, d = h / a.heads;
  const double kv = a.kv_heads * d;
  const double linear = a.layers * (2 * h * h + 2 * h * kv + 3 * h * a.intermediate) + h * a.vocab;
  const double attn = a.layers * 2.0 * 2.0 * a.batch * a.heads * (a.seq * (a.seq + 1) / 2.0) * d;
  const double fwd = 2 * n * linear + attn;
  const double adapters = lora ? a.layers * 2.0 * n * 8 * (2 * h + h + kv) * 3 : 0;
  // Backward: input gradients of every matmul (1x) plus weight gradients when they train (1x);
  // attention backward is two forward attentions.
  return fwd + (lora ? 2 * n * linear + 2 * attn : 2 * (2 * n * linear) + 2 * attn) + adapters;
}

double sgemm_peak() {
  const int n = 2048;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  double best = 1e9;
  for (int r = 0; r < 4; ++r) {
    const double t0 = now();
    cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, now() - t0);
  }
  return 2.0 * n * n * n / best / 1e9;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(str(k, " needs a value"));
      return argv[++i];
    };
    if (k == "--peer")
      a.peer = next();
    else if (k == "--python")
      a.python = next();
    else if (k == "--hf-peer")
      a.hf_peer = next();
    else if (k == "--hf-python")
      a.hf_python = next();
    else if (k == "--rounds")
      a.rounds = std::stoi(next());
    else if (k == "--warmup")
      a.warmup = std::stoi(next());
    else if (k == "--modes") {
      a.modes.clear();
      std::string m = next();
      for (size_t p = 0; p != std::string::npos;) {
        const size_t q = m.find(',', p);
        a.modes.push_back(m.substr(p, q == std::string::npos ? q : q - p));
        p = q == std::string::npos ? q : q + 1;
      }
    } else if (k == "--seq")
      a.seq = std::stoll(next());
    else if (k == "--batch")
      a.batch = std::stoll(next());
    else
      throw Error(str("unknown option ", k, " (see the comment at the top of train_step.cpp)"));
  }
  if (a.peer.empty()) throw Error("--peer PATH/train_step_peer.py is required");
  if (!a.hf_peer.empty() && a.hf_python.empty()) a.hf_python = a.python;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    const double peak = sgemm_peak();
    std::printf(
        "train_step: hidden %ld, %ld layers, %ld heads / %ld kv, intermediate %ld, vocab %ld, "
        "batch %ld x %ld tokens, %d rounds\n",
        a.hidden, a.layers, a.heads, a.kv_heads, a.intermediate, a.vocab, a.batch, a.seq, a.rounds);
    std::printf(
        "BLAS: %s for both (PyTorch gets OPENBLAS_CORETYPE=%s); sgemm peak (2048^3): %.0f "
        "GFLOP/s\n",
        cpu::blas_info().c_str(), cpu::blas_core().c_str(), peak);
    std::printf("%-5s %-22s %12s %10s %9s %6s %11s %10s\n", "mode", "who", "median s/step",
                "tokens/s", "GFLOP/s", "%peak", "peak RSS", "loss");
    const double tokens = static_cast<double>(a.batch * a.seq);
    for (const std::string& mode : a.modes) {
      const bool lora = mode == "lora";
      const double flops = step_flops(a, lora);
      device_memory(Device::cpu()).release_cached();
      peak_rss_and_reset();
      device_memory(Device::cpu()).reset_peak();
      Ours ours(a, lora);
      std::vector<std::unique_ptr<bench::Peer>> peers;
      std::vector<std::string> names = {"pytorch"};
      peers.push_back(start_peer(a, mode, cpu::blas_core()));
      if (!a.hf_peer.empty()) {
        names.push_back("hf-trainer");
        peers.push_back(start_peer(a, mode, cpu::blas_core(), true));
      }
      for (auto& p : peers) p->ask("mem");  // reset the peak after start-up
      std::vector<double> t_ours;
      std::vector<std::vector<double>> t_peer(peers.size());
      for (int r = 0; r < a.warmup + a.rounds; ++r) {
        const double t = ours.step();
        if (r >= a.warmup) t_ours.push_back(t);
        for (size_t i = 0; i < peers.size(); ++i) {
          const double tp = std::stod(peers[i]->ask("step"));
          if (r >= a.warmup) t_peer[i].push_back(tp);
        }
      }
      const size_t our_rss = peak_rss_and_reset();
      const MemoryStats mem = device_memory(Device::cpu()).stats();
      auto row = [&](const std::string& who, double s, size_t rss, const std::string& loss) {
        std::printf("%-5s %-22s %12.3f %10.0f %9.1f %5.0f%% %8.0f MiB %10s\n", mode.c_str(),
                    who.c_str(), s, tokens / s, flops / s / 1e9, 100 * flops / s / 1e9 / peak,
                    rss / 1048576.0, loss.c_str());
      };
      const double mo = bench::median(t_ours);
      row("llmtune", mo, our_rss, str(ours.loss()));
      for (size_t i = 0; i < peers.size(); ++i) {
        row(names[i], bench::median(t_peer[i]), std::stoull(peers[i]->ask("mem")), "");
      }
      for (size_t i = 0; i < peers.size(); ++i) {
        std::printf("%-5s ratio llmtune / %s: %.2fx tokens/s\n", mode.c_str(), names[i].c_str(),
                    bench::median(t_peer[i]) / mo);
      }
      std::printf(
          "%-5s llmtune tensor memory peak %.0f MiB (weights, grads, optimizer, activations)\n",
          mode.c_str(), mem.peak / 1048576.0);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_step: %s\n", e.what());
    return 1;
  }
  return 0;
}
