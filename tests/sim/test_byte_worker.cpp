// base::ByteWorker: jobs run in hand-over order, wait() and drain() return only after the job
// has run (its writes are visible), the ring wraps and refills when full, and switching between
// one and two threads keeps the numbering.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "nicemu/base/byte_worker.hpp"
#include "byte_worker_threads.hpp"

using nicemu::base::ByteWorker;

namespace {

// Appends its value to a log: the log's order is the order the jobs ran in.
struct AppendJob {
  std::vector<std::uint32_t>* log;
  std::uint32_t value;
  void operator()() const { log->push_back(value); }
};

// A copy whose bytes the test reads after wait().
struct CopyJob {
  std::byte* to;
  const std::byte* from;
  std::size_t n;
  void operator()() const { std::memcpy(to, from, n); }
};

}  // namespace

TEST_CASE("byte worker: jobs run in the order they were handed over, past a full ring", "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;  // restores the mode at the end
  auto& bw = ByteWorker::get();
  for (unsigned threads : {1u, 2u}) {
    bw.set_threads(threads);
    std::vector<std::uint32_t> log;
    log.reserve(5 * ByteWorker::kSlots);
    const auto first = bw.submitted() + 1;
    for (std::uint32_t i = 0; i < 5 * ByteWorker::kSlots; ++i) {
      const auto seq = bw.run(AppendJob{&log, i});
      REQUIRE(seq == first + i);
    }
    bw.drain();
    REQUIRE(log.size() == 5 * ByteWorker::kSlots);
    for (std::uint32_t i = 0; i < log.size(); ++i) REQUIRE(log[i] == i);
    CHECK(bw.done(bw.submitted()));
  }
}

TEST_CASE("byte worker: wait(seq) returns with that job's bytes in place, later jobs may still run",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;  // restores the mode at the end
  auto& bw = ByteWorker::get();
  bw.set_threads(2);
  std::vector<std::byte> src(64 * 1024), a(src.size()), b(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::byte>(i * 7 + 1);
  const auto ja = bw.run(CopyJob{a.data(), src.data(), a.size()});
  const auto jb = bw.run(CopyJob{b.data(), a.data(), b.size()});  // reads what the first wrote
  bw.wait(ja);
  CHECK(bw.done(ja));
  CHECK(a == src);
  bw.wait(jb);
  CHECK(b == src);
  CHECK(jb == ja + 1);
}

TEST_CASE("byte worker: one thread runs each job at hand-over, and the numbering carries on across modes",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;  // restores the mode at the end
  auto& bw = ByteWorker::get();
  bw.set_threads(1);
  CHECK(bw.threads() == 1);
  std::vector<std::uint32_t> log;
  const auto s1 = bw.run(AppendJob{&log, 1});
  CHECK(log.size() == 1);  // ran already
  CHECK(bw.done(s1));
  bw.set_threads(2);
  CHECK(bw.threaded());
  const auto s2 = bw.run(AppendJob{&log, 2});
  CHECK(s2 == s1 + 1);
  bw.wait(s2);
  REQUIRE(log.size() == 2);
  CHECK(log[1] == 2);
  bw.set_threads(1);
  const auto s3 = bw.run(AppendJob{&log, 3});
  CHECK(s3 == s2 + 1);
  CHECK(log.size() == 3);
}

namespace {
// Sleeps, then appends: a slow job.
struct SlowAppendJob {
  std::vector<std::uint32_t>* log;
  std::uint32_t value;
  void operator()() const {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log->push_back(value);
  }
};
}  // namespace

TEST_CASE("byte worker: background jobs keep their own order, a foreground job handed over with `after` runs after "
          "that background job",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;  // restores the mode at the end
  auto& bw = ByteWorker::get();
  for (unsigned threads : {1u, 2u}) {
    bw.set_threads(threads);
    std::vector<std::uint32_t> bg_log, fg_log;
    bg_log.reserve(8);
    fg_log.reserve(8);
    const auto b1 = bw.run_background(SlowAppendJob{&bg_log, 1});
    const auto b2 = bw.run_background(AppendJob{&bg_log, 2});
    CHECK((b1 & ByteWorker::kBackgroundBit) != 0);
    CHECK(b2 == b1 + 1);
    CHECK(bw.submitted_background() == b2);
    // Reads what the background lane wrote: the log holds both of its entries when it runs.
    struct CountJob {
      const std::vector<std::uint32_t>* bg;
      std::vector<std::uint32_t>* out;
      void operator()() const { out->push_back(static_cast<std::uint32_t>(bg->size())); }
    };
    const auto f1 = bw.run(CountJob{&bg_log, &fg_log}, b2);
    CHECK((f1 & ByteWorker::kBackgroundBit) == 0);
    bw.wait(f1);
    REQUIRE(fg_log.size() == 1);
    CHECK(fg_log[0] == 2);
    CHECK(bw.done(b2));
    bw.drain();
    CHECK(bg_log == std::vector<std::uint32_t>{1, 2});
  }
}

TEST_CASE("byte worker: queued_below() counts the foreground jobs not run yet, and a wait's wall time is counted",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;  // restores the mode at the end
  auto& bw = ByteWorker::get();
  bw.set_threads(1);
  std::vector<std::uint32_t> log;
  (void)bw.run(AppendJob{&log, 1});
  CHECK(bw.queued_below(1));  // one thread: every job has run at hand-over

  bw.set_threads(2);
  std::atomic<bool> open{false};
  const auto gate = bw.run(nicemu::testing::GateJob{&open});
  for (std::uint32_t i = 0; i < 5; ++i) (void)bw.run(AppendJob{&log, i});
  CHECK_FALSE(bw.queued_below(5));  // the gate itself may have started
  CHECK(bw.queued_below(7));
  const auto before = bw.stats();
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    open.store(true, std::memory_order_release);
  });
  bw.wait(gate);
  opener.join();
  const auto after = bw.stats();
  CHECK(after.waits == before.waits + 1);
  CHECK(after.wait_ns - before.wait_ns >= 15'000'000u);  // it waited for the gate, about 20 ms
  bw.drain();
  CHECK(bw.queued_below(1));
  CHECK(log.size() == 6);
}

TEST_CASE("byte worker: a worker asleep after a quiet spell runs the next job, and a wait for it returns",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;  // restores the mode at the end
  auto& bw = ByteWorker::get();
  bw.set_threads(2);
  std::vector<std::byte> src(4096, std::byte{0x5a}), dst(4096);
  for (int round = 0; round < 3; ++round) {
    // Well past the worker's spin before it sleeps (about 100 us).
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::fill(dst.begin(), dst.end(), std::byte{0});
    bw.wait(bw.run(CopyJob{dst.data(), src.data(), dst.size()}));
    CHECK(dst == src);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto bg = bw.run_background(CopyJob{dst.data(), src.data(), dst.size()});
    bw.drain();
    CHECK(bw.done(bg));
  }
}

namespace {
// A background job in two pieces with a yield between them: it says it has started, waits for
// the test's go, logs 1, yields, logs 2.
struct TwoPieceJob {
  std::vector<std::uint32_t>* log;
  std::atomic<bool>* started;
  const std::atomic<bool>* go;
  void operator()() const {
    started->store(true, std::memory_order_release);
    while (!go->load(std::memory_order_acquire)) std::this_thread::yield();
    log->push_back(1);
    ByteWorker::get().yield_to_foreground();
    log->push_back(2);
  }
};

// A TwoPieceJob handed over and running on the worker, held before its first piece until
// `go` is set; returns its number.
ByteWorker::Seq start_two_piece_job(std::vector<std::uint32_t>& log, std::atomic<bool>& started,
                                    const std::atomic<bool>& go) {
  const auto seq = ByteWorker::get().run_background(TwoPieceJob{&log, &started, &go});
  while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
  return seq;
}
}  // namespace

TEST_CASE("byte worker: a foreground job handed over during a long background job runs at its yield",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;
  auto& bw = ByteWorker::get();
  std::vector<std::uint32_t> log;
  log.reserve(8);
  std::atomic<bool> started{false}, go{false};
  (void)start_two_piece_job(log, started, go);
  (void)bw.run(AppendJob{&log, 9});  // needs no background job
  go.store(true, std::memory_order_release);
  bw.drain();
  CHECK(log == std::vector<std::uint32_t>{1, 9, 2});
}

TEST_CASE("byte worker: a foreground job after the running background job waits for its end, yield or not",
          "[base][unit]") {
  nicemu::testing::ByteWorkerThreads guard;
  auto& bw = ByteWorker::get();
  std::vector<std::uint32_t> log;
  log.reserve(8);
  std::atomic<bool> started{false}, go{false};
  const auto bg = start_two_piece_job(log, started, go);
  (void)bw.run(AppendJob{&log, 9}, bg);
  go.store(true, std::memory_order_release);
  bw.drain();
  CHECK(log == std::vector<std::uint32_t>{1, 2, 9});
}

TEST_CASE("byte worker: yield_to_foreground runs nothing on one thread or on the simulation thread",
          "[base][unit]") {
  auto& bw = ByteWorker::get();
  std::vector<std::uint32_t> log;
  log.reserve(8);
  {
    nicemu::testing::ByteWorkerThreads guard(1);
    std::atomic<bool> started{false}, go{true};
    (void)bw.run_background(TwoPieceJob{&log, &started, &go});  // runs here, whole: the yield is a no-op
    (void)bw.run(AppendJob{&log, 9});
    CHECK(log == std::vector<std::uint32_t>{1, 2, 9});
  }
  log.clear();
  {
    nicemu::testing::ByteWorkerThreads guard(2);
    std::atomic<bool> open{false};
    (void)bw.run(nicemu::testing::GateJob{&open});
    (void)bw.run(AppendJob{&log, 9});
    bw.yield_to_foreground();  // the simulation thread: the queued job stays queued
    CHECK(log.empty());
    open.store(true, std::memory_order_release);
    bw.drain();
    CHECK(log == std::vector<std::uint32_t>{9});
  }
}
