// ZeRO (Rajbhandari et al., 2020) as DeepSpeed's stages define it, over a Communicator. With N
// ranks of data parallelism:
//   stage 0  every rank holds everything; gradients are all-reduced at the end of the step.
//   stage 1  each rank owns 1/N of the trainable elements: only it keeps their optimizer state
//            and updates them. Gradients are reduce-scattered at the end of the step, and the
//            updated partitions all-gathered.
//   stage 2  gradients are partitioned too: as soon as backward is done with a parameter group
//            (micro-batch by micro-batch) its gradients are reduce-scattered into the owners'
//            partitions and the whole buffer is freed.
//   stage 3  parameters too: a rank keeps 1/N of each group's parameters, frozen ones included;
//            a group is all-gathered when the model acquires it (forward, and again backward)
//            and freed when released. Parameters under param_persistence_threshold elements
//            stay whole on every rank (and are updated as at stage 2).
//
// The unit is the model's parameter group (model::ParamHooks: the embedding, each decoder layer
// with its adapters, the head). Each group's parameters of one kind (trainable fp32 / frozen,
// whole / partitioned) are flattened into one buffer, padded to a multiple of N and cut into N
// equal partitions, rank r owning [r·P, (r+1)·P). Collectives on a group are split into buckets
// of at most reduce_bucket_size (gradients), allgather_bucket_size (stages 1-2 parameters) or
// prefetch_bucket_size (stage 3 parameters) elements.
//
// Bytes sent per rank and step, with Ψ trainable elements and one micro-batch (the ZeRO paper's
// volumes; the communicator counts them): stages 0-2 2Ψ(N-1)/N, as one all-reduce; stage 3
// 3Ψ(N-1)/N (two all-gathers and a reduce-scatter), plus the frozen parameters' gathers when
// they are partitioned. Stage 2 and 3 reduce-scatter once per micro-batch, as DeepSpeed does.
//
// Stage 3 prefetches: acquiring a group starts the (non-blocking) all-gather of the group the
// model says the pass needs next (layer l+1 in forward, l-1 in backward) when its partitioned
// parameters fit in prefetch_bucket_size elements, so that it travels while this one
// computes. Every prefetched group is used, so the traffic stays as above.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "model/llama.h"
#include "parallel/communicator.h"

namespace llmtune::parallel {

struct ZeroOptions {
  int stage = 0;                                  // 0, 1, 2 or 3
  int64_t reduce_bucket_size = 500'000'000;       // elements per gradient collective
  int64_t allgather_bucket_size = 500'000'000;    // elements per parameter gather, stages 1-2
  int64_t prefetch_bucket_size = 50'000'000;      // elements per parameter gather, stage 3
  int64_t param_persistence_threshold = 100'000;  // stage 3: smaller parameters stay whole
};

// Bytes this rank keeps between steps, by kind (padding included).
struct ZeroMemory {
  int64_t parameters = 0;  // values: whole, or partitions (stage 3) plus persistent ones
  int64_t gradients = 0;   // whole buffers (stages 0-1) or partitions (stages 2-3)
  int64_t optimizer = 0;   // AdamW's two fp32 moments of what this rank updates
  int64_t total() const { return parameters + gradients + optimizer; }
};

// A piece of one trainable parameter that this rank updates: elements [begin, begin + count)
// of the parameter named `name` (in its flat element order).
struct ShardPiece {
  std::string name;
  int64_t begin = 0, count = 0;
  Shape shape;  // the whole parameter's
  int64_t numel() const { return shape_numel(shape); }
};

class ZeroEngine final : public model::ParamHooks {
 public:
  // Takes over the model's parameter and gradient memory (its tensors become views of the
  // engine's buffers, or undefined while released) and installs itself as the model's hooks.
  // Every rank must construct it with the same model shape and options. Throws
  // llmtune::Error for a stage outside 0-3 or non-positive bucket sizes.
  ZeroEngine(model::LlamaModel& model, Communicator& comm, const ZeroOptions& options);
  // Leaves the model whole again (collective at stage 3: every rank must destroy its engine).
  ~ZeroEngine() override;
  ZeroEngine(const ZeroEngine&) = delete;
  ZeroEngine& operator=(const ZeroEngine&) = delete;

  const ZeroOptions& options() const { return options_; }
  Communicator& comm() { return comm_; }

  // What this rank's optimizer updates: whole trainable parameters at stage 0, else views of
  // this rank's partition (pieces()[i] says which part of which parameter shard()[i] is).
  // Gradients read here are complete only after reduce_gradients().
  const std::vector<model::ParamRef>& shard() const { return shard_; }
  const std::vector<ShardPiece>& pieces() const { return pieces_; }
  // Every trainable parameter, whole (begin 0, count numel), in the engine's order.
  std::vector<ShardPiece> trainable() const;

  // After the step's last backward: completes the reduction, so that shard() gradients hold
  // the sum over all ranks (stage 0 all-reduces, stage 1 reduce-scatters; 2 and 3 did it in
  // backward).
  void reduce_gradients();
  // The L2 norm of the whole reduced gradient, the same on every rank (a non-finite value
  // anywhere makes it non-finite everywhere).
  double grad_norm();
  // After the optimizer changed shard(): makes every rank's whole parameters current again
  // (stages 1-2, and stage 3's persistent parameters, all-gather the partitions).
  void publish_parameters();
  void zero_grad();

  // Stage 3: gathers every group into the model, whole, until release_all() (to save,
  // evaluate or merge it). Collective; a no-op below stage 3.
  void gather_all();
  void release_all();
  // Stage 3, between gather_all() and release_all(): keeps what was written into the gathered
  // parameters (a checkpoint loaded in place) by copying this rank's part into its partition.
  void keep_gathered();

  // What the partitioner keeps, by its own accounting.
  ZeroMemory accounted() const;

  // model::ParamHooks
  void acquire(int group, bool grads, int next) override;
  void release(int group) override;
  void grads_ready(int group) override;

 private:
  struct Flat;
  void build(const std::vector<std::vector<model::ParamRef>>& groups);
  void gather(Flat& f);
  void prefetch(int group);
  void finish_prefetch(bool keep);
  void bind_values(Flat& f);
  void bind_grads(Flat& f);

  model::LlamaModel& model_;
  Communicator& comm_;
  ZeroOptions options_;
  std::vector<Flat> flats_;
  std::vector<std::vector<size_t>> by_group_;  // flats_ indices per parameter group
  std::vector<model::ParamRef> shard_;
  std::vector<ShardPiece> pieces_;
  std::deque<Tensor> shard_tensors_;  // the views shard_ points to (stable addresses)
  int64_t resident_frozen_bytes_ = 0;
  int prefetched_ = -1;  // the group whose gather is in flight
  std::vector<std::unique_ptr<PendingCollective>> pending_;
};

}  // namespace llmtune::parallel
