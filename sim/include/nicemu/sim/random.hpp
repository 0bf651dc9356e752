// nicemu/sim/random.hpp — seeded, platform-independent random numbers, one stream per component.
//
// Models: the randomness of a scenario (packet sizes, arrival gaps, fault draws) as a pure
//   function of (run seed, component name), so a run is reproducible from its seed and adding
//   or removing a component never changes the numbers any other component draws.
// Not modelled: entropy from the machine (never read: DESIGN.md §5); cryptographic quality.
// Determinism: every result is bit-identical on every platform. Integers come from
//   xoshiro256** and exact integer arithmetic; doubles only from +, -, *, / on IEEE-754 values
//   (no std:: distributions, whose algorithms differ between standard libraries, and no libm
//   calls, whose last bits differ between C libraries).
// References: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2021) and
//   prng.di.unimi.it (xoshiro256**, splitmix64 seeding); Lemire, "Fast random integer
//   generation in an interval" (2019); FNV-1a (IETF draft-eastlake-fnv).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace nicemu::sim {

// splitmix64's output function: a bijection on 64-bit words that mixes every input bit into
// every output bit. Also a stateless hash of one word.
constexpr std::uint64_t splitmix64_mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// One step of splitmix64: advances `state` and returns a well-mixed 64-bit value.
std::uint64_t splitmix64(std::uint64_t& state);
// FNV-1a, 64-bit: a hash of the bytes of `s` that is fixed by its specification, unlike std::hash.
std::uint64_t fnv1a_64(std::string_view s);

// xoshiro256**. A value type: copying a generator forks an identical sequence.
class Rng {
 public:
  // The four state words are successive splitmix64 outputs from `seed`, as the xoshiro authors
  // recommend; this never yields the all-zero state.
  explicit Rng(std::uint64_t seed);
  // A generator with exactly this state (not all zero), to check against the published
  // reference outputs of xoshiro256**.
  static Rng from_state(const std::array<std::uint64_t, 4>& state);

  std::uint64_t next_u64();
  // Uniform in [0, bound), exactly unbiased (Lemire's multiply-and-reject). bound must be > 0.
  std::uint64_t uniform(std::uint64_t bound);
  // Uniform in [lo, hi], both inclusive; lo <= hi. The full range [0, 2^64-1] is allowed.
  std::uint64_t uniform_range(std::uint64_t lo, std::uint64_t hi);
  // Uniform in [0, 1) on the grid of 2^-53 (the top 53 bits of next_u64()).
  double next_double();
  // True with probability p, 0 <= p <= 1 (p = 0 never, p = 1 always). Draws one value.
  bool bernoulli(double p);
  // Exponentially distributed with the given mean > 0 (inter-arrival times of a Poisson
  // process). Inversion method with a logarithm built from basic operations; relative error
  // below 1e-15, bit-identical everywhere. Never returns infinity.
  double exponential(double mean);

 private:
  Rng() = default;
  std::array<std::uint64_t, 4> s_{};
};

// The run's source of streams. Holds only the seed, so it can be copied into every host.
class RandomStreams {
 public:
  explicit RandomStreams(std::uint64_t run_seed) : run_seed_(run_seed) {}

  // The stream for one component, e.g. "hostB/nic0/link_faults". Names must be unique within a
  // run; the same (run seed, name) always gives the same stream.
  Rng stream(std::string_view component_name) const;
  std::uint64_t run_seed() const { return run_seed_; }

 private:
  std::uint64_t run_seed_;
};

}  // namespace nicemu::sim
