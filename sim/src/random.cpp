#include "nicemu/sim/random.hpp"

#include <bit>

#include "nicemu/base/assert.hpp"
#include "nicemu/base/int128.hpp"

namespace nicemu::sim {

using base::u128;

std::uint64_t splitmix64(std::uint64_t& state) {
  return splitmix64_mix(state += 0x9e3779b97f4a7c15ULL);
}

std::uint64_t fnv1a_64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-64 offset basis
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV-64 prime
  }
  return h;
}

Rng::Rng(std::uint64_t seed) {
  std::uint64_t sm = seed;
  for (std::uint64_t& w : s_) w = splitmix64(sm);
}

Rng Rng::from_state(const std::array<std::uint64_t, 4>& state) {
  NICEMU_ASSERT(state[0] != 0 || state[1] != 0 || state[2] != 0 || state[3] != 0,
                "Rng::from_state: the all-zero state is a fixed point of xoshiro256**");
  Rng r;
  r.s_ = state;
  return r;
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = std::rotl(s_[3], 45);
  return result;
}

std::uint64_t Rng::uniform(std::uint64_t bound) {
  NICEMU_ASSERT(bound > 0, "Rng::uniform: the bound must be positive ([0, 0) is empty)");
  u128 m = static_cast<u128>(next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    // 2^64 mod bound: the low products below it belong to an incomplete last bucket.
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<u128>(next_u64()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::uint64_t Rng::uniform_range(std::uint64_t lo, std::uint64_t hi) {
  NICEMU_ASSERT(lo <= hi, "Rng::uniform_range: lo must not exceed hi");
  const std::uint64_t span = hi - lo;
  if (span == ~std::uint64_t{0}) return next_u64();
  return lo + uniform(span + 1);
}

double Rng::next_double() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

bool Rng::bernoulli(double p) {
  NICEMU_ASSERT(p >= 0.0 && p <= 1.0, "Rng::bernoulli: p must be within [0, 1]");
  return next_double() < p;
}

namespace {

// Natural logarithm of a normal, positive double, from +, -, *, / only (fdlibm's reduction):
// x = 2^k * m with m in [sqrt(2)/2, sqrt(2)], ln(m) = 2 atanh(s), s = (m - 1) / (m + 1),
// |s| <= 0.1716, so the odd series to s^23 is below half an ulp of ln(m).
double deterministic_log(double x) {
  constexpr std::uint64_t kExpMask = 0x7ffULL << 52;
  const auto bits = std::bit_cast<std::uint64_t>(x);
  NICEMU_ASSERT(x > 0.0 && (bits & kExpMask) != 0 && (bits & kExpMask) != kExpMask,
                "deterministic_log: argument must be a positive normal number");
  auto k = static_cast<int>((bits & kExpMask) >> 52) - 1023;
  double m = std::bit_cast<double>((bits & ~kExpMask) | (1023ULL << 52));  // [1, 2)
  if (m > 1.4142135623730951) {
    m *= 0.5;  // exact
    ++k;
  }
  const double f = m - 1.0;  // exact (Sterbenz)
  const double s = f / (2.0 + f);
  const double z = s * s;
  // 1/3 + z/5 + z^2/7 + ... + z^10/23 by Horner, smallest terms first.
  double p = 1.0 / 23.0;
  for (int n = 21; n >= 3; n -= 2) p = p * z + 1.0 / n;
  const double ln_m = 2.0 * s + 2.0 * s * z * p;
  // ln 2 split so that k * kLn2Hi is exact for |k| < 2^11 (fdlibm e_log.c constants).
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  const double dk = k;
  return dk * kLn2Hi + (ln_m + dk * kLn2Lo);
}

}  // namespace

double Rng::exponential(double mean) {
  NICEMU_ASSERT(mean > 0.0, "Rng::exponential: the mean must be positive");
  // 1 - u is exact on the 2^-53 grid and lies in (0, 1], so the logarithm is finite.
  const double one_minus_u = 1.0 - next_double();
  return -mean * deterministic_log(one_minus_u);
}

Rng RandomStreams::stream(std::string_view component_name) const {
  // Mixing the seed first keeps nearby seeds (1, 2, 3...) from giving related keys; xoring the
  // name's hash and mixing again makes the key depend on both and on nothing else.
  std::uint64_t seed_state = run_seed_;
  const std::uint64_t mixed_seed = splitmix64(seed_state);
  std::uint64_t key_state = mixed_seed ^ fnv1a_64(component_name);
  return Rng(splitmix64(key_state));
}

}  // namespace nicemu::sim
