// ByteWorkerThreads: runs a test with base::ByteWorker in a given mode (2: its thread on) and
// restores the mode it found when the test ends. GateJob: a job that holds the worker until the
// test opens the gate, so the test can queue jobs behind it.
#pragma once

#include <atomic>
#include <thread>

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

// Holds the worker in a job until `open` is set.
struct GateJob {
  const std::atomic<bool>* open;
  void operator()() const {
    while (!open->load(std::memory_order_acquire)) std::this_thread::yield();
  }
};

}  // namespace nicemu::testing
