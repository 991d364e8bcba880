#include <cstring>

#include "parallel/communicator.h"

namespace llmtune::parallel {
namespace {

// One rank: a sum or average over one rank is the tensor itself (x / 1 == x, and a bf16 value
// survives the fp32 round trip), so reductions only check and count.
struct Done final : PendingCollective {
  void wait() override {}
};

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string_view name() const override { return "local"; }

  void all_reduce(Tensor& t, ReduceOp) override { check_all_reduce(t); }

  void reduce_scatter(const Tensor& input, Tensor& output, ReduceOp) override {
    check_reduce_scatter(input, output);
    if (input.nbytes() > 0) std::memcpy(output.raw(), input.raw(), input.nbytes());
  }

  void all_gather(const Tensor& input, Tensor& output) override {
    const bool in_place = check_all_gather(input, output);
    if (!in_place && input.nbytes() > 0) std::memcpy(output.raw(), input.raw(), input.nbytes());
  }

  std::unique_ptr<PendingCollective> all_gather_start(const Tensor& input,
                                                      Tensor& output) override {
    all_gather(input, output);
    return std::make_unique<Done>();
  }

  void broadcast(Tensor& t, int root) override { check_broadcast(t, root); }

  void barrier() override { count_barrier(); }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() {
  return std::make_unique<LocalCommunicator>();
}

}  // namespace llmtune::parallel
