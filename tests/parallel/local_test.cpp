// The local communicator (world size 1): collectives are copies, and its argument checks are
// the ones every communicator shares.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "parallel/communicator.h"

namespace llmtune::parallel {
namespace {

std::vector<uint8_t> bytes_of(const Tensor& t) {
  std::vector<uint8_t> b(t.nbytes());
  t.copy_to_host(b.data());
  return b;
}

TEST(LocalCommunicator, IsRankZeroOfOne) {
  auto comm = make_local_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world_size(), 1);
  EXPECT_EQ(comm->name(), "local");
}

TEST(LocalCommunicator, MakeCommunicatorIsLocalOutsideMpirun) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE"))
    GTEST_SKIP() << "running under an MPI launcher";
  EXPECT_EQ(make_communicator()->name(), "local");
}

TEST(LocalCommunicator, CollectivesCopyAndCountCallsButNoBytes) {
  auto comm = make_local_communicator();
  const std::vector<float> values = {1.5f, -0.1f, 3.0e-3f, 7.0f};
  for (DType dtype : {DType::F32, DType::BF16}) {
    const Tensor original = Tensor::from_f32(values, {2, 2}, dtype);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
      Tensor t = original.clone();
      comm->all_reduce(t, op);
      EXPECT_EQ(bytes_of(t), bytes_of(original));
    }
    Tensor chunk = Tensor::zeros({4}, dtype);
    comm->reduce_scatter(original, chunk);
    EXPECT_EQ(bytes_of(chunk), bytes_of(original));
    Tensor gathered = Tensor::zeros({1, 4}, dtype);
    comm->all_gather(chunk, gathered);
    EXPECT_EQ(bytes_of(gathered), bytes_of(original));
    comm->all_gather(gathered.view({4}), gathered);  // in place
    EXPECT_EQ(bytes_of(gathered), bytes_of(original));
    Tensor started = Tensor::zeros({1, 4}, dtype);
    comm->all_gather_start(chunk, started)->wait();
    EXPECT_EQ(bytes_of(started), bytes_of(original));
    Tensor b = original.clone();
    comm->broadcast(b, 0);
    EXPECT_EQ(bytes_of(b), bytes_of(original));
  }
  comm->barrier();
  EXPECT_EQ(comm->stats().calls, 2 * 7 + 1);
  EXPECT_EQ(comm->stats().bytes_sent, 0);
  comm->reset_stats();
  EXPECT_EQ(comm->stats().calls, 0);
}

TEST(LocalCommunicator, RefusesBadArguments) {
  auto comm = make_local_communicator();
  Tensor ids = Tensor::from_i32({1, 2}, {2});
  EXPECT_THROW(comm->all_reduce(ids), Error);
  Tensor half = Tensor::zeros({2}, DType::F16);
  EXPECT_THROW(comm->all_reduce(half), Error);
  Tensor undefined;
  EXPECT_THROW(comm->all_reduce(undefined), Error);
  Tensor strided = Tensor::zeros({2, 4}, DType::F32).narrow(1, 0, 2);
  EXPECT_THROW(comm->all_reduce(strided), Error);

  const Tensor input = Tensor::zeros({4}, DType::F32);
  Tensor small = Tensor::zeros({3}, DType::F32);
  EXPECT_THROW(comm->reduce_scatter(input, small), Error);
  Tensor bf16 = Tensor::zeros({4}, DType::BF16);
  EXPECT_THROW(comm->reduce_scatter(input, bf16), Error);
  Tensor same = input;
  EXPECT_THROW(comm->reduce_scatter(input, same), Error);  // overlapping

  Tensor big = Tensor::zeros({5}, DType::F32);
  EXPECT_THROW(comm->all_gather(input, big), Error);
  Tensor buffer = Tensor::zeros({8}, DType::F32);
  Tensor window = buffer.narrow(0, 2, 4);
  EXPECT_THROW(comm->all_gather(buffer.narrow(0, 1, 4), window), Error);  // overlapping

  Tensor t = Tensor::zeros({2}, DType::F32);
  EXPECT_THROW(comm->broadcast(t, 1), Error);
  EXPECT_THROW(comm->broadcast(t, -1), Error);
  EXPECT_EQ(comm->stats().calls, 0);

  try {
    comm->all_reduce(ids);
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "parallel::all_reduce: cannot reduce I32[2]; reductions take F32 or BF16 tensors");
  }
}

}  // namespace
}  // namespace llmtune::parallel
