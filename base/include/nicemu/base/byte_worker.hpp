// nicemu/base/byte_worker.hpp — a second thread that moves payload bytes for the simulation.
//
// What it is: the process's one helper thread. The simulation thread hands it jobs — copy a TSO
//   segment's payload into a frame and checksum it, copy a received frame into its buffers and
//   verify its checksum, compare bytes an app read with the pattern the sender wrote — and goes
//   on with its events while the bytes move on the other core.
// Why results cannot depend on thread timing (DESIGN.md §5): jobs run one at a time in the order
//   they were handed over, so every byte ends up exactly as if each job had run at its hand-over.
//   The simulation thread waits for a job before it reads what the job writes (a frame's bytes,
//   a completion's checksum verdict, a flow's validation count) or reuses what the job reads (a
//   frame buffer, a transmitted page), and every owner of memory a job may touch drains the
//   worker before it frees it. With one thread (`set_threads(1)`) a job runs at hand-over.
// Not for: anything that decides simulated behaviour by itself (jobs only move and check bytes),
//   several simulation threads (one thread hands jobs over), jobs that throw or allocate.
// References: Disruptor-style single-producer single-consumer ring; the futex sleep/wake
//   handshake of folly's Baton (spin first, then sleep with a flag the producer checks).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace nicemu::base {

class ByteWorker {
 public:
  using Seq = std::uint64_t;  // jobs are numbered 1, 2, ... in hand-over order; 0 = none
  static constexpr std::size_t kSlots = 512;
  static constexpr std::size_t kJobBytes = 240;

  // The process's worker (created on first use; its thread starts with the first threaded job).
  static ByteWorker& get();

  // 2 (the default on a machine with two or more cores) runs jobs on the worker thread; 1 runs
  // each at hand-over. Waits for the jobs handed over so far first. The environment variable
  // NICEMU_THREADS (1 or 2) sets the default.
  void set_threads(unsigned n);
  unsigned threads() const { return threaded_ ? 2 : 1; }
  bool threaded() const { return threaded_; }

  // Hands `job` over (a trivially copyable callable of at most kJobBytes) and returns its number.
  template <class F>
  Seq run(F job) {
    static_assert(std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>,
                  "ByteWorker jobs are plain data: pointers, lengths and values");
    static_assert(sizeof(F) <= kJobBytes && alignof(F) <= 16, "ByteWorker job too large");
    if (!threaded_) {
      job();
      ++submitted_;
      completed_.store(submitted_, std::memory_order_relaxed);
      return submitted_;
    }
    Slot& s = claim_slot();
    ::new (static_cast<void*>(s.buf)) F(job);
    s.fn = [](void* p) { (*static_cast<F*>(p))(); };
    publish();
    return submitted_;
  }

  // The number of the last job handed over (0: none yet).
  Seq submitted() const { return submitted_; }
  bool done(Seq s) const { return completed_.load(std::memory_order_acquire) >= s; }
  // Returns once job `s` and every job before it has run.
  void wait(Seq s) {
    if (s > seen_done_) wait_slow(s);
  }
  // Returns once every job handed over so far has run.
  void drain() { wait(submitted_); }

  // Counters for the run summary and benchmarks.
  struct Stats {
    std::uint64_t jobs = 0;         // handed over
    std::uint64_t waits = 0;        // waits that found their job not done yet
    std::uint64_t full_waits = 0;   // hand-overs that found the ring full
    std::uint64_t sleeps = 0;       // times the worker went to sleep for want of work
  };
  Stats stats() const;

  ByteWorker(const ByteWorker&) = delete;
  ByteWorker& operator=(const ByteWorker&) = delete;

 private:
  struct alignas(64) Slot {
    void (*fn)(void*) = nullptr;
    alignas(16) std::byte buf[kJobBytes];
  };

  ByteWorker();
  ~ByteWorker() = delete;  // lives for the process: static objects may drain it at exit
  Slot& claim_slot();
  void publish();
  void wait_slow(Seq s);
  void start_thread();
  void worker_loop();

  bool threaded_ = false;
  bool started_ = false;
  Seq submitted_ = 0;  // simulation thread only
  Seq seen_done_ = 0;  // simulation thread's cache of completed_
  std::uint64_t waits_ = 0, full_waits_ = 0;
  Slot* slots_ = nullptr;

  alignas(64) std::atomic<Seq> published_{0};  // written by the simulation thread
  alignas(64) std::atomic<Seq> completed_{0};  // written by the worker
  std::atomic<std::uint64_t> sleeps_{0};
  alignas(64) std::atomic<bool> sleeping_{false};
  std::atomic<std::uint32_t> wake_{0};
};

}  // namespace nicemu::base
