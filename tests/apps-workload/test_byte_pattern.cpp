// BytePattern (fill and check at any offset, errors found with their offset and count, its speed)
// and LatencyHistogram (exact small values, bounded relative error, percentiles).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "nicemu/app/byte_pattern.hpp"
#include "nicemu/app/workload.hpp"
#include "nicemu/sim/random.hpp"
#include "byte_worker_threads.hpp"

using nicemu::app::BytePattern;
using nicemu::app::LatencyHistogram;
using nicemu::sim::Duration;
namespace app = nicemu::app;

TEST_CASE("apps-workload: byte pattern: fill gives at() for every offset and length, and check accepts it",
          "[apps-workload][unit]") {
  const BytePattern p(7, 3);
  nicemu::sim::Rng rng(42);
  std::vector<std::byte> buf(300);
  for (int round = 0; round < 2000; ++round) {
    const std::uint64_t offset = rng.uniform(1u << 20) + (round % 2 == 0 ? 0 : (std::uint64_t{1} << 40));
    const auto len = static_cast<std::size_t>(rng.uniform(buf.size() + 1));
    const std::span<std::byte> out(buf.data(), len);
    p.fill(offset, out);
    for (std::size_t i = 0; i < len; ++i) REQUIRE(out[i] == p.at(offset + i));
    const auto c = p.check(offset, out);
    REQUIRE(c.ok());
    REQUIRE_FALSE(c.first_bad_offset.has_value());
  }
}

TEST_CASE("apps-workload: byte pattern: bytes are little-endian words of word(i)", "[apps-workload][unit]") {
  const BytePattern p(1, 0);
  const std::uint64_t w = p.word(5);
  for (int b = 0; b < 8; ++b) CHECK(p.at(40 + static_cast<std::uint64_t>(b)) == static_cast<std::byte>(w >> (8 * b)));
  // Different words within a stream, different streams, different seeds.
  CHECK(p.word(0) != p.word(1));
  CHECK(BytePattern(1, 0).word(0) != BytePattern(1, 1).word(0));
  CHECK(BytePattern(1, 0).word(0) != BytePattern(2, 0).word(0));
  CHECK(BytePattern(1, 0).word(9) == p.word(9));  // deterministic
}

TEST_CASE("apps-workload: byte pattern: check reports the first bad offset and counts every wrong byte",
          "[apps-workload][unit]") {
  const BytePattern p(11, 2);
  for (const std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{3}, std::uint64_t{1000005}}) {
    for (const std::size_t len :
         {std::size_t{1}, std::size_t{7}, std::size_t{9}, std::size_t{300}, std::size_t{5000}}) {
      std::vector<std::byte> data(len);
      p.fill(offset, data);
      // One byte wrong, at each end and in the middle.
      for (const std::size_t at : {std::size_t{0}, len / 2, len - 1}) {
        std::vector<std::byte> bad = data;
        bad[at] ^= std::byte{0x01};
        const auto c = p.check(offset, bad);
        CHECK(c.mismatched_bytes == 1);
        REQUIRE(c.first_bad_offset.has_value());
        CHECK(*c.first_bad_offset == offset + at);
      }
      if (len >= 300) {  // scattered bytes: all counted, the first one named
        std::vector<std::byte> bad = data;
        for (std::size_t i = 17; i < len; i += 29) bad[i] = ~bad[i];
        const auto c = p.check(offset, bad);
        CHECK(c.mismatched_bytes == (len - 17 + 28) / 29);
        CHECK(*c.first_bad_offset == offset + 17);
      }
    }
  }
}

TEST_CASE("apps-workload: byte pattern: another stream or a shifted chunk fails the check", "[apps-workload][unit]") {
  const BytePattern p(5, 0);
  std::vector<std::byte> data(4096);
  BytePattern(5, 1).fill(0, data);  // flow 1's bytes where flow 0's belong
  auto c = p.check(0, data);
  CHECK(c.mismatched_bytes > 4000);  // about 255 in 256 differ
  p.fill(1448, data);                // a segment's bytes placed one segment early
  c = p.check(0, data);
  CHECK(c.mismatched_bytes > 4000);
  std::uint64_t first = 0;
  while (data[first] == p.at(first)) ++first;
  CHECK(c.first_bad_offset == first);
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < data.size(); ++i) wrong += data[i] != p.at(i) ? 1 : 0;
  CHECK(c.mismatched_bytes == wrong);
}

TEST_CASE("apps-workload: byte pattern: a chunk moved by whole periods of the table fails the check",
          "[apps-workload][unit]") {
  const BytePattern p(5, 0);
  constexpr std::uint64_t kPeriodBytes = BytePattern::kPeriodWords * 8;
  std::vector<std::byte> data(9000);
  for (const std::uint64_t periods : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{1000}}) {
    p.fill(periods * kPeriodBytes + 40, data);  // the same table positions, another block
    const auto c = p.check(40, data);
    CHECK(c.mismatched_bytes > 8900);
    CHECK(c.first_bad_offset == std::optional<std::uint64_t>(40));
  }
  // Across a block boundary, fill and at() agree and check accepts.
  p.fill(kPeriodBytes - 13, data);
  for (std::size_t i = 0; i < data.size(); ++i) REQUIRE(data[i] == p.at(kPeriodBytes - 13 + i));
  CHECK(p.check(kPeriodBytes - 13, data).ok());
}

// Not a timed assertion: prints the rate so a reader can compare builds; asserts correctness only.
TEST_CASE("apps-workload: check_pattern: bytes checked here while the worker is behind count after its earlier checks",
          "[apps-workload][unit]") {
  nicemu::testing::ByteWorkerThreads threads(2);
  const app::BytePattern p(5, 1);
  std::vector<std::byte> a(4096), b(4096);
  p.fill(0, a);
  p.fill(4096, b);
  a[100] ^= std::byte{1};  // the first bad byte of the stream: offset 100
  b[7] ^= std::byte{1};
  b[9] ^= std::byte{1};
  app::FlowErrors errors;
  std::atomic<bool> open{false};
  auto& bw = nicemu::base::ByteWorker::get();
  (void)bw.run(nicemu::testing::GateJob{&open});
  app::check_pattern(p, 0, a, errors, /*offload=*/true, /*max_queued=*/8);  // to the worker, behind the gate
  CHECK_FALSE(bw.queued_below(1));
  // The worker is behind (max_queued 0): checked here, and counted once the gate opens and the
  // worker's check of `a` has counted.
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    open.store(true, std::memory_order_release);
  });
  app::check_pattern(p, 4096, b, errors, /*offload=*/true, /*max_queued=*/0);
  opener.join();
  CHECK(bw.queued_below(1));
  CHECK(errors.mismatched_bytes == 3);
  REQUIRE(errors.first_bad_offset.has_value());
  CHECK(*errors.first_bad_offset == 100);
  // Clean bytes add nothing, checked here or on the worker.
  std::vector<std::byte> good(4096);
  p.fill(8192, good);
  app::FlowErrors clean;
  app::check_pattern(p, 8192, good, clean, /*offload=*/false);
  app::check_pattern(p, 8192, good, clean, /*offload=*/true);
  bw.drain();
  CHECK(clean.mismatched_bytes == 0);
  CHECK_FALSE(clean.first_bad_offset.has_value());
}

TEST_CASE("apps-workload: byte pattern: fill and check speed (printed)", "[apps-workload][unit][speed]") {
  const BytePattern p(3, 9);
  constexpr std::size_t kChunk = 256 * 1024;
  constexpr int kRounds = 256;  // 64 MiB each way
  std::vector<std::byte> buf(kChunk + 3);
  using Clock = std::chrono::steady_clock;
  for (const std::size_t misalign : {std::size_t{0}, std::size_t{3}}) {
    const std::span<std::byte> chunk(buf.data() + misalign, kChunk);
    auto t0 = Clock::now();
    std::uint64_t sink = 0;
    for (int r = 0; r < kRounds; ++r) {
      p.fill(static_cast<std::uint64_t>(r) * kChunk + misalign, chunk);
      sink += std::to_integer<unsigned>(chunk[static_cast<std::size_t>(r) % kChunk]);
    }
    const double fill_s = std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    std::uint64_t bad = 0;
    for (int r = 0; r < kRounds; ++r)
      bad += p.check(static_cast<std::uint64_t>(kRounds - 1) * kChunk + misalign, chunk).mismatched_bytes;
    const double check_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double bytes = static_cast<double>(kChunk) * kRounds;
    std::printf(
        "byte pattern (offset %% 8 = %zu): fill %.2f GB/s, check %.2f GB/s (%zu KiB chunks, %.0f MiB, sink %llu)\n",
        misalign, bytes / fill_s / 1e9, bytes / check_s / 1e9, kChunk / 1024, bytes / (1 << 20),
        static_cast<unsigned long long>(sink));
    CHECK(bad == 0);
    chunk[kChunk / 3] ^= std::byte{0x80};
    const auto c = p.check(static_cast<std::uint64_t>(kRounds - 1) * kChunk + misalign, chunk);
    CHECK(c.mismatched_bytes == 1);
    CHECK(*c.first_bad_offset == static_cast<std::uint64_t>(kRounds - 1) * kChunk + misalign + kChunk / 3);
  }
}

TEST_CASE("apps-workload: latency histogram: small values exact, large ones within 1/64, percentiles by rank",
          "[apps-workload][unit]") {
  LatencyHistogram h;
  CHECK(h.percentile(0.5) == Duration::zero());
  for (std::int64_t v = 1; v <= 63; ++v)
    CHECK(LatencyHistogram::highest(LatencyHistogram::bucket(static_cast<std::uint64_t>(v))) ==
          static_cast<std::uint64_t>(v));
  nicemu::sim::Rng rng(3);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t v = rng.uniform(std::uint64_t{1} << 50) + 64;
    const std::uint64_t hi = LatencyHistogram::highest(LatencyHistogram::bucket(v));
    REQUIRE(hi >= v);
    REQUIRE(static_cast<double>(hi - v) <= static_cast<double>(v) / 64.0);
  }
  // 1..100 µs, one each: p50 is 50 µs, p99 99 µs (within a bucket), min and max exact.
  for (std::int64_t us = 1; us <= 100; ++us) h.record(Duration::from_us(us));
  CHECK(h.count() == 100);
  CHECK(h.min() == Duration::from_us(1));
  CHECK(h.max() == Duration::from_us(100));
  CHECK(h.mean() == Duration::from_ns(50500));
  const auto p50 = h.percentile(0.50), p99 = h.percentile(0.99), p100 = h.percentile(1.0);
  CHECK(p50 >= Duration::from_us(50));
  CHECK(p50.ps() <= Duration::from_us(50).ps() + Duration::from_us(50).ps() / 64);
  CHECK(p99 >= Duration::from_us(99));
  CHECK(p99.ps() <= Duration::from_us(99).ps() + Duration::from_us(99).ps() / 64);
  CHECK(p100 == Duration::from_us(100));
}

// One recvmsg's frags lie anywhere in the dma-buf; PatternCheckRun checks them together.
TEST_CASE("apps-workload: PatternCheckRun: chunks checked together count exactly as one check_pattern per chunk",
          "[apps-workload][unit]") {
  const unsigned threads = GENERATE(1u, 2u);
  nicemu::testing::ByteWorkerThreads use(threads);
  const app::BytePattern p(9, 2);
  // 40 chunks of different sizes at consecutive stream offsets, each in its own buffer; a few
  // corrupted, a few checked here rather than offloaded (as linear bytes in the iov are).
  constexpr std::size_t kChunks = 40;
  std::vector<std::vector<std::byte>> chunks;
  std::uint64_t offset = 1000;
  const std::uint64_t start = offset;
  for (std::size_t i = 0; i < kChunks; ++i) {
    std::vector<std::byte> c(100 + 37 * i);
    p.fill(offset, c);
    if (i == 5 || i == 17 || i == 33) c[i] ^= std::byte{0x40};
    if (i == 17) c[c.size() - 1] ^= std::byte{1};
    offset += c.size();
    chunks.push_back(std::move(c));
  }
  auto offloaded = [](std::size_t i) { return i % 7 != 3; };
  app::FlowErrors want;
  std::uint64_t at = start;
  for (std::size_t i = 0; i < kChunks; ++i) {
    want.add(p.check(at, chunks[i]), app::Direction::kClientToServer);
    at += chunks[i].size();
  }
  REQUIRE(want.mismatched_bytes == 4);

  auto& bw = nicemu::base::ByteWorker::get();
  const std::uint64_t jobs_before = bw.stats().jobs;
  app::FlowErrors got;
  {
    app::PatternCheckRun run(p, start, got);
    for (std::size_t i = 0; i < kChunks; ++i) run.add(chunks[i], offloaded(i));
  }  // the destructor hands over the rest
  bw.drain();
  CHECK(got.mismatched_bytes == want.mismatched_bytes);
  CHECK(got.first_bad_offset == want.first_bad_offset);
  CHECK(*got.first_bad_offset == start + 5 * 100 + 37 * (5 * 4 / 2) + 5);  // chunk 5's byte 5
  // Offloaded chunks go as few jobs: a chunk checked here ends the run before it (6 of them
  // here: chunks 3, 10, 17, 24, 31, 38), and a run holds at most kPieces chunks.
  if (threads == 2) CHECK(bw.stats().jobs - jobs_before <= 7 + kChunks / app::PatternCheckRun::kPieces);
}
