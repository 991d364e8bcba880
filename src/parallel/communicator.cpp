#include "parallel/communicator.h"

#include <cstdlib>

#include "core/error.h"

namespace llmtune::parallel {
namespace {

void check_host_tensor(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw Error(str("parallel::", op, ": the ", what, " is undefined"));
  if (!t.device().is_cpu())
    throw Error(str("parallel::", op, ": the ", what, " ", t.str(), " is on ", t.device().str(),
                    "; collectives take host tensors (copy it to the CPU)"));
  if (!t.is_contiguous())
    throw Error(str("parallel::", op, ": the ", what, " ", t.str(),
                    " is not contiguous; pass a contiguous copy (Tensor::clone)"));
}

void check_reducible(const Tensor& t, const char* op) {
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16)
    throw Error(str("parallel::", op, ": cannot reduce ", t.str(),
                    "; reductions take F32 or BF16 tensors"));
}

void check_same_dtype(const Tensor& input, const Tensor& output, const char* op) {
  if (input.dtype() != output.dtype())
    throw Error(str("parallel::", op, ": input ", input.str(), " and output ", output.str(),
                    " differ in dtype"));
}

bool overlap(const Tensor& a, const Tensor& b) {
  auto* pa = static_cast<const char*>(a.raw());
  auto* pb = static_cast<const char*>(b.raw());
  return pa < pb + b.nbytes() && pb < pa + a.nbytes() && a.nbytes() > 0 && b.nbytes() > 0;
}

}  // namespace

void Communicator::check_all_reduce(const Tensor& t) {
  check_host_tensor(t, "all_reduce", "tensor");
  check_reducible(t, "all_reduce");
  const int64_t n = world_size();
  stats_.bytes_sent += 2 * (n - 1) * static_cast<int64_t>(t.nbytes()) / n;
  ++stats_.calls;
}

void Communicator::check_reduce_scatter(const Tensor& input, const Tensor& output) {
  check_host_tensor(input, "reduce_scatter", "input");
  check_host_tensor(output, "reduce_scatter", "output");
  check_reducible(input, "reduce_scatter");
  check_same_dtype(input, output, "reduce_scatter");
  const int64_t n = world_size();
  if (input.numel() % n != 0)
    throw Error(str("parallel::reduce_scatter: input ", input.str(), " has ", input.numel(),
                    " elements, not divisible by the world size ", n, "; pad it to a multiple of ",
                    n));
  if (output.numel() != input.numel() / n)
    throw Error(str("parallel::reduce_scatter: output ", output.str(), " has ", output.numel(),
                    " elements; input ", input.str(), " over ", n, " ranks needs ",
                    input.numel() / n));
  if (overlap(input, output))
    throw Error("parallel::reduce_scatter: input and output overlap; use separate buffers");
  stats_.bytes_sent += (n - 1) * static_cast<int64_t>(output.nbytes());
  ++stats_.calls;
}

bool Communicator::check_all_gather(const Tensor& input, const Tensor& output) {
  check_host_tensor(input, "all_gather", "input");
  check_host_tensor(output, "all_gather", "output");
  check_same_dtype(input, output, "all_gather");
  const int64_t n = world_size();
  if (output.numel() != input.numel() * n)
    throw Error(str("parallel::all_gather: output ", output.str(), " has ", output.numel(),
                    " elements; input ", input.str(), " from ", n, " ranks needs ",
                    input.numel() * n));
  const char* own_chunk = static_cast<const char*>(output.raw()) + rank() * input.nbytes();
  const bool in_place = input.numel() > 0 && input.raw() == own_chunk;
  if (!in_place && overlap(input, output))
    throw Error(str("parallel::all_gather: input overlaps output other than as rank ", rank(),
                    "'s chunk; use separate buffers or exactly this rank's chunk of output"));
  stats_.bytes_sent += (n - 1) * static_cast<int64_t>(input.nbytes());
  ++stats_.calls;
  return in_place;
}

void Communicator::check_broadcast(const Tensor& t, int root) {
  check_host_tensor(t, "broadcast", "tensor");
  if (root < 0 || root >= world_size())
    throw Error(str("parallel::broadcast: root ", root, " is not a rank of a world of size ",
                    world_size()));
  if (rank() == root && world_size() > 1) stats_.bytes_sent += static_cast<int64_t>(t.nbytes());
  ++stats_.calls;
}

std::unique_ptr<Communicator> make_communicator() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE"))
    return make_mpi_communicator();
  return make_local_communicator();
}

int64_t broadcast_value(Communicator& comm, int64_t value, int root) {
  if (comm.world_size() == 1) return value;
  const auto bits = static_cast<uint64_t>(value);
  Tensor t = Tensor::from_i32({static_cast<int32_t>(bits >> 32), static_cast<int32_t>(bits)}, {2});
  comm.broadcast(t, root);
  const std::vector<int32_t> v = t.to_i32();
  return static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(v[0])) << 32) |
                              static_cast<uint32_t>(v[1]));
}

}  // namespace llmtune::parallel
