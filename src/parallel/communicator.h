// Communicator: the collectives that ZeRO training needs (all-reduce, reduce-scatter,
// all-gather, broadcast, barrier) over the processes of one job, with per-rank traffic counters.
//
// Every rank must call the same collectives in the same order with tensors of the same shapes
// and dtypes. Arguments are checked before anything is sent, so a bad call (wrong size,
// unsupported dtype) throws llmtune::Error on every rank alike instead of hanging the others.
//
// Failures: an MPI error returned by a collective becomes llmtune::Error naming the operation.
// Ranks that disagree on sizes are undefined behaviour in MPI (a truncation error at best), so
// keep shapes rank-independent. A rank that dies (crash, kill, out of memory) or exits non-zero
// is detected by Open MPI's runtime, which then aborts the whole job under mpirun, ranks
// waiting in a collective included; there are no heartbeats here.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/tensor.h"

namespace llmtune::parallel {

enum class ReduceOp { kSum, kAvg };  // kAvg divides the fp32 sum by the world size

// Bytes this rank sends, by the ring-algorithm formulas, whatever algorithm MPI picks, so that
// tests can compare them with the ZeRO paper's volumes. With N ranks and a tensor of B bytes
// (in its own dtype: a bf16 tensor counts 2 bytes an element even though it is summed in fp32):
//   all_reduce      2(N-1)/N * B  (rounded down)
//   reduce_scatter  (N-1)/N * B of the input  = (N-1) * output bytes
//   all_gather      (N-1)/N * B of the output = (N-1) * input bytes
//   broadcast       B on the root (the payload leaves it once), 0 elsewhere
//   barrier         0
// With one rank every count is 0. `calls` counts every collective, barriers included.
struct CommStats {
  int64_t bytes_sent = 0;
  int64_t calls = 0;
};

// A collective that was started and may still be running. wait() finishes it (the destructor
// does too); until then its buffers must stay alive and untouched.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // "local" or "mpi", for logs and tests.
  virtual std::string_view name() const = 0;

  // Tensors are contiguous host (CPU) tensors. Reductions take F32 or BF16: BF16 is reduced in
  // fp32 and rounded once (to nearest even), so every rank gets identical bytes. all_gather and
  // broadcast move bytes and take any dtype.

  // In place: t becomes the elementwise sum (or average) of t over all ranks.
  virtual void all_reduce(Tensor& t, ReduceOp op = ReduceOp::kSum) = 0;
  // input: world_size equal chunks along the flat element order; output: this rank's reduced
  // chunk (numel = input.numel() / world_size, same dtype; shapes are free). The two must not
  // overlap.
  virtual void reduce_scatter(const Tensor& input, Tensor& output,
                              ReduceOp op = ReduceOp::kSum) = 0;
  // input: this rank's chunk; output: all chunks in rank order (numel = input.numel() *
  // world_size, same dtype). input may be exactly this rank's chunk of output (in place, as
  // ZeRO-3 gathers a flat parameter buffer); any other overlap is refused.
  virtual void all_gather(const Tensor& input, Tensor& output) = 0;
  // all_gather without waiting for it: output is complete after the returned wait(). Ranks must
  // start collectives, blocking or not, in the same order; it is counted when started.
  virtual std::unique_ptr<PendingCollective> all_gather_start(const Tensor& input,
                                                              Tensor& output) = 0;
  // In place: every rank gets root's t.
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void barrier() = 0;

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 protected:
  // Argument checks shared by the implementations: they throw llmtune::Error and, when the
  // call is valid, count it in stats_ by the formulas above.
  void check_all_reduce(const Tensor& t);
  void check_reduce_scatter(const Tensor& input, const Tensor& output);
  // Returns true when input is exactly this rank's chunk of output (an in-place gather).
  bool check_all_gather(const Tensor& input, const Tensor& output);
  void check_broadcast(const Tensor& t, int root);
  void count_barrier() { ++stats_.calls; }

  CommStats stats_;
};

// World size 1: collectives are copies (or nothing), no traffic.
std::unique_ptr<Communicator> make_local_communicator();

// All processes of MPI_COMM_WORLD (on a private duplicate of it, with MPI_ERRORS_RETURN).
// Initializes MPI (MPI_THREAD_SERIALIZED: one thread at a time calls collectives) if no one
// has, and then finalizes it at exit. Collective: every rank must call it. Throws
// llmtune::Error if MPI cannot be used (already finalized, or too little thread support).
std::unique_ptr<Communicator> make_mpi_communicator();

// root's value on every rank (collective).
int64_t broadcast_value(Communicator& comm, int64_t value, int root);

// The communicator for this process: MPI when launched by mpirun or srun
// (OMPI_COMM_WORLD_SIZE or PMI_SIZE in the environment), else local.
std::unique_ptr<Communicator> make_communicator();

}  // namespace llmtune::parallel
