// The trace digest: sensitivity to every recorded field, order and record boundaries, its hex
// format, and end-to-end determinism of a small simulation (same seed, same digest).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "nicemu/sim/event_queue.hpp"
#include "nicemu/sim/random.hpp"
#include "nicemu/sim/trace_digest.hpp"

using namespace nicemu::sim;

namespace {

TimePoint at_ps(std::int64_t ps) { return TimePoint::from_ps(ps); }

std::string digest_of(const std::vector<std::vector<std::uint64_t>>& records) {
  TraceDigest d;
  for (const auto& r : records) d.record(at_ps(1000), 7, r);
  return d.hex();
}

}  // namespace

TEST_CASE("trace digest: the same records give the same 32-character lowercase hex",
          "[sim][unit]") {
  TraceDigest a;
  TraceDigest b;
  for (TraceDigest* d : {&a, &b}) {
    d->record(at_ps(10), 1, {1, 2, 3});
    d->record(at_ps(20), 2, {});
    d->record(at_ps(20), 3, {UINT64_MAX});
  }
  CHECK(a.hex() == b.hex());
  CHECK(a == b);
  CHECK(a.records() == 3);
  const std::string h = a.hex();
  CHECK(h.size() == 32);
  CHECK(std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  // hex() does not disturb the state.
  CHECK(a.hex() == h);
  CHECK(a.records() == 3);
}

TEST_CASE("trace digest: golden values pin the hash so a change of mixing is deliberate",
          "[sim][unit]") {
  // Computed by an independent implementation of the absorb/finalize recipe in trace_digest.cpp.
  TraceDigest d;
  CHECK(d.records() == 0);
  CHECK(d.hex() == "703265576c9403db4b7fed5912790680");
  d.record(at_ps(123'040), 1, {1538, 42});
  d.record(at_ps(246'080), 2, {});
  CHECK(d.hex() == "15365064f2f436816499672255949321");
}

TEST_CASE("trace digest: any change in time, kind, value, order or record boundaries changes it",
          "[sim][unit]") {
  auto one = [](std::int64_t t, std::uint32_t kind, std::vector<std::uint64_t> v) {
    TraceDigest d;
    d.record(at_ps(t), kind, v);
    return d.hex();
  };
  const std::string base = one(100, 1, {5, 6});
  CHECK(one(100, 1, {5, 6}) == base);
  CHECK(one(101, 1, {5, 6}) != base);          // time
  CHECK(one(100, 2, {5, 6}) != base);          // kind
  CHECK(one(100, 1, {5, 7}) != base);          // value
  CHECK(one(100, 1, {6, 5}) != base);          // order of values
  CHECK(one(100, 1, {5, 6, 0}) != base);       // an extra zero value
  CHECK(one(100, 1, {5}) != base);             // a missing value
  CHECK(one(100, 1, {}) != one(100, 1, {0}));  // empty vs one zero

  // Boundaries: (a,b)+(c) vs (a)+(b,c) vs (a,b,c) vs (a)+(b)+(c).
  const std::string ab_c = digest_of({{1, 2}, {3}});
  const std::string a_bc = digest_of({{1}, {2, 3}});
  const std::string abc = digest_of({{1, 2, 3}});
  const std::string a_b_c = digest_of({{1}, {2}, {3}});
  CHECK(ab_c != a_bc);
  CHECK(ab_c != abc);
  CHECK(a_bc != abc);
  CHECK(a_b_c != ab_c);
  CHECK(a_b_c != a_bc);

  // Order of records.
  TraceDigest x;
  x.record(at_ps(1), 1, {10});
  x.record(at_ps(1), 1, {20});
  TraceDigest y;
  y.record(at_ps(1), 1, {20});
  y.record(at_ps(1), 1, {10});
  CHECK(x.hex() != y.hex());

  // A record is not the same as nothing, even an all-zero one.
  TraceDigest empty;
  TraceDigest zero;
  zero.record(TimePoint::zero(), 0, {});
  CHECK(empty.hex() != zero.hex());

  // A single flipped bit in a late value changes both halves.
  TraceDigest p;
  TraceDigest q;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    p.record(at_ps(static_cast<std::int64_t>(i)), 3, {i, i * i});
    q.record(at_ps(static_cast<std::int64_t>(i)), 3, {i, i == 999 ? (i * i) ^ 1 : i * i});
  }
  CHECK(p.hex().substr(0, 16) != q.hex().substr(0, 16));
  CHECK(p.hex().substr(16) != q.hex().substr(16));
}

TEST_CASE("trace digest: the span overload absorbs the same bytes as the list overload",
          "[sim][unit]") {
  TraceDigest a;
  TraceDigest b;
  a.record(at_ps(5), 9, {4, 5, 6});
  const std::vector<std::uint64_t> v{4, 5, 6};
  b.record(at_ps(5), 9, v);
  CHECK(a.hex() == b.hex());
}

namespace {

// A small simulation: three senders with exponential gaps and random frame sizes share one
// 100 Gbit/s link that drops 1% of frames. Every arrival and drop is recorded.
struct MiniNet {
  static constexpr std::uint64_t kLineRateBps = 100'000'000'000ULL;
  static constexpr std::uint32_t kArrival = 1;
  static constexpr std::uint32_t kDrop = 2;

  struct Sender {
    MiniNet* net;
    std::uint64_t id;
    Rng rng;
    std::uint64_t seq = 0;
  };

  explicit MiniNet(std::uint64_t seed) : streams(seed), link_faults(streams.stream("link/faults")) {
    for (std::uint64_t i = 0; i < 3; ++i) {
      senders.push_back(Sender{this, i, streams.stream("host" + std::to_string(i) + "/app")});
    }
    for (Sender& s : senders) schedule_next(s);
  }

  void schedule_next(Sender& s) {
    const auto gap_ps = static_cast<std::int64_t>(s.rng.exponential(200'000.0));  // mean 200 ns
    q.schedule_in(Duration::from_ps(gap_ps), [this, &s] { send(s); });
  }

  void send(Sender& s) {
    const std::uint64_t len_bytes = s.rng.uniform_range(64, 1518);
    const std::uint64_t seq = s.seq++;
    const TimePoint start = std::max(q.now(), link_busy_until);
    link_busy_until = start + transmit_time(len_bytes + 24, kLineRateBps);
    const std::uint64_t sender = s.id;
    if (link_faults.bernoulli(0.01)) {
      digest.record(q.now(), kDrop, {sender, seq, len_bytes});
    } else {
      q.schedule_at(link_busy_until, [this, sender, seq, len_bytes] {
        digest.record(q.now(), kArrival, {sender, seq, len_bytes});
      });
    }
    schedule_next(s);
  }

  EventQueue q;
  RandomStreams streams;
  Rng link_faults;
  std::vector<Sender> senders;
  TimePoint link_busy_until{};
  TraceDigest digest;
};

struct RunSummary {
  std::string hex;
  std::uint64_t records;
};

RunSummary run_mini_net(std::uint64_t seed) {
  MiniNet net(seed);
  net.q.run_until(TimePoint::zero() + Duration::from_us(50));
  return {net.digest.hex(), net.digest.records()};
}

}  // namespace

TEST_CASE("trace digest: a simulation driven by the event queue and seeded streams gives the same "
          "digest for the same seed and a different one for another seed",
          "[sim][unit]") {
  const RunSummary first = run_mini_net(1);
  const RunSummary again = run_mini_net(1);
  const RunSummary other = run_mini_net(2);
  CHECK(first.records > 500);  // 3 senders * 50 us / 200 ns
  CHECK(first.hex == again.hex);
  CHECK(first.records == again.records);
  CHECK(first.hex != other.hex);
}
