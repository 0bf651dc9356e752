// nicemu/base/byte_worker.hpp — a second thread that moves payload bytes for the simulation.
//
// What it is: the process's one helper thread. The simulation thread hands it jobs — copy a TSO
//   segment's payload into a frame and checksum it, copy a received frame into its buffers and
//   verify its checksum, compare bytes an app read with the pattern the sender wrote, fill an
//   app's write buffer, copy it into a socket's pages — and goes on with its events while the
//   bytes move on the other core.
// Two lanes: foreground jobs (the NIC's DMA and the receivers' checks, which the simulation waits
//   for soon) and background jobs (senders' buffer fills and send() copies, needed only when the
//   NIC reads those pages). Each lane runs its jobs one at a time in hand-over order; the worker
//   prefers the foreground lane, and a foreground job handed over with `after` (a background
//   job) runs only once that one has. Jobs of different lanes never touch the same bytes except
//   through such an `after` (or through a wait of the simulation thread between them), so a
//   long background job may let foreground jobs run between its pieces (yield_to_foreground).
// Why results cannot depend on thread timing (DESIGN.md §5): with those orders every byte ends up
//   exactly as if each job had run at its hand-over. The simulation thread waits for a job before
//   it reads what the job writes (a frame's bytes, a completion's checksum verdict, a page's
//   bytes, a flow's validation count) or reuses what the job reads (a frame buffer, a transmitted
//   page), and every owner of memory a job may touch drains the worker before it frees it. With
//   one thread (`set_threads(1)`) a job runs at hand-over.
// Not for: anything that decides simulated behaviour by itself (jobs only move and check bytes),
//   several simulation threads (one thread hands jobs over), jobs that throw or allocate.
// References: Disruptor-style single-producer single-consumer rings; the futex sleep/wake
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
  // A job's number: its lane in the top bit (set: background), then 1, 2, ... in hand-over order
  // within the lane. 0 = none.
  using Seq = std::uint64_t;
  static constexpr Seq kBackgroundBit = Seq{1} << 63;
  static constexpr std::size_t kSlots = 512;  // per lane
  static constexpr std::size_t kJobBytes = 232;

  // The process's worker (created on first use; its thread starts with the first threaded job).
  static ByteWorker& get();

  // 2 (the default on a machine with two or more cores) runs jobs on the worker thread; 1 runs
  // each at hand-over. Waits for the jobs handed over so far first. The environment variable
  // NICEMU_THREADS (1 or 2) sets the default.
  void set_threads(unsigned n);
  unsigned threads() const { return threaded_ ? 2 : 1; }
  bool threaded() const { return threaded_; }

  // Hands `job` (a trivially copyable callable of at most kJobBytes) to the foreground lane, to
  // run after background job `after` (0: none); returns its number.
  template <class F>
  Seq run(F job, Seq after = 0) {
    return hand_over(kForeground, job, after);
  }
  // Hands `job` to the background lane.
  template <class F>
  Seq run_background(F job) {
    return hand_over(kBackground, job, 0);
  }

  // The number of the last job handed over to the foreground lane / the background lane.
  Seq submitted() const { return lanes_[kForeground].submitted; }
  Seq submitted_background() const { return lanes_[kBackground].submitted | kBackgroundBit; }
  bool done(Seq s) const { return s == 0 || lanes_[lane_of(s)].completed.load(std::memory_order_acquire) >= index_of(s); }
  // Whether fewer than `n` foreground jobs are handed over and not run yet: a load balancer's
  // hint (the simulation thread may do a job's work itself when the worker is behind). Reads the
  // worker's position (a cache line the worker writes) only when the last one seen says no.
  bool queued_below(std::uint64_t n) {
    Lane& l = lanes_[kForeground];
    if (l.submitted - l.seen_done < n) return true;
    l.seen_done = l.completed.load(std::memory_order_acquire);
    return l.submitted - l.seen_done < n;
  }
  // Returns once job `s` and every job before it in its lane has run (s == 0: at once).
  void wait(Seq s) {
    if (index_of(s) > lanes_[lane_of(s)].seen_done) wait_slow(s);
  }
  // Returns once every job handed over so far has run.
  void drain() {
    wait(submitted());
    wait(submitted_background());
  }

  // Called by a background job between pieces of its work: on the worker thread, runs the
  // foreground jobs handed over so far that do not wait for this background job (or a later
  // one), so a long copy does not hold up the NIC's jobs the simulation is about to wait for;
  // anywhere else (one thread, the simulation thread), nothing. A background job calls it only
  // where it touches no bytes a foreground job may read or write, which holds anywhere in a
  // job: the lanes share bytes only through `after`.
  void yield_to_foreground() {
    if (in_background_job_) yield_slow();
  }

  // Counters for the run summary.
  struct Stats {
    std::uint64_t jobs = 0;   // handed over (both lanes)
    std::uint64_t waits = 0;  // waits that found their job not done yet (a full ring's included)
    std::uint64_t wait_ns = 0;  // wall time the simulation thread spent in those waits
  };
  Stats stats() const;

  ByteWorker(const ByteWorker&) = delete;
  ByteWorker& operator=(const ByteWorker&) = delete;

 private:
  static constexpr unsigned kForeground = 0, kBackground = 1;
  struct alignas(64) Slot {
    void (*fn)(void*) = nullptr;
    Seq after = 0;  // foreground only: the background job to run first
    alignas(16) std::byte buf[kJobBytes];
  };
  struct alignas(64) Lane {
    Slot* slots = nullptr;
    Seq submitted = 0;  // simulation thread only
    Seq seen_done = 0;  // simulation thread's cache of completed
    alignas(64) std::atomic<Seq> published{0};  // written by the simulation thread
    alignas(64) std::atomic<Seq> completed{0};  // written by the worker
  };
  static unsigned lane_of(Seq s) { return (s & kBackgroundBit) != 0 ? kBackground : kForeground; }
  static Seq index_of(Seq s) { return s & ~kBackgroundBit; }

  template <class F>
  Seq hand_over(unsigned lane, F& job, Seq after) {
    static_assert(std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>,
                  "ByteWorker jobs are plain data: pointers, lengths and values");
    static_assert(sizeof(F) <= kJobBytes && alignof(F) <= 16, "ByteWorker job too large");
    Lane& l = lanes_[lane];
    const Seq tag = lane == kBackground ? kBackgroundBit : 0;
    if (!threaded_) {
      job();
      ++l.submitted;
      l.completed.store(l.submitted, std::memory_order_relaxed);
      return l.submitted | tag;
    }
    Slot& s = claim_slot(lane);
    ::new (static_cast<void*>(s.buf)) F(job);
    s.fn = [](void* p) { (*static_cast<F*>(p))(); };
    s.after = index_of(after);
    publish(lane);
    return l.submitted | tag;
  }

  ByteWorker();
  ~ByteWorker() = delete;  // lives for the process: static objects may drain it at exit
  Slot& claim_slot(unsigned lane);
  void publish(unsigned lane);
  void wake();
  void wait_slow(Seq s);
  void start_thread();
  void worker_loop();
  void run_one(unsigned lane);
  static void prefetch_slot(const Slot& s);
  void yield_slow();

  bool threaded_ = false;
  bool started_ = false;
  std::uint64_t waits_ = 0;
  std::uint64_t wait_ns_ = 0;
  Lane lanes_[2];
  // The worker thread's own: the jobs it has run in each lane, and (per thread, so no other
  // thread ever reads the worker's) whether it is inside a background job, where
  // yield_to_foreground may run foreground jobs.
  alignas(64) Seq worker_done_[2] = {0, 0};
  static thread_local bool in_background_job_;
  alignas(64) std::atomic<bool> sleeping_{false};
  std::atomic<std::uint32_t> wake_{0};
};

}  // namespace nicemu::base
