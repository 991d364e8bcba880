// The MPI communicator under mpirun (see CMakeLists.txt: 1, 2 and 3 ranks). Every rank runs
// every test; each rank's data is a Philox stream of its rank, so any rank can compute what
// the collectives must produce. Tests make all their collective calls before checking, and
// check with EXPECT, so a failure on one rank cannot leave the others waiting.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/philox.h"
#include "core/tensor.h"
#include "parallel/communicator.h"
#include "parallel/mpi_main.h"

namespace llmtune::parallel {
namespace {

Communicator& comm() {
  return test::mpi_comm();
}

constexpr uint64_t kSeed = 20250611;

// Rank r's values for a test: k/256 with k in [-256, 256]. They are exact in bf16, and their
// fp32 sums over a few ranks are exact in any order, so the expected results do not depend on
// the order in which MPI adds.
std::vector<float> exact_data(int rank, int64_t n, uint64_t tag) {
  const PhiloxStream stream(kSeed, philox_stream(tag, static_cast<uint64_t>(rank)));
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(static_cast<int>(stream.bits(i) % 513) - 256) / 256.0f;
  return v;
}

// What all_reduce must give: the fp32 sum over ranks (divided by the world size for kAvg),
// rounded once to bf16 for BF16.
std::vector<float> expected_reduce(int64_t n, uint64_t tag, ReduceOp op, DType dtype) {
  const int world = comm().world_size();
  std::vector<float> sum(n, 0.0f);
  for (int r = 0; r < world; ++r) {
    const std::vector<float> v = exact_data(r, n, tag);
    for (int64_t i = 0; i < n; ++i) sum[i] += v[i];
  }
  for (float& x : sum) {
    if (op == ReduceOp::kAvg) x /= static_cast<float>(world);
    if (dtype == DType::BF16) x = bf16_to_f32(f32_to_bf16(x));
  }
  return sum;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  std::vector<uint8_t> b(t.nbytes());
  t.copy_to_host(b.data());
  return b;
}

const char* op_name(ReduceOp op) {
  return op == ReduceOp::kSum ? "sum" : "avg";
}

const DType kFloatTypes[] = {DType::F32, DType::BF16};
const ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kAvg};

TEST(MpiCommunicator, MakeCommunicatorPicksMpiUnderMpirun) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  ASSERT_NE(size, nullptr) << "run under Open MPI's mpirun";
  auto picked = make_communicator();
  EXPECT_EQ(picked->name(), "mpi");
  EXPECT_EQ(picked->world_size(), std::atoi(size));
  EXPECT_EQ(picked->rank(), rank ? std::atoi(rank) : -1);
  EXPECT_EQ(comm().name(), "mpi");
  EXPECT_EQ(comm().world_size(), std::atoi(size));
}

TEST(MpiCommunicator, AllReduceSumsOrAveragesAndCountsRingBytes) {
  const int64_t world = comm().world_size();
  uint64_t tag = 100;
  for (DType dtype : kFloatTypes) {
    for (ReduceOp op : kOps) {
      for (int64_t n : {1, 7, 4097, 300001}) {
        ++tag;
        Tensor t = Tensor::from_f32(exact_data(comm().rank(), n, tag), {n}, dtype);
        comm().reset_stats();
        comm().all_reduce(t, op);
        SCOPED_TRACE(str(dtype_name(dtype), " ", op_name(op), " n=", n));
        EXPECT_EQ(t.to_f32(), expected_reduce(n, tag, op, dtype));
        EXPECT_EQ(comm().stats().bytes_sent,
                  2 * (world - 1) * static_cast<int64_t>(t.nbytes()) / world);
        EXPECT_EQ(comm().stats().calls, 1);
      }
    }
  }
}

TEST(MpiCommunicator, ReduceScatterGivesThisRanksReducedChunk) {
  const int world = comm().world_size(), rank = comm().rank();
  uint64_t tag = 200;
  for (DType dtype : kFloatTypes) {
    for (ReduceOp op : kOps) {
      for (int64_t chunk : {1, 3, 1000, 100003}) {
        ++tag;
        const int64_t n = chunk * world;
        const Tensor input = Tensor::from_f32(exact_data(rank, n, tag), {n}, dtype);
        Tensor output = Tensor::empty({chunk}, dtype);
        comm().reset_stats();
        comm().reduce_scatter(input, output, op);
        SCOPED_TRACE(str(dtype_name(dtype), " ", op_name(op), " chunk=", chunk));
        const std::vector<float> all = expected_reduce(n, tag, op, dtype);
        EXPECT_EQ(output.to_f32(),
                  std::vector<float>(all.begin() + rank * chunk, all.begin() + (rank + 1) * chunk));
        EXPECT_EQ(comm().stats().bytes_sent, (world - 1) * static_cast<int64_t>(output.nbytes()));
        EXPECT_EQ(comm().stats().calls, 1);
      }
    }
  }
}

TEST(MpiCommunicator, AllGatherConcatenatesChunksInRankOrder) {
  const int world = comm().world_size(), rank = comm().rank();
  uint64_t tag = 300;
  for (DType dtype : {DType::F32, DType::BF16, DType::I32}) {
    for (int64_t chunk : {1, 5, 100003}) {
      ++tag;
      auto make = [&](int r) {
        const std::vector<float> v = exact_data(r, chunk, tag);
        if (dtype != DType::I32) return Tensor::from_f32(v, {chunk}, dtype);
        std::vector<int32_t> ids(v.size());
        for (size_t i = 0; i < v.size(); ++i) ids[i] = static_cast<int32_t>(v[i] * 256);
        return Tensor::from_i32(ids, {chunk});
      };
      std::vector<uint8_t> expected;
      for (int r = 0; r < world; ++r) {
        const std::vector<uint8_t> b = bytes_of(make(r));
        expected.insert(expected.end(), b.begin(), b.end());
      }
      Tensor output = Tensor::zeros({world, chunk}, dtype);
      comm().reset_stats();
      comm().all_gather(make(rank), output);
      SCOPED_TRACE(str(dtype_name(dtype), " chunk=", chunk));
      EXPECT_EQ(bytes_of(output), expected);
      EXPECT_EQ(comm().stats().bytes_sent,
                (world - 1) * chunk * static_cast<int64_t>(dtype_size(dtype)));
      EXPECT_EQ(comm().stats().calls, 1);

      // In place: this rank's chunk is already where it belongs in the output.
      Tensor flat = Tensor::zeros({world * chunk}, dtype);
      flat.narrow(0, rank * chunk, chunk).copy_(make(rank));
      comm().all_gather(flat.narrow(0, rank * chunk, chunk), flat);
      EXPECT_EQ(bytes_of(flat), expected);

      // Started, then a blocking collective in between, then finished (ZeRO-3's prefetch).
      Tensor later = Tensor::zeros({world, chunk}, dtype);
      const Tensor mine = make(rank);
      comm().reset_stats();
      auto pending = comm().all_gather_start(mine, later);
      Tensor one = Tensor::from_f32({1.0f}, {1});
      comm().all_reduce(one);
      pending->wait();
      EXPECT_EQ(bytes_of(later), expected);
      EXPECT_EQ(one.item(), static_cast<float>(world));
      EXPECT_EQ(comm().stats().calls, 2);
    }
  }
}

TEST(MpiCommunicator, BroadcastFromAnyRootCountsBytesOnTheRoot) {
  const int world = comm().world_size(), rank = comm().rank();
  for (int root : {world - 1, 0}) {  // world - 1 is a non-zero root when there are 2+ ranks
    for (DType dtype : kFloatTypes) {
      const int64_t n = 5000;
      const uint64_t tag = 400 + root;
      Tensor t = Tensor::from_f32(exact_data(rank, n, tag), {n}, dtype);
      comm().reset_stats();
      comm().broadcast(t, root);
      SCOPED_TRACE(str(dtype_name(dtype), " root=", root));
      EXPECT_EQ(t.to_f32(), Tensor::from_f32(exact_data(root, n, tag), {n}, dtype).to_f32());
      EXPECT_EQ(comm().stats().bytes_sent,
                rank == root && world > 1 ? static_cast<int64_t>(t.nbytes()) : 0);
      EXPECT_EQ(comm().stats().calls, 1);
    }
  }
  Tensor ids = Tensor::from_i32({rank, rank + 7, -rank}, {3});
  comm().broadcast(ids, world - 1);
  EXPECT_EQ(ids.to_i32(), (std::vector<int32_t>{world - 1, world + 6, 1 - world}));
}

// Sums of normal values round, and every rank must still get the same bytes: each rank's
// result is gathered and compared with this rank's.
TEST(MpiCommunicator, ReductionsGiveEveryRankIdenticalBytes) {
  const int world = comm().world_size(), rank = comm().rank();
  const int64_t n = 100003;
  for (DType dtype : kFloatTypes) {
    for (ReduceOp op : kOps) {
      std::vector<float> mine(n), sum(n, 0.0f);
      for (int r = 0; r < world; ++r) {
        std::vector<float> v(n);
        PhiloxStream(kSeed, philox_stream(500, r)).fill_normal(v.data(), n, 0.0f, 1.0f);
        v = Tensor::from_f32(v, {n}, dtype).to_f32();
        if (r == rank) mine = v;
        for (int64_t i = 0; i < n; ++i) sum[i] += v[i];
      }
      if (op == ReduceOp::kAvg)
        for (float& x : sum) x /= static_cast<float>(world);
      Tensor t = Tensor::from_f32(mine, {n}, dtype);
      comm().all_reduce(t, op);
      Tensor everyone = Tensor::empty({world, n}, dtype);
      comm().all_gather(t, everyone);
      SCOPED_TRACE(str(dtype_name(dtype), " ", op_name(op)));
      const std::vector<uint8_t> own = bytes_of(t);
      for (int r = 0; r < world; ++r)
        EXPECT_EQ(bytes_of(everyone.narrow(0, r, 1)), own) << "rank " << r << " differs";
      const std::vector<float> got = t.to_f32();
      const double rel = dtype == DType::F32 ? 1e-6 : 1.0 / 256;  // a rounding of each
      int64_t far = 0;
      for (int64_t i = 0; i < n; ++i)
        far += std::fabs(double{got[i]} - sum[i]) > rel * std::fabs(sum[i]) + 1e-6;
      EXPECT_EQ(far, 0) << "elements far from the fp32 sum";
    }
  }
}

// Rank 0 arrives late; after the barrier every rank sees every rank's marker file.
TEST(MpiCommunicator, BarrierWaitsForEveryRank) {
  const int world = comm().world_size(), rank = comm().rank();
  Tensor pid = Tensor::from_i32({static_cast<int32_t>(getpid())}, {1});
  comm().broadcast(pid, 0);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / str("llmtune_barrier_", pid.to_i32()[0]);
  std::filesystem::create_directories(dir);
  if (rank == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::ofstream(dir / str("rank", rank)) << rank;
  comm().reset_stats();
  comm().barrier();
  for (int r = 0; r < world; ++r)
    EXPECT_TRUE(std::filesystem::exists(dir / str("rank", r))) << "rank " << r;
  EXPECT_EQ(comm().stats().calls, 1);
  EXPECT_EQ(comm().stats().bytes_sent, 0);
  comm().barrier();  // nobody looks any more
  if (rank == 0) std::filesystem::remove_all(dir);
}

// Every rank makes the same bad call, so every rank throws before sending anything and the
// communicator stays usable.
TEST(MpiCommunicator, RefusesBadCallsOnEveryRankAlike) {
  const int world = comm().world_size();
  comm().reset_stats();
  if (world > 1) {
    const Tensor uneven = Tensor::zeros({world * 4 + 1}, DType::F32);
    Tensor out = Tensor::zeros({4}, DType::F32);
    try {
      comm().reduce_scatter(uneven, out);
      ADD_FAILURE() << "uneven reduce_scatter accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not divisible by the world size"), std::string::npos)
          << e.what();
    }
  }
  const Tensor input = Tensor::zeros({world * 4}, DType::F32);
  Tensor wrong = Tensor::zeros({5}, DType::F32);
  EXPECT_THROW(comm().reduce_scatter(input, wrong), Error);
  Tensor bf16_out = Tensor::zeros({4}, DType::BF16);
  EXPECT_THROW(comm().reduce_scatter(input, bf16_out), Error);
  Tensor gathered = Tensor::zeros({world * 4 + 1}, DType::F32);
  EXPECT_THROW(comm().all_gather(Tensor::zeros({4}, DType::F32), gathered), Error);
  Tensor ids = Tensor::from_i32({1, 2}, {2});
  EXPECT_THROW(comm().all_reduce(ids), Error);
  Tensor half = Tensor::zeros({2}, DType::F16);
  EXPECT_THROW(comm().all_reduce(half), Error);
  Tensor t = Tensor::zeros({2}, DType::F32);
  EXPECT_THROW(comm().broadcast(t, world), Error);
  EXPECT_EQ(comm().stats().calls, 0);
  EXPECT_EQ(comm().stats().bytes_sent, 0);

  Tensor ones = Tensor::from_f32({1.0f}, {1});
  comm().all_reduce(ones);
  EXPECT_EQ(ones.item(), static_cast<float>(world));
}

}  // namespace
}  // namespace llmtune::parallel

int main(int argc, char** argv) {
  return llmtune::test::mpi_test_main(argc, argv);
}
