// What ZeRO saves per rank: for each stage, one full-training run of a few steps on a random
// Llama, printing per-rank bytes of parameters + gradients + optimizer state as the partitioner
// accounts them, as allocated between steps, the peak during a step (activations and the live
// layer included), and the bytes each rank sent per step. Run it under mpirun:
//
//   mpirun -np 2 build/bench/zero_memory [--hidden 256] [--layers 8] [--steps 2]
//
// (add --oversubscribe when the ranks outnumber the cores).
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/philox.h"
#include "parallel/communicator.h"
#include "parallel/zero.h"
#include "train/trainer.h"

using namespace llmtune;

namespace {

std::vector<data::Sample> samples(int64_t n, int64_t seq, int64_t vocab) {
  std::vector<data::Sample> out;
  const PhiloxStream rng(1, 2);
  for (int64_t i = 0; i < n; ++i) {
    data::Sample s;
    for (int64_t t = 0; t < seq; ++t) {
      const auto id = static_cast<int32_t>(rng.bits(i * seq + t) % vocab);
      s.input_ids.push_back(id);
      s.labels.push_back(id);
    }
    s.full_length = seq;
    out.push_back(s);
  }
  return out;
}

double mib(double bytes) {
  return bytes / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t hidden = 256, layers = 8, steps = 2, seq = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int64_t v = std::atoll(argv[i + 1]);
    if (a == "--hidden")
      hidden = v;
    else if (a == "--layers")
      layers = v;
    else if (a == "--steps")
      steps = v;
    else if (a == "--seq")
      seq = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    auto comm = parallel::make_communicator();
    const int world = comm->world_size();
    model::ModelConfig c;
    c.vocab_size = 32000;
    c.hidden_size = hidden;
    c.intermediate_size = hidden * 11 / 4;
    c.num_hidden_layers = layers;
    c.num_attention_heads = 8;
    c.num_key_value_heads = 4;
    c.head_dim = hidden / 8;
    if (comm->rank() == 0) {
      std::printf(
          "Llama hidden %lld, %lld layers, vocab 32000; full training, fp32, batch 2 x "
          "%lld tokens per rank; %d rank(s)\n\n",
          static_cast<long long>(hidden), static_cast<long long>(layers),
          static_cast<long long>(seq), world);
      std::printf(
          "| stage | ranks | params MiB | grads MiB | optimizer MiB | accounted MiB | "
          "allocated MiB | peak in step MiB | sent per step MiB |\n"
          "|---|---|---|---|---|---|---|---|---|\n");
    }
    for (int stage = 0; stage <= 3; ++stage) {
      MemoryStats before = device_memory(Device::cpu()).stats();
      model::ModelOptions mo;
      mo.training = model::Training::kFull;
      model::LlamaModel m(c, mo);
      m.init_weights(7);
      train::TrainerOptions o;
      o.max_steps = steps;
      o.batch_size = 2;
      o.save_final = false;
      o.logging_steps = 1000;
      o.comm = comm.get();
      o.zero.stage = stage;
      o.zero.param_persistence_threshold = 10 * hidden;  // DeepSpeed's "auto"
      train::Trainer trainer(m, samples(8 * world, seq, c.vocab_size), o);
      comm->barrier();
      device_memory(Device::cpu()).reset_peak();
      const int64_t sent0 = comm->stats().bytes_sent;
      trainer.train();
      const double sent = static_cast<double>(comm->stats().bytes_sent - sent0) / steps;
      const MemoryStats after = device_memory(Device::cpu()).stats();
      const parallel::ZeroMemory acc = trainer.engine().accounted();
      if (comm->rank() == 0) {
        std::printf("| %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", stage, world,
                    mib(acc.parameters), mib(acc.gradients), mib(acc.optimizer), mib(acc.total()),
                    mib(after.in_use - before.in_use), mib(after.peak - before.in_use), mib(sent));
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
