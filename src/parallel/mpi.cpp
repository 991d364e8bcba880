#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "parallel/communicator.h"

namespace llmtune::parallel {
namespace {

void check_mpi(int rc, const char* op, int rank) {
  if (rc == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, message, &length);
  const std::string where = rank >= 0 ? str(" on rank ", rank) : "";
  throw Error(str("MPI: ", op, " failed", where, ": ", std::string(message, length), " (MPI error ",
                  rc, "); check that every rank makes the same calls with the same sizes"));
}

// MPI counts are ints: one call moves at most INT_MAX elements.
int mpi_count(int64_t n, const char* op) {
  if (n > INT_MAX)
    throw Error(str("parallel::", op, ": ", n, " elements per rank exceed MPI's limit of ", INT_MAX,
                    " in one call; split the tensor into buckets"));
  return static_cast<int>(n);
}

// The element type that moves a dtype's bytes unchanged.
MPI_Datatype mpi_bits_type(DType dtype) {
  return dtype_size(dtype) == 4 ? MPI_UINT32_T : MPI_UINT16_T;
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void init_mpi() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized)
    throw Error(
        "MPI: MPI was already finalized in this process; create the communicator "
        "before anything ends MPI");
  if (!initialized) {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided),
              "MPI_Init_thread", -1);
    std::atexit(finalize_at_exit);
  }
  int provided = 0;
  MPI_Query_thread(&provided);
  if (provided < MPI_THREAD_SERIALIZED)
    throw Error(str("MPI: MPI provides thread level ", provided,
                    ", below MPI_THREAD_SERIALIZED; use an MPI built with thread support"));
}

// Divides a sum by the world size, the same way on every rank.
void divide(float* x, int64_t n, int world) {
  const float w = static_cast<float>(world);
  for (int64_t i = 0; i < n; ++i) x[i] /= w;
}

// A started MPI collective.
class MpiPending final : public PendingCollective {
 public:
  explicit MpiPending(int rank) : rank_(rank) {}
  ~MpiPending() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (request != MPI_REQUEST_NULL && !finalized) MPI_Wait(&request, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (request == MPI_REQUEST_NULL) return;
    check_mpi(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait", rank_);
  }
  MPI_Request request = MPI_REQUEST_NULL;

 private:
  int rank_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    init_mpi();
    // A private duplicate keeps our error handler and traffic apart from other MPI users.
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup", -1);
    check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", -1);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &world_);
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string_view name() const override { return "mpi"; }

  void all_reduce(Tensor& t, ReduceOp op) override {
    check_all_reduce(t);
    const int64_t n = t.numel();
    if (t.dtype() == DType::F32) {
      all_reduce_f32(t.data<float>(), n, op);
      return;
    }
    std::vector<float> sum(n);
    convert_floats(sum.data(), DType::F32, t.raw(), DType::BF16, n);
    all_reduce_f32(sum.data(), n, op);
    convert_floats(t.raw(), DType::BF16, sum.data(), DType::F32, n);
  }

  void reduce_scatter(const Tensor& input, Tensor& output, ReduceOp op) override {
    check_reduce_scatter(input, output);
    const int64_t n = output.numel();
    const int count = mpi_count(n, "reduce_scatter");
    if (input.dtype() == DType::F32) {
      check_mpi(
          MPI_Reduce_scatter_block(input.raw(), output.raw(), count, MPI_FLOAT, MPI_SUM, comm_),
          "MPI_Reduce_scatter_block", rank_);
      if (op == ReduceOp::kAvg) divide(output.data<float>(), n, world_);
      return;
    }
    std::vector<float> all(input.numel()), mine(n);
    convert_floats(all.data(), DType::F32, input.raw(), DType::BF16, all.size());
    check_mpi(MPI_Reduce_scatter_block(all.data(), mine.data(), count, MPI_FLOAT, MPI_SUM, comm_),
              "MPI_Reduce_scatter_block", rank_);
    if (op == ReduceOp::kAvg) divide(mine.data(), n, world_);
    convert_floats(output.raw(), DType::BF16, mine.data(), DType::F32, n);
  }

  void all_gather(const Tensor& input, Tensor& output) override {
    const bool in_place = check_all_gather(input, output);
    const int count = mpi_count(input.numel(), "all_gather");
    const MPI_Datatype type = mpi_bits_type(input.dtype());
    check_mpi(MPI_Allgather(in_place ? MPI_IN_PLACE : input.raw(), count, type, output.raw(), count,
                            type, comm_),
              "MPI_Allgather", rank_);
  }

  std::unique_ptr<PendingCollective> all_gather_start(const Tensor& input,
                                                      Tensor& output) override {
    const bool in_place = check_all_gather(input, output);
    const int count = mpi_count(input.numel(), "all_gather");
    const MPI_Datatype type = mpi_bits_type(input.dtype());
    auto pending = std::make_unique<MpiPending>(rank_);
    check_mpi(MPI_Iallgather(in_place ? MPI_IN_PLACE : input.raw(), count, type, output.raw(),
                             count, type, comm_, &pending->request),
              "MPI_Iallgather", rank_);
    return pending;
  }

  void broadcast(Tensor& t, int root) override {
    check_broadcast(t, root);
    const MPI_Datatype type = mpi_bits_type(t.dtype());
    auto* p = static_cast<char*>(t.raw());
    for (int64_t done = 0, n = t.numel(); done < n;) {
      const int count = static_cast<int>(std::min<int64_t>(n - done, INT_MAX));
      check_mpi(MPI_Bcast(p + done * dtype_size(t.dtype()), count, type, root, comm_), "MPI_Bcast",
                rank_);
      done += count;
    }
  }

  void barrier() override {
    count_barrier();
    check_mpi(MPI_Barrier(comm_), "MPI_Barrier", rank_);
  }

 private:
  // In place over chunks of at most INT_MAX elements (a sum is elementwise, so chunks are free).
  void all_reduce_f32(float* x, int64_t n, ReduceOp op) {
    for (int64_t done = 0; done < n;) {
      const int count = static_cast<int>(std::min<int64_t>(n - done, INT_MAX));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, x + done, count, MPI_FLOAT, MPI_SUM, comm_),
                "MPI_Allreduce", rank_);
      done += count;
    }
    if (op == ReduceOp::kAvg) divide(x, n, world_);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int world_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() {
  return std::make_unique<MpiCommunicator>();
}

}  // namespace llmtune::parallel
