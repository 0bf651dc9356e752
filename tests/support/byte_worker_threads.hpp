// ByteWorkerThreads: runs a test with base::ByteWorker in a given mode (2: its thread on) and
// restores the mode it found when the test ends.
#pragma once

#include "nicemu/base/byte_worker.hpp"

namespace nicemu::testing {

struct ByteWorkerThreads {
  base::ByteWorker& bw = base::ByteWorker::get();
  unsigned before = bw.threads();
  explicit ByteWorkerThreads(unsigned threads = 2) { bw.set_threads(threads); }
  ~ByteWorkerThreads() { bw.set_threads(before); }
  ByteWorkerThreads(const ByteWorkerThreads&) = delete;
  ByteWorkerThreads& operator=(const ByteWorkerThreads&) = delete;
};

}  // namespace nicemu::testing
