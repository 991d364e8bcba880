// Generation throughput: greedy decoding with the key/value cache on the bench model of
// train_step, against the same model and loop in PyTorch (bench/generate_peer.py), alternating
// in one run, at batch 1 and batch 8. Time covers the prefill and all decoding steps.
//
//   build/bench/generate --peer bench/generate_peer.py [--prompt 64] [--new 64] [--rounds 5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/blas.h"
#include "bench/peer.h"
#include "core/error.h"
#include "core/philox.h"
#include "model/generate.h"

using namespace llmtune;

int main(int argc, char** argv) {
  try {
    std::string peer, python = "/usr/bin/python3";
    int64_t prompt = 64, fresh = 64, rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--peer")
        peer = v;
      else if (k == "--python")
        python = v;
      else if (k == "--prompt")
        prompt = std::stoll(v);
      else if (k == "--new")
        fresh = std::stoll(v);
      else if (k == "--rounds")
        rounds = std::stoll(v);
      else
        throw Error(str("unknown option ", k));
    }
    if (peer.empty()) throw Error("--peer PATH/generate_peer.py is required");
    model::ModelConfig c;
    c.hidden_size = 512;
    c.num_hidden_layers = 8;
    c.num_attention_heads = 8;
    c.num_key_value_heads = 4;
    c.head_dim = 64;
    c.intermediate_size = 1408;
    c.vocab_size = 32000;
    c.rms_norm_eps = 1e-5;
    model::LlamaModel m(c, {});
    m.init_weights(0);
    std::printf(
        "generate: bench model (hidden 512, 8 layers, vocab 32000), prompt %lld tokens, %lld "
        "new tokens, greedy, %s, %lld rounds (medians)\n",
        static_cast<long long>(prompt), static_cast<long long>(fresh), cpu::blas_info().c_str(),
        static_cast<long long>(rounds));
    for (int64_t batch : {1, 8}) {
      // PyTorch at 1 and at 2 threads: on 2 cores its decode loop is fastest on one thread
      // (intra-op threading costs more than it gains on single-token matmuls); the best counts.
      std::vector<std::unique_ptr<bench::Peer>> peers;
      for (const char* threads : {"1", "2"}) {
        peers.push_back(std::make_unique<bench::Peer>(
            std::vector<std::string>{python, peer, "--batch", std::to_string(batch), "--prompt",
                                     std::to_string(prompt), "--new", std::to_string(fresh),
                                     "--threads", threads},
            std::vector<std::string>{"OPENBLAS_CORETYPE=" + cpu::blas_core()}));
      }
      std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(batch));
      PhiloxStream rng(1, static_cast<uint64_t>(batch));
      for (int64_t r = 0; r < batch; ++r) {
        for (int64_t i = 0; i < prompt; ++i) prompts[r].push_back(rng.bits(r * prompt + i) % 32000);
      }
      model::SamplingOptions o;
      o.max_new_tokens = fresh;
      std::vector<double> ours;
      std::vector<std::vector<double>> theirs(peers.size());
      for (int64_t round = 0; round <= rounds; ++round) {
        const auto t0 = std::chrono::steady_clock::now();
        model::generate(m, prompts, o);
        const double dt =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::vector<double> peer_dt;
        for (auto& p : peers) peer_dt.push_back(std::stod(p->ask("run")));
        if (round == 0) continue;  // warm-up
        ours.push_back(dt);
        for (size_t i = 0; i < peers.size(); ++i) theirs[i].push_back(peer_dt[i]);
      }
      const double tokens = static_cast<double>(batch * fresh);
      const double t1 = bench::median(theirs[0]), t2 = bench::median(theirs[1]),
                   best = std::min(t1, t2);
      std::printf(
          "batch %lld: llmtune %7.1f tokens/s | pytorch %7.1f (1 thread), %7.1f (2 threads) "
          "| ratio to pytorch's best %.2fx\n",
          static_cast<long long>(batch), tokens / bench::median(ours), tokens / t1, tokens / t2,
          best / bench::median(ours));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "generate: %s\n", e.what());
    return 1;
  }
  return 0;
}
