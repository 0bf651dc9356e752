// ByteWorker: the two lanes' rings, the worker thread and the sleep/wake handshake
// (see byte_worker.hpp).
#include "nicemu/base/byte_worker.hpp"

#include <chrono>
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

// About 20-100 µs of polling before the worker sleeps, and before a waiting simulation thread
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

thread_local bool ByteWorker::in_background_job_ = false;

ByteWorker& ByteWorker::get() {
  static ByteWorker* w = new ByteWorker();  // never destroyed: see the header
  return *w;
}

ByteWorker::ByteWorker() {
  for (Lane& l : lanes_) l.slots = new Slot[kSlots];
  threaded_ = default_threads() == 2;
}

void ByteWorker::set_threads(unsigned n) {
  NICEMU_ASSERT(n == 1 || n == 2, "ByteWorker::set_threads: 1 or 2");
  drain();
  // Both positions of each lane agree now (published == completed == submitted), whichever mode
  // ran before; completed first, so a worker that sees the new published sees it too.
  for (Lane& l : lanes_) {
    l.completed.store(l.submitted, std::memory_order_release);
    l.published.store(l.submitted, std::memory_order_release);
    l.seen_done = l.submitted;
  }
  threaded_ = n == 2;
}

ByteWorker::Stats ByteWorker::stats() const {
  return Stats{lanes_[0].submitted + lanes_[1].submitted, waits_, wait_ns_};
}

ByteWorker::Slot& ByteWorker::claim_slot(unsigned lane) {
  if (!started_) start_thread();
  Lane& l = lanes_[lane];
  // The slot of job submitted + 1 is free once job submitted + 1 - kSlots has run.
  const Seq next = l.submitted + 1;
  if (next > kSlots && next - kSlots > l.seen_done) wait((next - kSlots) | (lane == kBackground ? kBackgroundBit : 0));
  return l.slots[next % kSlots];
}

// A release store and a relaxed look at sleeping_: no fence on the hot path. Without a fence the
// look may miss a worker that is just going to sleep (it saw the old position); the job then
// waits for the next hand-over, or for the simulation's wait for it, which wakes the worker with
// a full fence (wait_slow). Either comes: every job is waited for in the end (drain()).
void ByteWorker::publish(unsigned lane) {
  Lane& l = lanes_[lane];
  ++l.submitted;
  l.published.store(l.submitted, std::memory_order_release);
  if (sleeping_.load(std::memory_order_relaxed)) wake();
}

void ByteWorker::wake() {
  sleeping_.store(false, std::memory_order_relaxed);
  wake_.fetch_add(1, std::memory_order_seq_cst);
  wake_.notify_one();
}

void ByteWorker::wait_slow(Seq s) {
  Lane& l = lanes_[lane_of(s)];
  const Seq want = index_of(s);
  NICEMU_ASSERT(want <= l.submitted, "ByteWorker::wait for a job not handed over");
  Seq d = l.completed.load(std::memory_order_acquire);
  if (d < want) {
    ++waits_;
    const auto t0 = std::chrono::steady_clock::now();
    // The worker may have gone to sleep unseen by publish(): the fence orders our positions'
    // stores before this look, and the worker looks at them after setting sleeping_.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst)) wake();
    for (int i = 0; d < want; ++i) {
      if (i < kSpins) cpu_relax();
      else std::this_thread::yield();
      d = l.completed.load(std::memory_order_acquire);
    }
    wait_ns_ += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  }
  l.seen_done = d;
}

void ByteWorker::start_thread() {
  started_ = true;
  std::thread([this] { worker_loop(); }).detach();
}

void ByteWorker::prefetch_slot(const Slot& s) {
  const auto* p = reinterpret_cast<const char*>(&s);
  for (std::size_t at = 0; at < sizeof(Slot); at += 64) __builtin_prefetch(p + at);
}

void ByteWorker::run_one(unsigned lane) {
  Lane& l = lanes_[lane];
  Seq& done = worker_done_[lane];
  Slot& s = l.slots[(done + 1) % kSlots];
  if (lane == kBackground) {
    in_background_job_ = true;
    s.fn(s.buf);
    in_background_job_ = false;
  } else {
    s.fn(s.buf);
  }
  ++done;
  l.completed.store(done, std::memory_order_release);
}

// Foreground jobs inside a background one: only those whose `after` has run already (the one
// running now has not). Foreground jobs never yield, so this does not nest further.
void ByteWorker::yield_slow() {
  Lane& fg = lanes_[kForeground];
  Seq& fg_done = worker_done_[kForeground];
  const Seq avail = fg.published.load(std::memory_order_acquire);
  in_background_job_ = false;
  while (fg_done < avail && fg.slots[(fg_done + 1) % kSlots].after <= worker_done_[kBackground]) {
    run_one(kForeground);
  }
  in_background_job_ = true;
}

// The foreground lane first; a foreground job waiting for a background one runs the background
// lane up to it; the background lane when the foreground one is empty.
void ByteWorker::worker_loop() {
  Lane& fg = lanes_[kForeground];
  Lane& bg = lanes_[kBackground];
  Seq& fg_done = worker_done_[kForeground];
  Seq& bg_done = worker_done_[kBackground];
  for (int idle = 0;;) {
    // set_threads may have moved the positions while the worker had nothing to do: re-read them.
    fg_done = fg.completed.load(std::memory_order_acquire);
    bg_done = bg.completed.load(std::memory_order_acquire);
    const Seq fg_avail = fg.published.load(std::memory_order_acquire);
    const Seq bg_avail = bg.published.load(std::memory_order_acquire);
    if (fg_done < fg_avail) {
      idle = 0;
      while (fg_done < fg_avail) {
        const Seq after = fg.slots[(fg_done + 1) % kSlots].after;
        while (bg_done < after) run_one(kBackground);
        // The next job's slot, which the simulation thread wrote, on its way here meanwhile.
        if (fg_done + 2 <= fg_avail) prefetch_slot(fg.slots[(fg_done + 2) % kSlots]);
        // The background jobs may have run this one (and more) at their yields.
        if (fg_done < fg_avail) run_one(kForeground);
      }
      continue;
    }
    if (bg_done < bg_avail) {
      idle = 0;
      run_one(kBackground);  // one at a time: foreground work may arrive meanwhile
      continue;
    }
    if (++idle < kSpins) {
      cpu_relax();
      continue;
    }
    idle = 0;
    const std::uint32_t w = wake_.load(std::memory_order_seq_cst);
    sleeping_.store(true, std::memory_order_seq_cst);
    if (fg.published.load(std::memory_order_seq_cst) == fg_done && bg.published.load(std::memory_order_seq_cst) == bg_done) {
      wake_.wait(w, std::memory_order_seq_cst);
    }
    sleeping_.store(false, std::memory_order_relaxed);
  }
}

}  // namespace nicemu::base
