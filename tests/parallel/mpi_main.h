// main() for GoogleTest binaries that run under mpirun: every rank runs every test on the
// MPI communicator that mpi_comm() returns; ranks other than 0 print only their failures,
// each line marked with the rank. Tests must make all their collective calls before checking
// (with EXPECT), so that a failure on one rank cannot leave the others waiting.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <memory>

#include "core/error.h"
#include "parallel/communicator.h"

namespace llmtune::test {

inline parallel::Communicator*& mpi_comm_slot() {
  static parallel::Communicator* comm = nullptr;
  return comm;
}

inline parallel::Communicator& mpi_comm() {
  return *mpi_comm_slot();
}

class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    // One write per message, so that the ranks' lines do not interleave.
    std::cerr << str("[rank ", rank_, "] ", result.file_name() ? result.file_name() : "?", ":",
                     result.line_number(), ": ", result.message(), "\n");
  }
  void OnTestEnd(const testing::TestInfo& info) override {
    if (info.result()->Failed())
      std::cerr << str("[rank ", rank_, "] FAILED ", info.test_suite_name(), ".", info.name(),
                       "\n");
  }

 private:
  int rank_;
};

inline int mpi_test_main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto comm = parallel::make_mpi_communicator();
  mpi_comm_slot() = comm.get();
  if (comm->rank() != 0) {
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(comm->rank()));
  }
  const int failed = RUN_ALL_TESTS();
  mpi_comm_slot() = nullptr;
  return failed;
}

}  // namespace llmtune::test
