// ByteWorker: the ring, the worker thread and the sleep/wake handshake (see byte_worker.hpp).
#include "nicemu/base/byte_worker.hpp"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "nicemu/base/assert.hpp"

namespace nicemu::base {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// About 20 µs of polling before the worker sleeps, and before a waiting simulation thread
// starts yielding its core (a machine with other work on it may have parked the worker).
constexpr int kSpins = 4000;

unsigned default_threads() {
  if (const char* e = std::getenv("NICEMU_THREADS")) {
    if (std::strcmp(e, "1") == 0) return 1;
    if (std::strcmp(e, "2") == 0) return 2;
  }
  return std::thread::hardware_concurrency() >= 2 ? 2 : 1;
}
}  // namespace

ByteWorker& ByteWorker::get() {
  static ByteWorker* w = new ByteWorker();  // never destroyed: see the header
  return *w;
}

ByteWorker::ByteWorker() : slots_(new Slot[kSlots]) { threaded_ = default_threads() == 2; }

void ByteWorker::set_threads(unsigned n) {
  NICEMU_ASSERT(n == 1 || n == 2, "ByteWorker::set_threads: 1 or 2");
  drain();
  // Both positions agree now (published == completed == submitted), whichever mode ran before.
  // completed_ first: a worker that sees the new published_ sees it too.
  completed_.store(submitted_, std::memory_order_release);
  published_.store(submitted_, std::memory_order_release);
  seen_done_ = submitted_;
  threaded_ = n == 2;
}

ByteWorker::Stats ByteWorker::stats() const {
  return Stats{submitted_, waits_, full_waits_, sleeps_.load(std::memory_order_relaxed)};
}

ByteWorker::Slot& ByteWorker::claim_slot() {
  if (!started_) start_thread();
  // The slot of job submitted_ + 1 is free once job submitted_ + 1 - kSlots has run.
  const Seq next = submitted_ + 1;
  if (next > kSlots && next - kSlots > seen_done_) {
    ++full_waits_;
    wait(next - kSlots);
  }
  return slots_[next % kSlots];
}

void ByteWorker::publish() {
  ++submitted_;
  published_.store(submitted_, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) {
    sleeping_.store(false, std::memory_order_relaxed);
    wake_.fetch_add(1, std::memory_order_seq_cst);
    wake_.notify_one();
  }
}

void ByteWorker::wait_slow(Seq s) {
  NICEMU_ASSERT(s <= submitted_, "ByteWorker::wait for a job not handed over");
  Seq d = completed_.load(std::memory_order_acquire);
  if (d < s) {
    ++waits_;
    for (int i = 0; d < s; ++i) {
      if (i < kSpins) cpu_relax();
      else std::this_thread::yield();
      d = completed_.load(std::memory_order_acquire);
    }
  }
  seen_done_ = d;
}

void ByteWorker::start_thread() {
  started_ = true;
  std::thread([this] { worker_loop(); }).detach();
}

void ByteWorker::worker_loop() {
  Seq done = completed_.load(std::memory_order_acquire);
  for (;;) {
    Seq avail = published_.load(std::memory_order_acquire);
    for (int i = 0; avail == done && i < kSpins; ++i) {
      cpu_relax();
      avail = published_.load(std::memory_order_acquire);
    }
    if (avail == done) {
      const std::uint32_t w = wake_.load(std::memory_order_seq_cst);
      sleeping_.store(true, std::memory_order_seq_cst);
      if (published_.load(std::memory_order_seq_cst) == done) {
        sleeps_.fetch_add(1, std::memory_order_relaxed);
        wake_.wait(w, std::memory_order_seq_cst);
      }
      sleeping_.store(false, std::memory_order_relaxed);
      continue;
    }
    // set_threads may have moved both positions while the worker had nothing to do.
    done = completed_.load(std::memory_order_acquire);
    while (done < avail) {
      Slot& s = slots_[(done + 1) % kSlots];
      s.fn(s.buf);
      ++done;
      completed_.store(done, std::memory_order_release);
    }
  }
}

}  // namespace nicemu::base
