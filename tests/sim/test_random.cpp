// Seeded random streams: reproducibility, independence of components, bounds, and golden values
// that pin the algorithms (a change of generator, seeding or hashing must fail here).
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "nicemu/sim/random.hpp"

using namespace nicemu::sim;

namespace {

std::vector<std::uint64_t> draw(Rng rng, int n) {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(rng.next_u64());
  return out;
}

}  // namespace

TEST_CASE("random: xoshiro256** reproduces the published reference outputs", "[sim][unit]") {
  // State {1, 2, 3, 4}: outputs of the reference C code at prng.di.unimi.it/xoshiro256starstar.c.
  Rng rng = Rng::from_state({1, 2, 3, 4});
  CHECK(rng.next_u64() == 11520ULL);
  CHECK(rng.next_u64() == 0ULL);
  CHECK(rng.next_u64() == 1509978240ULL);
  CHECK(rng.next_u64() == 1215971899390074240ULL);
}

TEST_CASE("random: splitmix64 and FNV-1a match their reference vectors", "[sim][unit]") {
  std::uint64_t state = 0;
  CHECK(splitmix64(state) == 0xe220a8397b1dcdafULL);
  CHECK(state == 0x9e3779b97f4a7c15ULL);
  CHECK(fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
}

TEST_CASE("random: golden first values of one seeded generator and one named stream",
          "[sim][unit]") {
  // Computed by an independent implementation of the documented recipe (splitmix64 seeding,
  // xoshiro256**, FNV-1a name hash); if these change, every recorded run digest changes too.
  CHECK(draw(Rng(42), 4) == std::vector<std::uint64_t>{0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL,
                                                       0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL});
  const RandomStreams streams(2024);
  CHECK(draw(streams.stream("hostB/nic0/link"), 4) ==
        std::vector<std::uint64_t>{0xf195a93c7430d3b1ULL, 0x3043203f28a7a955ULL,
                                   0x528d92a23fcbfd01ULL, 0x019fde7af4b4c0a1ULL});

  Rng u = streams.stream("hostB/nic0/link");
  std::vector<std::uint64_t> small;
  for (int i = 0; i < 5; ++i) small.push_back(u.uniform(1000));
  CHECK(small == std::vector<std::uint64_t>{943, 188, 322, 6, 678});

  Rng d = streams.stream("hostB/nic0/link");
  CHECK(d.next_double() == 0.943689896830793);
  CHECK(d.next_double() == 0.18852426092112629);

  // Bit patterns of the deterministic logarithm (not libm's), so they hold on every platform.
  Rng e = streams.stream("hostB/nic0/link");
  CHECK(e.exponential(1000.0) == 0x1.679c33abe5638p+11);
  CHECK(e.exponential(1000.0) == 0x1.a1cd3432b9295p+7);
  CHECK(e.exponential(1000.0) == 0x1.854e339dc1324p+8);
}

TEST_CASE("random: the same seed and name give the same stream", "[sim][unit]") {
  const RandomStreams a(7);
  const RandomStreams b(7);
  CHECK(a.run_seed() == 7);
  CHECK(draw(a.stream("host0/app"), 100) == draw(b.stream("host0/app"), 100));
  // Asking twice from the same object restarts the stream; it is not consumed.
  CHECK(draw(a.stream("host0/app"), 10) == draw(a.stream("host0/app"), 10));
  // Copying a generator forks an identical sequence.
  Rng r = a.stream("x");
  r.next_u64();
  Rng fork = r;
  CHECK(draw(r, 10) == draw(fork, 10));
}

TEST_CASE("random: a different name or a different seed gives a different stream", "[sim][unit]") {
  const RandomStreams s(7);
  CHECK(draw(s.stream("host0/app"), 8) != draw(s.stream("host1/app"), 8));
  CHECK(draw(s.stream("host0/app"), 8) != draw(s.stream("host0/app "), 8));
  CHECK(draw(s.stream(""), 8) != draw(s.stream("a"), 8));
  CHECK(draw(RandomStreams(7).stream("host0/app"), 8) != draw(RandomStreams(8).stream("host0/app"), 8));
  CHECK(draw(Rng(0), 8) != draw(Rng(1), 8));
}

TEST_CASE("random: adding a component's stream never changes another component's numbers",
          "[sim][unit]") {
  // Run 1 has components a and b; run 2 adds c and creates and uses it in between.
  const RandomStreams run1(99);
  Rng a1 = run1.stream("a");
  Rng b1 = run1.stream("b");
  std::vector<std::uint64_t> a_first = draw(a1, 50);
  std::vector<std::uint64_t> b_first = draw(b1, 50);

  const RandomStreams run2(99);
  Rng c2 = run2.stream("c");
  Rng a2 = run2.stream("a");
  for (int i = 0; i < 1000; ++i) c2.next_u64();
  Rng b2 = run2.stream("b");
  CHECK(draw(a2, 50) == a_first);
  CHECK(draw(b2, 50) == b_first);
}

TEST_CASE("random: uniform and uniform_range stay within their bounds and reach both ends",
          "[sim][unit]") {
  Rng rng(123);
  std::array<int, 7> hits{};
  for (int i = 0; i < 70'000; ++i) {
    const std::uint64_t v = rng.uniform(7);
    REQUIRE(v < 7);
    ++hits[v];
  }
  for (const int h : hits) {
    CHECK(h > 9'000);  // expected 10'000 each; 9'000 is over 10 sigma away
    CHECK(h < 11'000);
  }
  CHECK(rng.uniform(1) == 0);

  bool saw_lo = false;
  bool saw_hi = false;
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t v = rng.uniform_range(10, 20);
    REQUIRE(v >= 10);
    REQUIRE(v <= 20);
    saw_lo |= v == 10;
    saw_hi |= v == 20;
  }
  CHECK(saw_lo);
  CHECK(saw_hi);
  CHECK(rng.uniform_range(5, 5) == 5);
  // The full 64-bit range is allowed and does not divide by zero.
  Rng full = Rng(5);
  Rng plain = Rng(5);
  CHECK(full.uniform_range(0, UINT64_MAX) == plain.next_u64());
  // A bound just above 2^63 rejects about half of the raw draws; results stay below it.
  const std::uint64_t big = (1ULL << 63) + 1;
  for (int i = 0; i < 1000; ++i) REQUIRE(rng.uniform(big) < big);
}

TEST_CASE("random: doubles, Bernoulli draws and exponential draws have the right range and mean",
          "[sim][unit]") {
  Rng rng(2025);
  double sum = 0;
  for (int i = 0; i < 100'000; ++i) {
    const double d = rng.next_double();
    REQUIRE(d >= 0.0);
    REQUIRE(d < 1.0);
    sum += d;
  }
  CHECK(sum / 100'000 == Approx(0.5).margin(0.01));

  int trues = 0;
  for (int i = 0; i < 100'000; ++i) trues += rng.bernoulli(0.25) ? 1 : 0;
  CHECK(trues > 24'000);
  CHECK(trues < 26'000);
  for (int i = 0; i < 1000; ++i) {
    REQUIRE_FALSE(rng.bernoulli(0.0));
    REQUIRE(rng.bernoulli(1.0));
  }

  double esum = 0;
  for (int i = 0; i < 200'000; ++i) {
    const double x = rng.exponential(50.0);
    REQUIRE(x >= 0.0);
    REQUIRE(std::isfinite(x));
    esum += x;
  }
  CHECK(esum / 200'000 == Approx(50.0).epsilon(0.01));
}

TEST_CASE("random: the deterministic logarithm agrees with libm to within a few ulp",
          "[sim][unit]") {
  // exponential(1) is -ln(1 - u); compare it with std::log on the same u.
  Rng a(31337);
  Rng b(31337);
  for (int i = 0; i < 100'000; ++i) {
    const double mine = a.exponential(1.0);
    const double u = b.next_double();
    const double libm = -std::log(1.0 - u);
    REQUIRE(mine == Approx(libm).epsilon(1e-15).margin(1e-300));
  }
}
